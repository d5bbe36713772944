import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { retryCompensationStepsUpdate, sagaStateQuery, skipCompensationUpdate } from '@saga-temporal/saga';
import { bundleFor, createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { mutationWorkerOptions } from '../support/mutation-bridge';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';

// Two operator updates that reach a waiting saga in one activation: the first is accepted, the second
// refused by its validator, and the refused one leaves no trace (no compensation run, no skip recorded).
// They arrive together when they are sent while no worker polls: the next worker's first workflow task
// carries both. A dev server, because the time-skipping server answers updates "not found" while its
// clock runs.

const recording = createRecordingActivities();
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createDevServerEnv();
});

afterAll(async () => {
  await env?.teardown();
});

async function runningWorker(taskQueue: string): Promise<{ stop: () => Promise<void> }> {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleFor('fixtures/saga-workflows.ts'), activities: recording.activities, ...mutationWorkerOptions() });
  const running = worker.run();
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

const settle = <T>(p: Promise<T>) => p.then((value) => ({ accepted: true as const, value }), (error: unknown) => ({ accepted: false as const, error }));

describe('operator updates that arrive together', () => {
  it('accept the first, refuse the second before it reaches a service', async () => {
    const taskQueue = uniqueTaskQueue('saga-together');
    const first = await runningWorker(taskQueue);
    const input: ScriptedSagaInput = {
      stages: [{ name: 'a', undo: 'broken-until-repaired' }, { name: 'b', undo: 'broken-until-repaired' }, { name: 'c', mode: 'fail' }],
      options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } },
      alert: 'ok',
    };
    const handle: WorkflowHandle<typeof scriptedSaga> = await env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: uniqueTaskQueue('order-together'), args: [input] });
    await waitUntil(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_FAILED' && recording.logOf(handle.workflowId).some((e) => e.startsWith('alert:')), 30_000);
    await first.stop();

    // c's own compensation ran in the first unwind; only what runs after the updates counts.
    const before = recording.logOf(handle.workflowId).length;
    recording.repair(handle.workflowId, 'a');
    recording.repair(handle.workflowId, 'b');
    const retry = settle(handle.executeUpdate(retryCompensationStepsUpdate, { args: [{ steps: ['a'] }] }));
    const skip = settle(handle.executeUpdate(skipCompensationUpdate, { args: [{ step: 'b', reason: 'undone by hand' }] }));
    // Both requests reach the server while nothing polls the task queue (a loaded machine is slow, not wrong).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const second = await runningWorker(taskQueue);
    try {
      const outcomes = [await retry, await skip];
      expect(outcomes.filter((o) => o.accepted)).toHaveLength(1);
      const refused = outcomes.find((o) => !o.accepted)!;
      expect(refused.error).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((refused.error as WorkflowUpdateFailedError).cause as Error).message).toMatch(/The saga is not waiting for an operator/);

      await waitUntil(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_FAILED', 30_000);
      const state = await handle.query(sagaStateQuery);
      const log = recording.logOf(handle.workflowId).slice(before);
      if (outcomes[0]!.accepted) {
        // The retry ran a's compensation; the skip of b never happened: b's compensation is still failed.
        expect(log.filter((e) => e === 'undo:a')).toHaveLength(1);
        expect(state.compensationFailures.map((f) => f.step)).toEqual(['b']);
      } else {
        // The skip of b was recorded; the retry of a never ran: no compensation reached a service.
        expect(log.filter((e) => e.startsWith('undo:'))).toEqual([]);
        expect(state.compensationFailures.map((f) => f.step)).toEqual(['a']);
      }
      await handle.terminate('test over');
    } finally {
      await second.stop();
    }
  });
});
