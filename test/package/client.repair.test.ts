import { describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { SagaClient, SagaClientUsageError, SagaNotFoundError, SagaUpdateRejectedError } from '@saga-temporal/saga/client';
import { uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';
import { useFixtureWorker } from '../support/testbed';

// The operator helper's step-level repair against a real dev server, with sagas that use their own
// handler names, as a project with its own naming would run them.

const names = { state: 'shopSagaState', retryCompensation: 'shopRetryCompensation', markCompensated: 'shopMarkCompensated', skipCompensation: 'shopSkipCompensation' };
const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga-client-repair');
const testbed = useFixtureWorker({ server: 'dev-server', workflows: 'fixtures/saga-workflows.ts', taskQueue, activities: recording.activities });
const sagas = () => new SagaClient(testbed.env.client, { names, queryTimeoutMs: 1500 });

/** A saga whose compensations of `broken` fail until repaired (`c` fails forward), waiting for an operator. */
async function stuck(broken: ('a' | 'b')[] = ['a', 'b']): Promise<string> {
  const workflowId = uniqueTaskQueue('client-repair');
  const undo = (step: 'a' | 'b') => (broken.includes(step) ? 'broken-until-repaired' : 'ok');
  const input: ScriptedSagaInput = {
    stages: [{ name: 'a', undo: undo('a') }, { name: 'b', undo: undo('b') }, { name: 'c', mode: 'fail' }],
    options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' }, names },
  };
  await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId, args: [input] });
  await waitUntil(async () => (await sagas().state(workflowId)).status === 'COMPENSATION_FAILED', 20_000);
  return workflowId;
}

async function rejection(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('SagaClient step-level repair', () => {
  it('retries only the given steps through the renamed update and answers with the state after the round', async () => {
    const workflowId = await stuck();
    recording.repair(workflowId, 'b');
    const state = await sagas().retryCompensation(workflowId, { steps: ['b'] });
    expect(state?.status).toBe('COMPENSATION_FAILED');
    expect(state?.compensationFailures.map((f) => f.step)).toEqual(['a']);
    expect(state?.steps.find((s) => s.name === 'b')?.compensation).toMatchObject({ status: 'done', operator: { action: 'retry' } });
    await testbed.env.client.workflow.getHandle(workflowId).terminate('test over');
  });

  it('skips a compensation with a reason, keeps the saga waiting while another failed, and ends it COMPENSATED with the last', async () => {
    const workflowId = await stuck();
    const first = await sagas().skipCompensation(workflowId, 'a', 'refunded by hand, ticket 42');
    expect(first.status).toBe('COMPENSATION_FAILED');
    expect(first.steps.find((s) => s.name === 'a')?.compensation).toMatchObject({ status: 'skipped', operator: { action: 'skip', reason: 'refunded by hand, ticket 42' } });
    const last = await sagas().skipCompensation(workflowId, 'b', 'released by hand');
    expect(last).toMatchObject({ status: 'COMPENSATED', compensationFailures: [] });
  });

  it('throws SagaUpdateRejectedError with the saga\'s reason, naming the renamed update', async () => {
    const workflowId = await stuck(['a']);
    const skip = await rejection(sagas().skipCompensation(workflowId, 'b', 'done by hand'));
    expect(skip).toBeInstanceOf(SagaUpdateRejectedError);
    expect(skip).toMatchObject({ workflowId, update: names.skipCompensation });
    expect((skip as SagaUpdateRejectedError).reason).toMatch(/the compensation of step "b" did not fail \(it is done\)/);
    const retry = await rejection(sagas().retryCompensation(workflowId, { steps: ['nope'] }));
    expect(retry).toBeInstanceOf(SagaUpdateRejectedError);
    expect((retry as SagaUpdateRejectedError).reason).toMatch(/the saga has no step "nope"/);
    await testbed.env.client.workflow.getHandle(workflowId).terminate('test over');
  });

  it('throws SagaUpdateRejectedError for a refused retry with wait: false too, instead of reporting it accepted', async () => {
    const workflowId = uniqueTaskQueue('client-running');
    const handle: WorkflowHandle = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId, args: [{ stages: [{ name: 'a', mode: 'block' }], options: { names } }] });
    await waitUntil(() => recording.logOf(workflowId).includes('do:a'));
    const error = await rejection(sagas().retryCompensation(workflowId, { wait: false }));
    expect(error).toBeInstanceOf(SagaUpdateRejectedError);
    expect((error as Error).message).toMatch(/not waiting for an operator \(status RUNNING\)/);
    await handle.terminate('test over');
  });

  it.each([
    ['an empty step list', () => sagas().retryCompensation('no-such-saga', { steps: [] })],
    ['a step named twice', () => sagas().retryCompensation('no-such-saga', { steps: ['a', 'a'] })],
    ['a blank step', () => sagas().retryCompensation('no-such-saga', { steps: [' '] })],
    ['a skip without a step', () => sagas().skipCompensation('no-such-saga', ' ', 'done')],
    ['a skip without a reason', () => sagas().skipCompensation('no-such-saga', 'a', '  ')],
  ])('refuses %s with SagaClientUsageError before calling the server', async (_, call) => {
    expect(await rejection(call())).toBeInstanceOf(SagaClientUsageError);
  });

  it('throws SagaNotFoundError for a skip of a workflow nobody started', async () => {
    expect(await rejection(sagas().skipCompensation('no-such-saga', 'a', 'done'))).toBeInstanceOf(SagaNotFoundError);
  });
});
