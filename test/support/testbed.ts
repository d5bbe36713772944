import { afterAll, beforeAll, expect } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { mutationWorkerOptions } from './mutation-bridge';
import { bundleFor, createDevServerEnv, createTimeSkippingEnv, startSagaTestbed, type SagaTestbed } from '../helpers';

/**
 * The set-up of a test file that runs the sagas: starts a {@link SagaTestbed} before its tests and
 * closes it after them. The returned object's fields are filled in once `beforeAll` has run.
 */
export function useSagaTestbed(options: Parameters<typeof startSagaTestbed>[0] = {}): SagaTestbed {
  const testbed = {} as SagaTestbed;
  beforeAll(async () => {
    Object.assign(testbed, await startSagaTestbed(options));
  });
  afterAll(async () => {
    await testbed.close?.();
  });
  return testbed;
}

/** A Temporal environment and one worker running test workflows, for the engine's own tests. */
export interface FixtureWorker {
  env: TestWorkflowEnvironment;
}

/**
 * The set-up of a test file that runs test workflows (`test/fixtures/*-workflows.ts`) with test
 * activities: starts the server and a worker on `taskQueue` before its tests, stops both after them.
 * @default options.server "time-skipping"
 */
export function useFixtureWorker(options: { server?: 'time-skipping' | 'dev-server'; workflows: string; taskQueue: string; activities: object }): FixtureWorker {
  const fixture = {} as FixtureWorker;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  beforeAll(async () => {
    fixture.env = await (options.server === 'dev-server' ? createDevServerEnv() : createTimeSkippingEnv());
    worker = await Worker.create({
      connection: fixture.env.nativeConnection,
      taskQueue: options.taskQueue,
      workflowBundle: await bundleFor(options.workflows),
      activities: options.activities,
      ...mutationWorkerOptions(),
    });
    running = worker.run();
  });
  afterAll(async () => {
    if (worker) {
      worker.shutdown();
      await running;
    }
    await fixture.env?.teardown();
  });
  return fixture;
}

/** Waits for a workflow to fail and returns the application failure the client sees as its cause. */
export async function applicationFailureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}
