// Checks on how an order ended, shared by the order and broker tests.
import { expect } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { sagaStateQuery, type SagaState } from '@saga-temporal/saga';
import type { orderSaga } from '../../src/order/workflow';

/** Runs an order to its failure and returns the failure's type and the saga's last state. */
export async function failureOf(handle: WorkflowHandle<typeof orderSaga>): Promise<{ type: string | undefined; message: string; state: SagaState }> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { type: (cause as ApplicationFailure).type ?? undefined, message: (cause as ApplicationFailure).message, state: await handle.query(sagaStateQuery) };
}

/** The names of the compensations that ran, first to last. */
export function compensationsRun(state: SagaState): string[] {
  return state.steps
    .filter((s) => s.compensation?.status === 'done')
    .sort((a, b) => (a.compensation!.endedAt! < b.compensation!.endedAt! ? -1 : 1))
    .map((s) => s.compensation!.name);
}
