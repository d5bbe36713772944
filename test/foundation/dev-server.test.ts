import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleFor, createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { greetWorkflow } from '../fixtures/foundation-workflows';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createDevServerEnv();
});
afterAll(async () => {
  await env?.teardown();
});

describe('local dev server', () => {
  it('completes a workflow that calls an activity', async () => {
    const taskQueue = uniqueTaskQueue();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleFor('fixtures/foundation-workflows.ts'),
      activities: { greet: async (name: string) => `Hello, ${name}!` },
    });
    const result = await worker.runUntil(
      env.client.workflow.execute(greetWorkflow, { taskQueue, workflowId: uniqueTaskQueue('greet'), args: ['saga'] }),
    );
    expect(result).toBe('Hello, saga!');
  });

  it('has the SagaStatus search attribute registered', async () => {
    const res = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(res.customAttributes ?? {})).toContain('SagaStatus');
  });
});
