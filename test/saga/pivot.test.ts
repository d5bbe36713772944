import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { pivotSaga, type PivotScriptStep } from '../fixtures/pattern-workflows';
import { retryStepUpdate, sagaStateQuery, SagaStatus, type SagaFailureDetails } from '@saga-temporal/saga';
import { SagaStatusKey } from '../../src/shared/search-attributes';

// The pivot on the time-skipping server: a failure before it unwinds as ever, a failure after it is
// held for an operator and never undoes anything, and a cancellation after it changes nothing.

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('saga-pivot');
const fixture = useFixtureWorker({ workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });

const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);
const start = (steps: PivotScriptStep[], name: string) => fixture.env.client.workflow.start(pivotSaga, { taskQueue, workflowId: uniqueTaskQueue(name), args: [steps] });

async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as ApplicationFailure;
}

async function waitForStuck(handle: WorkflowHandle, step: string, failures = 1): Promise<void> {
  await waitUntil(async () => {
    const state = await handle.query(sagaStateQuery);
    return state.steps.find((s) => s.name === step)?.status === 'failed' && logOf(handle).filter((e) => e === `do:${step}`).length === failures;
  });
}

describe('a failure before the pivot', () => {
  it('unwinds everything started, the failed pivot step included, and records no pivot', async () => {
    const handle = await start([{ name: 'a' }, { name: 'ship', pivot: true, mode: 'fail' }, { name: 'mail', noUndo: true }], 'pivot-before');
    const failure = await failureOf(handle);
    expect(failure.type).toBe('PaymentDeclined');
    expect((failure.details?.[0] as SagaFailureDetails).compensated).toEqual(['ship', 'a']);
    expect(logOf(handle).filter((e) => !e.startsWith('do:ship'))).toEqual(['do:a', 'undo:ship', 'undo:a']);
    const state = await handle.query(sagaStateQuery);
    expect(state.pivot).toBeUndefined();
    expect(state.steps.map((s) => [s.name, s.status, s.pivot])).toEqual([
      ['a', 'compensated', undefined],
      ['ship', 'compensated', true],
    ]);
    await recordHistory(handle, 'patterns/pivot', 'pivot-failed-before');
  });
});

describe('a failure after the pivot', () => {
  it('undoes nothing: the step waits for an operator, runs again on retryStep, and the saga completes', async () => {
    const handle = await start([{ name: 'a' }, { name: 'ship', pivot: true }, { name: 'mail', mode: 'fail-until-repaired', noUndo: true }], 'pivot-after');
    await waitForStuck(handle, 'mail');
    const stuck = await handle.query(sagaStateQuery);
    expect(stuck.status).toBe(SagaStatus.RUNNING);
    expect(stuck.pivot).toEqual({ step: 'ship', reachedAt: expect.any(String) });
    expect(stuck.steps.find((s) => s.name === 'mail')).toMatchObject({ status: 'failed', recovery: 'forward-recovery', error: { type: 'PaymentDeclined' } });
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.RUNNING);

    recording.repair(handle.workflowId, 'mail');
    const after = await handle.executeUpdate(retryStepUpdate);
    expect(after.steps.find((s) => s.name === 'mail')?.attempt).toBe(2);
    expect(await handle.result()).toEqual(['a-result', 'ship-result', 'mail-result']);
    expect(logOf(handle).filter((e) => e.startsWith('undo:'))).toEqual([]);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['a', 'done', 'pending'],
      ['ship', 'done', 'pending'],
      ['mail', 'done', undefined],
    ]);
    await recordHistory(handle, 'patterns/pivot', 'pivot-failed-after-retried');
  });

  it('keeps an optional step optional: its failure is returned, nothing is undone', async () => {
    const handle = await start([{ name: 'a' }, { name: 'ship', pivot: true }, { name: 'mail', mode: 'fail', optional: true, noUndo: true }], 'pivot-optional');
    const [, , mail] = await handle.result();
    expect(mail).toMatchObject({ ok: false, type: 'PaymentDeclined' });
    expect(logOf(handle).filter((e) => e.startsWith('undo:'))).toEqual([]);
    expect((await handle.query(sagaStateQuery)).steps[2]).toMatchObject({ status: 'failed', recovery: 'forward-recovery' });
  });
});

describe('a cancellation', () => {
  it('after the pivot undoes nothing: the held step still completes once retried, and so does the workflow', async () => {
    const handle = await start([{ name: 'a' }, { name: 'ship', pivot: true }, { name: 'mail', mode: 'fail-until-repaired', noUndo: true }], 'pivot-cancel-after');
    await waitForStuck(handle, 'mail');
    await handle.cancel();
    recording.repair(handle.workflowId, 'mail');
    await handle.executeUpdate(retryStepUpdate);
    expect(await handle.result()).toEqual(['a-result', 'ship-result', 'mail-result']);
    expect(logOf(handle).filter((e) => e.startsWith('undo:'))).toEqual([]);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    await recordHistory(handle, 'patterns/pivot', 'pivot-cancelled-after');
  });

  it('before the pivot undoes what started and ends the workflow cancelled', async () => {
    const handle = await start([{ name: 'a' }, { name: 'ship', pivot: true, mode: 'block' }, { name: 'mail', noUndo: true }], 'pivot-cancel-before');
    await waitUntil(() => logOf(handle).includes('do:ship'));
    // Nothing waits for an operator yet: the update is refused.
    await expect(handle.executeUpdate(retryStepUpdate)).rejects.toThrow(WorkflowUpdateFailedError);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(logOf(handle).filter((e) => e.startsWith('undo:'))).toEqual(['undo:ship', 'undo:a']);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
  });
});

describe('Web UI summaries', () => {
  it('name the pivot and the steps that recover forward', async () => {
    const handle = await start([{ name: 'a' }, { name: 'ship', pivot: true }, { name: 'mail', noUndo: true }], 'pivot-summaries');
    await handle.result();
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload(e.userMetadata.summary) : undefined));
    expect(summaries).toEqual(['Do a', 'Pivot: Do ship', 'Forward recovery: Do mail']);
  });
});
