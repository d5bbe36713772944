// The server's side of the encryption check: the stored history, read past any codec, holds
// encrypted payloads and none of the clear text.
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../../../src/codec';
import { check, type UiCheck } from './browser';

/** Where to read a stored history and what must not be in it. */
export interface StoredHistoryCheckOptions {
  /** A client whose raw `workflowService` reads the history as the server stores it, past any codec. */
  client: Client;
  namespace: string;
  workflowId: string;
  runId: string;
  /** Text that must not appear anywhere in the stored history. */
  clearText: readonly string[];
  /** The codec that encrypted the payloads: decrypting the input proves the clear text was there to find. */
  codec: PayloadCodec;
}

/** Reads the workflow's raw history (every page) and checks that its payloads are encrypted and hold no clear text. */
export async function checkStoredHistory(opts: StoredHistoryCheckOptions): Promise<UiCheck[]> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const response = await opts.client.workflowService.getWorkflowExecutionHistory({
      namespace: opts.namespace,
      execution: { workflowId: opts.workflowId, runId: opts.runId },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(response.history?.events ?? []));
    nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
  } while (nextPageToken);
  const stored = Buffer.from(temporal.api.history.v1.History.encode({ events }).finish());
  const input = events.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const result = events.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes?.result?.payloads ?? [];
  const encoding = (p: temporal.api.common.v1.IPayload) => Buffer.from(p.metadata?.encoding ?? []).toString('utf8');

  const checks: UiCheck[] = [];
  await check(checks, `the server stores the workflow's input and result as ${ENCRYPTED_ENCODING} payloads`, async () => {
    if (!input.length || !result.length) throw new Error(`the history has ${input.length} input and ${result.length} result payloads`);
    const plain = [...input, ...result].map(encoding).filter((e) => e !== ENCRYPTED_ENCODING);
    if (plain.length) throw new Error(`payloads with encoding ${plain.join(', ')}`);
  });
  await check(checks, `the server's raw history (${events.length} events) holds no clear text of ${opts.clearText.map((t) => `"${t}"`).join(' or ')}`, async () => {
    // Control: the same search over the decrypted input must find every text, or finding none proves nothing.
    const decrypted = Buffer.concat((await opts.codec.decode(input)).map((p) => p.data ?? new Uint8Array()));
    const absent = opts.clearText.filter((text) => !decrypted.includes(text));
    if (absent.length) throw new Error(`control failed: the decrypted input lacks ${absent.join(', ')}`);
    const leaked = opts.clearText.filter((text) => stored.includes(text));
    if (leaked.length) throw new Error(`found ${leaked.join(', ')} in ${stored.length} bytes`);
  });
  return checks;
}
