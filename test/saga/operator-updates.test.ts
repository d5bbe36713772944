import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { markCompensatedUpdate, retryCompensationUpdate, sagaStateQuery, type SagaFailureDetails, type SagaState } from '@saga-temporal/saga';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { useFixtureWorker } from '../support/testbed';

// The Java time-skipping server implements workflow updates, so the operator's repair path is tested
// on it like the rest of the engine.

const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga-operator');

const testbed = useFixtureWorker({ server: 'time-skipping', workflows: 'fixtures/saga-workflows.ts', taskQueue, activities: recording.activities });

const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);

function start(input: ScriptedSagaInput, name: string): Promise<WorkflowHandle<typeof scriptedSaga>> {
  return testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: uniqueTaskQueue(name), args: [input] });
}

/** A saga whose compensation of `b` fails until repaired, waiting for an operator once it has given up. */
function startStuck(name: string, stages: ScriptedSagaInput['stages'] = [{ name: 'a' }, { name: 'b', undo: 'broken-until-repaired' }, { name: 'c', mode: 'fail' }]) {
  return start({ stages, options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } }, alert: 'ok' }, name);
}

async function waitForOperatorWait(handle: WorkflowHandle, alerts = 1): Promise<void> {
  await waitUntil(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_FAILED' && logOf(handle).filter((e) => e.startsWith('alert:')).length === alerts);
}

async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as ApplicationFailure;
}

async function rejectionOf(update: Promise<unknown>): Promise<Error> {
  const error = await update.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return (error as WorkflowUpdateFailedError).cause as Error;
}

const sagaStatusOf = async (handle: WorkflowHandle) => (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);

describe('a saga waiting for an operator', () => {
  it('alerts, waits in COMPENSATION_FAILED, and after a failed retry and a repaired one ends COMPENSATED', async () => {
    const handle = await startStuck('operator-retry');
    await waitForOperatorWait(handle);
    expect(await sagaStatusOf(handle)).toBe('COMPENSATION_FAILED');
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'do:c', 'undo:c', 'undo-failed:b', 'undo-failed:b', 'undo:a', 'alert:b']);

    const stillBroken = await handle.executeUpdate(retryCompensationUpdate);
    expect(stillBroken.status).toBe('COMPENSATION_FAILED');
    expect(stillBroken.steps[1]?.compensation).toMatchObject({ status: 'failed', attempt: 2 });
    await waitForOperatorWait(handle, 2);

    recording.repair(handle.workflowId, 'b');
    const repaired = await handle.executeUpdate(retryCompensationUpdate);
    expect(repaired.status).toBe('COMPENSATED');
    expect(repaired.compensationFailures).toEqual([]);
    expect(repaired.steps[1]).toMatchObject({ status: 'compensated', compensation: { status: 'done', attempt: 3 } });

    const failure = await failureOf(handle);
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.details?.[0] as SagaFailureDetails).toEqual({ status: 'COMPENSATED', failedStep: 'c', compensated: ['c', 'a', 'b'], compensationFailures: [] });
    // Only b was run again: a and c were already undone.
    expect(logOf(handle).slice(8)).toEqual(['undo-failed:b', 'undo-failed:b', 'alert:b', 'undo:b']);
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
    await recordHistory(handle, 'saga', 'operator-retry');
  });

  it('answers its state query and operator updates under the names its saga was given, and not under the default ones', async () => {
    const names = { state: 'tripState', retryCompensation: 'tripRetry', markCompensated: 'tripMarkDone', skipCompensation: 'tripSkip', retryStep: 'tripRetryStep' };
    const stages: ScriptedSagaInput['stages'] = [{ name: 'a' }, { name: 'b', undo: 'broken-until-repaired' }, { name: 'c', mode: 'fail' }];
    const handle = await start({ stages, options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' }, names }, alert: 'ok' }, 'operator-names');
    const tripState = defineQuery<SagaState>('tripState');
    await waitUntil(async () => (await handle.query(tripState)).status === 'COMPENSATION_FAILED' && logOf(handle).includes('alert:b'));

    const byDefaultQuery = await handle.query(sagaStateQuery).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    // The time-skipping server passes the workflow's refusal on as the cause of the client's error.
    expect(`${byDefaultQuery?.message} ${(byDefaultQuery?.cause as Error | undefined)?.message}`).toMatch(/did not register a handler for sagaState\. Registered queries: \[.*tripState/);
    const byDefaultName = await rejectionOf(handle.executeUpdate(markCompensatedUpdate, { args: [{ reason: 'refunded by hand' }] }));
    expect(byDefaultName.message).toBe('No registered handler for update: markCompensated');

    const state = await handle.executeUpdate(defineUpdate<SagaState, [{ reason: string }]>('tripMarkDone'), { args: [{ reason: 'refunded by hand' }] });
    expect(state).toMatchObject({ status: 'COMPENSATED', operatorNote: 'refunded by hand' });
    expect((await failureOf(handle)).details?.[0] as SagaFailureDetails).toMatchObject({ status: 'COMPENSATED' });
  });

  it('accepts markCompensated only with a reason, then keeps the note and ends COMPENSATED', async () => {
    const handle = await startStuck('operator-mark');
    await waitForOperatorWait(handle);

    const noReason = await rejectionOf(handle.executeUpdate(markCompensatedUpdate, { args: [{ reason: '  ' }] }));
    expect(noReason.message).toMatch(/needs a reason/);

    const state = await handle.executeUpdate(markCompensatedUpdate, { args: [{ reason: 'refunded by hand, ticket OPS-12' }] });
    expect(state).toMatchObject({ status: 'COMPENSATED', operatorNote: 'refunded by hand, ticket OPS-12' });

    const failure = await failureOf(handle);
    expect(failure.details?.[0] as SagaFailureDetails).toMatchObject({
      status: 'COMPENSATED',
      compensated: ['c', 'a'],
      compensationFailures: [{ step: 'b', message: 'b cannot be undone right now' }],
    });
    expect(logOf(handle)).not.toContain('undo:b');
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
    await recordHistory(handle, 'saga', 'operator-marked');
  });

  it('after a cancellation ends CANCELLED once the operator has resolved it', async () => {
    const handle = await startStuck('operator-cancelled', [{ name: 'a', undo: 'broken-until-repaired' }, { name: 'stuck', mode: 'block' }]);
    await waitUntil(() => logOf(handle).includes('do:stuck'));
    await handle.cancel();
    await waitForOperatorWait(handle);
    await handle.executeUpdate(markCompensatedUpdate, { args: [{ reason: 'released by hand' }] });
    const error = await handle.result().catch((err: unknown) => err);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(await sagaStatusOf(handle)).toBe('CANCELLED');
  });
});

describe('the operator updates', () => {
  it('are rejected while the saga is not waiting for an operator', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'stuck', mode: 'block' }] }, 'operator-early');
    await waitUntil(() => logOf(handle).includes('do:stuck'));
    const retry = await rejectionOf(handle.executeUpdate(retryCompensationUpdate));
    expect(retry.message).toMatch(/not waiting for an operator \(status RUNNING\)/);
    const mark = await rejectionOf(handle.executeUpdate(markCompensatedUpdate, { args: [{ reason: 'too early' }] }));
    expect(mark.message).toMatch(/not waiting for an operator/);
    expect((await handle.query(sagaStateQuery)).status).toBe('RUNNING');
    await handle.cancel();
    await handle.result().catch(() => undefined);
  });
});
