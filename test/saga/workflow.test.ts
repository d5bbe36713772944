import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, typedParallelSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';
import { sagaStateQuery, type SagaFailureDetails, type SagaState } from '@saga-temporal/saga';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { applicationFailureOf, useFixtureWorker } from '../support/testbed';

const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga');

const testbed = useFixtureWorker({ server: 'time-skipping', workflows: 'fixtures/saga-workflows.ts', taskQueue, activities: recording.activities });

function start(input: ScriptedSagaInput, name = 'saga'): Promise<WorkflowHandle<typeof scriptedSaga>> {
  return testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: uniqueTaskQueue(name), args: [input] });
}

const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);

async function sagaStatusOf(handle: WorkflowHandle): Promise<string | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);
}

const detailsOf = (failure: ApplicationFailure) => failure.details?.[0] as SagaFailureDetails;

const steps = (...names: string[]) => names.map((name) => ({ name }));

describe('a saga that completes', () => {
  it('returns the results of its steps, runs no compensation and ends COMPLETED', async () => {
    const handle = await start({ stages: [{ name: 'a' }, [{ name: 'b' }, { name: 'c' }], { name: 'd', undo: 'none' }] });
    expect(await handle.result()).toEqual(['a-result', ['b-result', 'c-result'], 'd-result']);
    expect(logOf(handle).filter((e) => e.startsWith('undo'))).toEqual([]);
    expect(await sagaStatusOf(handle)).toBe('COMPLETED');
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.map((s) => [s.name, s.status, s.group, s.attempt])).toEqual([
      ['a', 'done', 0, 1],
      ['b', 'done', 1, 1],
      ['c', 'done', 1, 1],
      ['d', 'done', 2, 1],
    ]);
    expect(state.steps[0]?.summary).toBe('Do a');
    await recordHistory(handle, 'saga', 'completed');
  });

  it('returns the typed results of a parallel stage', async () => {
    const result = await testbed.env.client.workflow.execute(typedParallelSaga, { taskQueue, workflowId: uniqueTaskQueue('typed') });
    expect(result).toEqual({ first: 'first-result', second: 6 });
  });
});

describe('a failing step', () => {
  const names = ['s0', 's1', 's2', 's3'];

  it.each(names.map((_, i) => i))('at position %i undoes exactly the started steps, last first, and reports the business failure', async (position) => {
    const stages = names.map((name, i) => ({ name, mode: i === position ? ('fail' as const) : ('ok' as const) }));
    const handle = await start({ stages }, `fail-at-${position}`);
    const failure = await applicationFailureOf(handle);
    const started = names.slice(0, position + 1);
    expect(logOf(handle)).toEqual([...started.map((s) => `do:${s}`), ...[...started].reverse().map((s) => `undo:${s}`)]);
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(`s${position} failed: s${position} was declined`);
    expect(detailsOf(failure)).toEqual({ status: 'COMPENSATED', failedStep: `s${position}`, compensated: [...started].reverse(), compensationFailures: [] });
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
    if (position === 2) await recordHistory(handle, 'saga', 'failure-mid-saga');
  });

  it('leaves steps without a compensation alone', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'b', undo: 'none' }, { name: 'c', mode: 'fail' }] });
    await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'do:c', 'undo:c', 'undo:a']);
    const state = await handle.query(sagaStateQuery);
    expect(state.steps.map((s) => s.status)).toEqual(['compensated', 'done', 'compensated']);
    expect(state.failure).toEqual({ step: 'c', message: 'c was declined', type: 'PaymentDeclined' });
  });

  it('that ran but timed out is still compensated', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'slow', mode: 'timeout' }] });
    const failure = await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:slow', 'undo:slow', 'undo:a']);
    expect(failure.type).toBe('TimeoutFailure');
    const state = await handle.query(sagaStateQuery);
    expect(state.steps[1]).toMatchObject({ name: 'slow', status: 'compensated', error: { type: 'TimeoutFailure', retryState: 'MAXIMUM_ATTEMPTS_REACHED' } });
    await recordHistory(handle, 'saga', 'timed-out-step');
  });

  it('in an optional step is recorded and returned, and the saga goes on', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'mail', mode: 'fail', undo: 'none', optional: true }, { name: 'b' }] });
    expect(await handle.result()).toEqual(['a-result', { ok: false, error: 'mail was declined', type: 'PaymentDeclined' }, 'b-result']);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps[1]).toMatchObject({ name: 'mail', status: 'failed', error: { message: 'mail was declined', type: 'PaymentDeclined' } });
  });
});

