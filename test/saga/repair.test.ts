import { describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import {
  retryCompensationStepsUpdate,
  retryCompensationUpdate,
  sagaStateQuery,
  skipCompensationUpdate,
  type SagaFailureDetails,
  type SagaState,
} from '@saga-temporal/saga';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { untilQuiet } from '../fixtures/repair-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { applicationFailureOf, useFixtureWorker } from '../support/testbed';

// Step-level repair of a saga waiting for an operator, on the time-skipping server: retry only some
// failed compensations, skip one the operator did by hand, and every request that does not fit
// refused by the update's validator, which leaves the saga and its history as they were.

const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga-repair');
const testbed = useFixtureWorker({ server: 'time-skipping', workflows: 'fixtures/saga-workflows.ts', taskQueue, activities: recording.activities });

const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);
const alertsOf = (handle: WorkflowHandle) => logOf(handle).filter((e) => e.startsWith('alert:'));

/**
 * A saga whose compensations of `a` and `b` fail until repaired, `lookup` has none, `c` fails forward
 * and is undone: it waits for an operator with two failed compensations.
 */
async function twoStuck(name: string): Promise<WorkflowHandle<typeof scriptedSaga>> {
  const input: ScriptedSagaInput = {
    stages: [{ name: 'lookup', undo: 'none' }, { name: 'a', undo: 'broken-until-repaired' }, { name: 'b', undo: 'broken-until-repaired' }, { name: 'c', mode: 'fail' }],
    options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } },
    alert: 'ok',
  };
  const handle = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: uniqueTaskQueue(name), args: [input] });
  await waitForAlerts(handle, 1);
  return handle;
}

