import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, ReplayError, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { AesGcmPayloadCodec, dataConverterFor, failureConverterPath, KeyRing, type CodecKey } from '../../src/codec';

// A history recorded with the codec on, under key id "k1" (a test-only key derived below), and
// committed: it pins the encrypted format. If a change to the codec made these payloads unreadable,
// every workflow already running in production would be stuck: this test fails first. It was
// recorded from `contactWorkflow` (test/fixtures/codec-workflows.ts), which must therefore keep
// replaying it; stored as protobuf bytes, exactly as the server returned the history.

const k1: CodecKey = { id: 'k1', key: createHash('sha256').update('saga-temporal codec test key k1').digest() };
const k2: CodecKey = { id: 'k2', key: randomBytes(32) };
const historyBytes = readFileSync(resolve(__dirname, '..', 'histories', '0.1.0', 'codec', 'contact-k1.binpb'));
const history = temporal.api.history.v1.History.decode(historyBytes);

let bundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: resolve(__dirname, '..', 'fixtures', 'codec-workflows.ts'),
    failureConverterPath,
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error },
  });
});

const started = () => history.events!.find((e) => e.workflowExecutionStartedEventAttributes)!.workflowExecutionStartedEventAttributes!;
const completed = () => history.events!.find((e) => e.workflowExecutionCompletedEventAttributes)!.workflowExecutionCompletedEventAttributes!;

describe('replaying a committed encrypted history', () => {
  it('holds no clear text: the recorded contact is only readable with the key', () => {
    for (const secret of ['ada.lovelace', 'Lovelace', 'tok_visa', 'Mailbox']) expect(historyBytes.includes(Buffer.from(secret))).toBe(false);
    expect(started().input!.payloads).toHaveLength(1);
  });

  it('decodes the recorded input and result with the key ring that holds k1', async () => {
    const codec = new AesGcmPayloadCodec([k2, k1]);
    const [input] = await codec.decode(started().input!.payloads! as Payload[]);
    expect(defaultPayloadConverter.fromPayload(input!)).toEqual({ email: 'ada.lovelace@example.com', name: 'Ada Lovelace', paymentToken: 'tok_visa_fixture' });
    const [result] = await codec.decode(completed().result!.payloads! as Payload[]);
    expect(defaultPayloadConverter.fromPayload(result!)).toEqual({
      greeting: 'Hello Ada Lovelace, we will write to ada.lovelace@example.com',
      bounce: 'Mailbox ada.lovelace@example.com does not exist',
      note: 'Call Ada Lovelace back',
      renamedTo: 'Ada King',
    });
  });

  it('replays without a determinism error with the key it was written under', async () => {
    await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: dataConverterFor({ keyRing: new KeyRing([k1]) }) }, history);
  });

  it('replays after k2 became the active key, while k1 stays in the ring', async () => {
    await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: dataConverterFor({ keyRing: new KeyRing([k2, k1]) }) }, history);
  });

  it('fails to replay once k1 has left the ring', async () => {
    const error = await Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: dataConverterFor({ keyRing: new KeyRing([k2]) }) }, history).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ReplayError);
  });
});