describe('a failing compensation', () => {
  it('that fails and then succeeds on retry leaves the saga COMPENSATED', async () => {
    const handle = await start({ stages: [{ name: 'a', undo: 'flaky' }, { name: 'b', mode: 'fail' }] });
    const failure = await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'undo:b', 'undo-failed:a', 'undo-failed:a', 'undo:a']);
    expect(detailsOf(failure)).toMatchObject({ status: 'COMPENSATED', compensationFailures: [] });
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
    await recordHistory(handle, 'saga', 'compensation-retried');
  });

  it('keeps retrying past the total timeout the activity proxy sets for forward steps', async () => {
    const handle = await start({ stages: [{ name: 'a', undo: 'stubborn' }, { name: 'b', mode: 'fail' }] });
    await applicationFailureOf(handle);
    expect(logOf(handle).filter((e) => e.endsWith(':a'))).toEqual(['do:a', ...Array<string>(6).fill('undo-failed:a'), 'undo:a']);
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
  });

  const broken: ScriptedSagaInput['stages'] = [{ name: 'a' }, { name: 'b', undo: 'broken' }, { name: 'c', mode: 'fail' }];
  const retry = { maximumAttempts: 2, initialInterval: '1 second' };

  it('that never succeeds: by default the rest still run, the saga is COMPENSATION_FAILED and fails with the original failure', async () => {
    const handle = await start({ stages: broken, options: { compensationRetry: retry } });
    const failure = await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'do:c', 'undo:c', 'undo-failed:b', 'undo-failed:b', 'undo:a']);
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.message).toBe('c failed: c was declined');
    expect(detailsOf(failure)).toEqual({
      status: 'COMPENSATION_FAILED',
      failedStep: 'c',
      compensated: ['c', 'a'],
      compensationFailures: [{ step: 'b', message: 'b cannot be undone right now', type: 'TransientFault' }],
    });
    expect(await sagaStatusOf(handle)).toBe('COMPENSATION_FAILED');
    const state = await handle.query(sagaStateQuery);
    expect(state.steps[1]?.compensation).toMatchObject({ name: 'undo-b', status: 'failed', attempt: 1, error: { retryState: 'MAXIMUM_ATTEMPTS_REACHED' } });
    await recordHistory(handle, 'saga', 'compensation-failed');
  });

  it('that never succeeds, with continueOnCompensationFailure off, stops the unwinding there', async () => {
    const handle = await start({ stages: broken, options: { compensationRetry: retry, continueOnCompensationFailure: false } });
    const failure = await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'do:c', 'undo:c', 'undo-failed:b', 'undo-failed:b']);
    expect(detailsOf(failure)).toMatchObject({ status: 'COMPENSATION_FAILED', compensated: ['c'] });
    const state = await handle.query(sagaStateQuery);
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['a', 'skipped', 'skipped'],
      ['b', 'compensation-failed', 'failed'],
      ['c', 'compensated', 'done'],
    ]);
  });

  it('that never succeeds, with parallel compensation, does not hold the others back', async () => {
    const handle = await start({ stages: broken, options: { compensationRetry: retry, parallelCompensation: true } });
    const failure = await applicationFailureOf(handle);
    const undos = logOf(handle).filter((e) => e.startsWith('undo'));
    expect([...undos].sort()).toEqual(['undo-failed:b', 'undo-failed:b', 'undo:a', 'undo:c']);
    expect(detailsOf(failure).compensated.sort()).toEqual(['a', 'c']);
    expect(await sagaStatusOf(handle)).toBe('COMPENSATION_FAILED');
  });

  it('calls the onCompensationFailed hook, and records the hook failing instead of throwing it', async () => {
    const handle = await start({ stages: broken, options: { compensationRetry: retry }, alert: 'failing' });
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe('PaymentDeclined');
    expect(logOf(handle)).toContain('alert:b');
    const state = await handle.query(sagaStateQuery);
    expect(state.hookFailure).toEqual({ message: 'the operator mailbox bounced', type: 'MailBounced', retryState: 'NON_RETRYABLE_FAILURE' });
  });
});

