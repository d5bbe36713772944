import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleFor, createTimeSkippingEnv, uniqueTaskQueue } from '../helpers';
import { markSagaStatus, sleepForADay } from '../fixtures/foundation-workflows';
import { SagaStatusKey } from '../../src/shared/search-attributes';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

describe('time-skipping test server', () => {
  it('runs a workflow that sleeps for a simulated day in a blink of wall time', async () => {
    const taskQueue = uniqueTaskQueue();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleFor('fixtures/foundation-workflows.ts'),
    });
    const { elapsedWorkflowMs, wallMs } = await worker.runUntil(async () => {
      // Warm up first: the worker's first workflow task loads the bundle into a sandbox.
      await env.client.workflow.execute(markSagaStatus, { taskQueue, workflowId: uniqueTaskQueue('warm-up'), args: ['RUNNING'] });
      const started = performance.now();
      const elapsedWorkflowMs = await env.client.workflow.execute(sleepForADay, {
        taskQueue,
        workflowId: uniqueTaskQueue('sleep'),
      });
      return { elapsedWorkflowMs, wallMs: performance.now() - started };
    });
    expect(elapsedWorkflowMs).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
    // Typically 50-200 ms; the bound leaves room for a loaded CI machine and still proves the skip
    // (without it the test would take a day).
    console.log(`a simulated day took ${wallMs.toFixed(0)} ms of wall time`);
    expect(wallMs).toBeLessThan(3000);
  });

  it('accepts the SagaStatus search attribute', async () => {
    const taskQueue = uniqueTaskQueue();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleFor('fixtures/foundation-workflows.ts'),
    });
    const status = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(markSagaStatus, { taskQueue, workflowId: uniqueTaskQueue('mark'), args: ['COMPLETED'] });
      await handle.result();
      return (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);
    });
    expect(status).toBe('COMPLETED');
  });
});
