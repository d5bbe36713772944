import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { sagaStateQuery, type SagaFailureDetails, type SagaState } from '@saga-temporal/saga';
import { SagaStatusKey } from '../shared/search-attributes';
import type { OrderResult } from '../order/contract';

// How a saga ended, read from the client side for people: the CLI's `--wait`, the demo of `npm start`
// and the Web UI check all report sagas through these, so they agree on what an outcome says.

/** How a finished saga ended, reduced to what a person reads in a summary. */
export interface SagaOutcome {
  workflowId: string;
  /** The final saga status: `COMPLETED`, `COMPENSATED`, `CANCELLED`, `COMPENSATION_FAILED`, `FORWARD_FAILED`; `FAILED` when the saga never said. */
  status: string;
  /** One line: the result of a completed saga, or the failure that unwound it. */
  message: string;
  /** Compensations that ran to success, in the order they ran, e.g. `refundPayment`. */
  compensated: string[];
  /** The workflow's result when it completed. */
  result?: unknown;
  /** The saga's final state, when a worker answered the query. */
  state?: SagaState;
}

/** How long to wait for a worker to answer the state query of a closed saga. */
const QUERY_DEADLINE_MS = 3_000;

/** Reads a saga's state, or `undefined` if no worker answers in time (e.g. none is running). */
export async function querySagaState(client: Client, handle: WorkflowHandle): Promise<SagaState | undefined> {
  try {
    return await client.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(sagaStateQuery));
  } catch {
    return undefined;
  }
}

function compensationsDone(state: SagaState): string[] {
  return state.steps
    .filter((s) => s.compensation?.status === 'done')
    .sort((a, b) => (a.compensation?.endedAt ?? '').localeCompare(b.compensation?.endedAt ?? ''))
    .map((s) => s.compensation?.name ?? s.name);
}

function failureDetails(err: WorkflowFailedError): SagaFailureDetails | undefined {
  const details = err.cause instanceof ApplicationFailure ? err.cause.details?.[0] : undefined;
  return details && typeof details === 'object' && 'status' in details ? (details as SagaFailureDetails) : undefined;
}

/** Waits for the saga to finish and describes how it ended; never throws for a failed saga. */
export async function sagaOutcome(client: Client, handle: WorkflowHandle, describeResult: (result: unknown) => string = () => 'completed'): Promise<SagaOutcome> {
  const workflowId = handle.workflowId;
  try {
    const result = await handle.result();
    const state = await querySagaState(client, handle);
    return { workflowId, status: 'COMPLETED', message: describeResult(result), compensated: [], result, ...(state ? { state } : {}) };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const state = await querySagaState(client, handle);
    const details = failureDetails(err);
    const described = await handle.describe().catch(() => undefined);
    const status = state?.status ?? details?.status ?? described?.typedSearchAttributes.get(SagaStatusKey) ?? 'FAILED';
    const message = err.cause instanceof CancelledFailure ? 'cancelled' : (err.cause?.message ?? err.message);
    const compensated = state ? compensationsDone(state) : (details?.compensated ?? []);
    return { workflowId, status, message, compensated, ...(state ? { state } : {}) };
  }
}

/** One line for a completed order: its carrier and tracking number, and whether the confirmation went out. */
export function describeOrderResult(result: unknown): string {
  const r = result as OrderResult;
  return `shipped with ${r.carrier}, tracking ${r.trackingNumber}${r.confirmationSent ? '' : ' (confirmation e-mail not sent)'}`;
}