async function waitForAlerts(handle: WorkflowHandle, alerts: number): Promise<void> {
  await waitUntil(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_FAILED' && alertsOf(handle).length === alerts);
}

async function refusal(update: Promise<unknown>): Promise<string> {
  const error = await update.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((error as WorkflowUpdateFailedError).cause as Error).message;
}

const stepOf = (state: SagaState, name: string) => state.steps.find((s) => s.name === name);
const sagaStatusOf = async (handle: WorkflowHandle) => (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const events = async (handle: WorkflowHandle): Promise<HistoryEvent[]> => (await handle.fetchHistory()).events ?? [];

const workflowTaskEvent = (e: HistoryEvent) => Boolean(e.workflowTaskScheduledEventAttributes ?? e.workflowTaskStartedEventAttributes ?? e.workflowTaskCompletedEventAttributes);

/** The updates the history holds, with their decoded arguments. */
function acceptedUpdates(history: HistoryEvent[]): { name: string; args: unknown[] }[] {
  return history.flatMap((e) => {
    const input = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (!input?.name) return [];
    return [{ name: input.name, args: (input.args?.payloads ?? []).map((p) => JSON.parse(Buffer.from(p.data!).toString('utf8')) as unknown) }];
  });
}

describe('step-level repair of a saga waiting in COMPENSATION_FAILED', () => {
  it('retries only the named step: it is undone, the other stays failed and the saga keeps waiting; a skip of the other with a reason ends it COMPENSATED', async () => {
    const handle = await twoStuck('repair-retry-skip');
    expect((await handle.query(sagaStateQuery)).compensationFailures.map((f) => f.step)).toEqual(['a', 'b']);
    const before = logOf(handle).length;

    recording.repair(handle.workflowId, 'b');
    const afterRetry = await handle.executeUpdate(retryCompensationStepsUpdate, { args: [{ steps: ['b'] }] });
    expect(afterRetry.status).toBe('COMPENSATION_FAILED');
    expect(stepOf(afterRetry, 'b')).toMatchObject({ status: 'compensated', compensation: { status: 'done', attempt: 2, operator: { action: 'retry' } } });
    expect(stepOf(afterRetry, 'a')).toMatchObject({ status: 'compensation-failed', compensation: { status: 'failed', attempt: 1 } });
    expect(afterRetry.compensationFailures.map((f) => f.step)).toEqual(['a']);
    // Only b ran; the saga is back in COMPENSATION_FAILED, which alerts again about a alone.
    await waitForAlerts(handle, 2);
    expect(logOf(handle).slice(before)).toEqual(['undo:b', 'alert:a']);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(await sagaStatusOf(handle)).toBe('COMPENSATION_FAILED');

    const reason = 'refunded by hand in the provider dashboard, ticket OPS-12';
    const afterSkip = await handle.executeUpdate(skipCompensationUpdate, { args: [{ step: 'a', reason }] });
    expect(afterSkip.status).toBe('COMPENSATED');
    expect(afterSkip.compensationFailures).toEqual([]);
    const a = stepOf(afterSkip, 'a');
    expect(a).toMatchObject({ status: 'compensated', compensation: { status: 'skipped', attempt: 1, operator: { action: 'skip', reason } } });
    // Workflow time: the skip happened after the compensation gave up.
    expect(Date.parse(a!.compensation!.operator!.at)).toBeGreaterThanOrEqual(Date.parse(a!.compensation!.endedAt!));

    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.details?.[0] as SagaFailureDetails).toEqual({
      status: 'COMPENSATED',
      failedStep: 'c',
      compensated: ['c', 'b'],
      compensationFailures: [],
      skippedCompensations: [{ step: 'a', compensation: 'undo-a', reason, at: a!.compensation!.operator!.at }],
    });
    expect(logOf(handle)).not.toContain('undo:a');
    expect(alertsOf(handle)).toHaveLength(2);
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
    expect((await handle.query(sagaStateQuery)).steps).toEqual(afterSkip.steps);

    // The history holds both requests with their arguments.
    expect(acceptedUpdates(await events(handle))).toEqual([
      { name: 'retryCompensation', args: [{ steps: ['b'] }] },
      { name: 'skipCompensation', args: [{ step: 'a', reason }] },
    ]);
    await recordHistory(handle, 'repair', 'retry-one-skip-other');
  });

  it('keeps a retried step whose compensation fails again in COMPENSATION_FAILED, one attempt further, and alerts again', async () => {
    const handle = await twoStuck('repair-retry-fails-again');
    const state = await handle.executeUpdate(retryCompensationStepsUpdate, { args: [{ steps: ['a'] }] });
    expect(state.status).toBe('COMPENSATION_FAILED');
    expect(stepOf(state, 'a')?.compensation).toMatchObject({ status: 'failed', attempt: 2, operator: { action: 'retry' } });
    expect(stepOf(state, 'b')?.compensation).toMatchObject({ status: 'failed', attempt: 1 });
    expect(state.compensationFailures.map((f) => f.step)).toEqual(['a', 'b']);
    await waitForAlerts(handle, 2);
    expect(alertsOf(handle)).toEqual(['alert:a,b', 'alert:a,b']);

    // Skipping one of two leaves the saga waiting, without a new alert; skipping the last ends it.
    const one = await handle.executeUpdate(skipCompensationUpdate, { args: [{ step: 'b', reason: 'released by hand' }] });
    expect(one.status).toBe('COMPENSATION_FAILED');
    expect(one.compensationFailures.map((f) => f.step)).toEqual(['a']);
    expect(await sagaStatusOf(handle)).toBe('COMPENSATION_FAILED');
    const last = await handle.executeUpdate(skipCompensationUpdate, { args: [{ step: 'a', reason: 'refunded by hand' }] });
    expect(last.status).toBe('COMPENSATED');
    const failure = await applicationFailureOf(handle);
    expect((failure.details?.[0] as SagaFailureDetails).skippedCompensations?.map((s) => s.step)).toEqual(['a', 'b']);
    expect(alertsOf(handle)).toHaveLength(2);
    await recordHistory(handle, 'repair', 'retry-fails-again-skip-both');
  });

  it('retries every failed compensation when retryCompensation comes without steps, as before', async () => {
    const handle = await twoStuck('repair-retry-all');
    recording.repair(handle.workflowId, 'a');
    recording.repair(handle.workflowId, 'b');
    const state = await handle.executeUpdate(retryCompensationUpdate);
    expect(state.status).toBe('COMPENSATED');
    expect(state.steps.filter((s) => s.compensation?.operator).map((s) => s.name)).toEqual(['a', 'b']);
    expect((await applicationFailureOf(handle)).details?.[0]).not.toHaveProperty('skippedCompensations');
  });
});

describe('a repair request that does not fit', () => {
  it.each([
    ['a retry of an unknown step', retryCompensationStepsUpdate, { steps: ['nope'] }, /the saga has no step "nope" \(compensations failed: a, b\)/],
    ['a retry of a step whose compensation succeeded', retryCompensationStepsUpdate, { steps: ['c'] }, /the compensation of step "c" did not fail \(it is done\)/],
    ['a retry of a step without a compensation', retryCompensationStepsUpdate, { steps: ['lookup'] }, /step "lookup" has no compensation/],
    ['a retry naming a step twice', retryCompensationStepsUpdate, { steps: ['a', 'b', 'a'] }, /step "a" is named twice/],
    ['a retry of no step', retryCompensationStepsUpdate, { steps: [] }, /steps is empty/],
    ['a skip of an unknown step', skipCompensationUpdate, { step: 'nope', reason: 'done' }, /the saga has no step "nope"/],
    ['a skip of a step whose compensation succeeded', skipCompensationUpdate, { step: 'c', reason: 'done' }, /the compensation of step "c" did not fail/],
    ['a skip with an empty reason', skipCompensationUpdate, { step: 'a', reason: '' }, /skipCompensation needs a reason/],
    ['a skip with a blank reason', skipCompensationUpdate, { step: 'a', reason: '   ' }, /skipCompensation needs a reason/],
  ] as const)('refuses %s with a clear message, leaving the state as it was and no update or command in the history', async (_, update, input, message) => {
    const handle = await twoStuck('repair-refused');
    await untilQuiet(handle);
    const state = await handle.query(sagaStateQuery);
    const history = await events(handle);
    expect(await refusal(handle.executeUpdate(update as typeof skipCompensationUpdate, { args: [input as { step: string; reason: string }] }))).toMatch(message);
    expect(await handle.query(sagaStateQuery)).toEqual(state);
    const after = await events(handle);
    expect(acceptedUpdates(after)).toEqual([]);
    // The Java test server runs the validator in a workflow task of its own, whose three events it
    // keeps; nothing of the update and no command. (The dev server keeps none: test/cli/repair.test.ts.)
    expect(after.slice(0, history.length)).toEqual(history);
    expect(after.slice(history.length).every(workflowTaskEvent)).toBe(true);
    await handle.terminate('test over');
  });

  it('refuses both updates while the saga is not waiting for an operator', async () => {
    const handle = await testbed.env.client.workflow.start(scriptedSaga, {
      taskQueue,
      workflowId: uniqueTaskQueue('repair-running'),
      args: [{ stages: [{ name: 'a' }, { name: 'stuck', mode: 'block' }], options: { onCompensationFailure: 'await-operator' } }],
    });
    await waitUntil(() => logOf(handle).includes('do:stuck'));
    expect(await refusal(handle.executeUpdate(retryCompensationStepsUpdate, { args: [{ steps: ['a'] }] }))).toMatch(/not waiting for an operator \(status RUNNING\)/);
    expect(await refusal(handle.executeUpdate(skipCompensationUpdate, { args: [{ step: 'a', reason: 'too early' }] }))).toMatch(/not waiting for an operator \(status RUNNING\)/);
    expect((await handle.query(sagaStateQuery)).status).toBe('RUNNING');
    expect(acceptedUpdates(await events(handle))).toEqual([]);
    await handle.terminate('test over');
  });
});