describe('the onSettled hook', () => {
  it('is called once, with COMPLETED, after a saga completes', async () => {
    const handle = await start({ stages: [{ name: 'a' }], settled: 'ok' });
    await handle.result();
    expect(logOf(handle)).toEqual(['do:a', 'settled:COMPLETED']);
  });

  it('is called once, with COMPENSATED, after every compensation has run', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'b', mode: 'fail' }], settled: 'ok' });
    await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'undo:b', 'undo:a', 'settled:COMPENSATED']);
  });

  it('is called with CANCELLED after a cancelled saga unwound', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'stuck', mode: 'block' }], settled: 'ok' }, 'settled-cancel');
    await waitUntil(() => logOf(handle).includes('do:stuck'));
    await handle.cancel();
    await handle.result().catch(() => undefined);
    expect(logOf(handle).filter((e) => e.startsWith('settled'))).toEqual(['settled:CANCELLED']);
  });

  it('failing, is recorded in the state and not thrown: the saga still completes', async () => {
    const handle = await start({ stages: [{ name: 'a' }], settled: 'failing' });
    expect(await handle.result()).toEqual(['a-result']);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe('COMPLETED');
    expect(state.hookFailure).toEqual({ message: 'the settlement report bounced', type: 'MailBounced', retryState: 'NON_RETRYABLE_FAILURE' });
  });
});

describe('cancellation', () => {
  it('mid-step stops the step, undoes every started step and ends the workflow cancelled', async () => {
    const handle = await start({ stages: [{ name: 'a' }, [{ name: 'b' }, { name: 'stuck', mode: 'block' }], { name: 'c' }] }, 'cancel-step');
    await waitUntil(() => logOf(handle).includes('do:stuck'));
    const during = await handle.query(sagaStateQuery);
    expect(during.status).toBe('RUNNING');
    expect(during.steps.find((s) => s.name === 'stuck')?.status).toBe('running');
    await handle.cancel();
    const error = await handle.result().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const log = logOf(handle);
    expect(log.slice(3, 5).sort()).toEqual(['undo:b', 'undo:stuck']);
    expect(log.slice(5)).toEqual(['undo:a']);
    expect(log).not.toContain('do:c');
    expect(await sagaStatusOf(handle)).toBe('CANCELLED');
    const state: SagaState = await handle.query(sagaStateQuery);
    expect(state.status).toBe('CANCELLED');
    expect(state.failure?.type).toBe('CancelledFailure');
    await recordHistory(handle, 'saga', 'cancelled-mid-step');
  });

  it('mid-compensation does not stop the compensation', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'b', undo: 'block' }, { name: 'c', mode: 'fail' }] }, 'cancel-compensation');
    await waitUntil(() => logOf(handle).includes('undo-started:b'));
    await handle.cancel();
    // The request is recorded before the blocked compensation is let go.
    await waitUntil(async () => (await handle.fetchHistory()).events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes) ?? false);
    expect(recording.release(handle.workflowId, 'b')).toBe(true);
    const failure = await applicationFailureOf(handle);
    expect(logOf(handle)).toEqual(['do:a', 'do:b', 'do:c', 'undo:c', 'undo-started:b', 'undo:b', 'undo:a']);
    expect(failure.type).toBe('PaymentDeclined');
    expect(await sagaStatusOf(handle)).toBe('COMPENSATED');
    await recordHistory(handle, 'saga', 'cancelled-mid-compensation');
  });
});

describe('activity summaries', () => {
  it('label forward and compensating activities in the event history', async () => {
    const handle = await start({ stages: [{ name: 'a' }, { name: 'b', mode: 'fail', undo: 'none' }] });
    await applicationFailureOf(handle);
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload(e.userMetadata.summary) : undefined));
    expect(summaries).toEqual(['Do a', 'Do b', 'Undo a']);
  });
});

describe('the state query', () => {
  it('shows each step with its compensation, attempt and error', async () => {
    const handle = await start({ stages: [...steps('a'), { name: 'b', mode: 'fail' }] });
    await applicationFailureOf(handle);
    const state = await handle.query(sagaStateQuery);
    expect(state).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'b', message: 'b was declined', type: 'PaymentDeclined' },
      compensationFailures: [],
      steps: [
        { name: 'a', status: 'compensated', attempt: 1, compensation: { name: 'undo-a', status: 'done', attempt: 1 } },
        { name: 'b', status: 'compensated', attempt: 1, error: { message: 'b was declined', type: 'PaymentDeclined', retryState: 'NON_RETRYABLE_FAILURE' } },
      ],
    });
    for (const step of state.steps) {
      expect(Date.parse(step.startedAt ?? '')).not.toBeNaN();
      expect(Date.parse(step.compensation?.endedAt ?? '')).not.toBeNaN();
    }
  });
});
