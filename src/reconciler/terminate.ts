import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodeArrayFromPayloads, encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { KeptEffects } from './contract';

// Terminating a saga from the operator's side. The keep-effects record travels in the termination
// itself (the event's details): it exists exactly when the termination does, so no reconciler can see a
// terminated saga without it, and it stays with the saga's history for as long as the history is kept.

/** Thrown when a terminate is asked without a reason, or a keep-effects without who takes them over. */
export class TerminateUsageError extends Error {
  override readonly name = 'TerminateUsageError';
}

/** Options of {@link terminateSaga}. */
export interface TerminateOptions {
  /** Why the saga is terminated; recorded in its history. */
  reason: string;
  /** The run to terminate. @default the latest */
  runId?: string;
  /** Set when the operator takes the saga's effects over by hand: who. The reconciler then leaves it. @default unset: the reconciler undoes it */
  keepEffectsBy?: string;
}

/**
 * Terminates a saga: its workflow code gets no chance to unwind, so the reconciler undoes what stands
 * (or, with `keepEffectsBy`, leaves it to that operator, recorded in the termination's details).
 * Throws {@link TerminateUsageError} before contacting the server when the reason or the name is blank.
 */
export async function terminateSaga(client: Client, workflowId: string, options: TerminateOptions): Promise<{ runId: string }> {
  if (options.reason.trim() === '') throw new TerminateUsageError('terminate needs a reason');
  if (options.keepEffectsBy !== undefined && options.keepEffectsBy.trim() === '') throw new TerminateUsageError('--keep-effects needs who takes the effects over (--by)');
  const runId = options.runId ?? (await client.workflow.getHandle(workflowId).describe()).runId;
  const kept: KeptEffects | undefined = options.keepEffectsBy === undefined ? undefined : { keepEffects: true, by: options.keepEffectsBy, reason: options.reason };
  const details = kept ? await encodeToPayloads(client.options.loadedDataConverter, kept) : undefined;
  await client.workflowService.terminateWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId },
    reason: kept ? `Effects kept by ${kept.by}: ${kept.reason}` : options.reason,
    ...(details ? { details: { payloads: details } } : {}),
    identity: client.options.identity,
    firstExecutionRunId: '',
  });
  return { runId };
}

/** How a terminated saga was terminated: the reason, who, and the keep-effects record if any. Undefined when it was not terminated. */
export async function readTermination(client: Client, workflowId: string, runId?: string): Promise<{ reason: string; identity: string; kept?: KeptEffects } | undefined> {
  const handle = client.workflow.getHandle(workflowId, runId);
  let history;
  try {
    history = await handle.fetchHistory();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const terminated = history.events?.at(-1)?.workflowExecutionTerminatedEventAttributes;
  if (!terminated) return undefined;
  const [details] = terminated.details?.payloads?.length ? await decodeArrayFromPayloads(client.options.loadedDataConverter, terminated.details.payloads) : [];
  const record = details as Partial<KeptEffects> | undefined;
  const kept = record?.keepEffects === true && typeof record.by === 'string' && typeof record.reason === 'string' ? { keepEffects: true as const, by: record.by, reason: record.reason } : undefined;
  return { reason: terminated.reason ?? '', identity: terminated.identity ?? '', ...(kept ? { kept } : {}) };
}
