import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadWorkerConfig } from '../../src/config';
import { adoptFirstVersion } from '../../src/deployment/first-version';
import { isRetired } from '../../src/deployment/retirement';
import { startOrder } from '../../src/order/start';
import { createServices, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { sampleOrder } from '../support/samples';

// The time-skipping test server implements no Worker Deployment API (it answers UNIMPLEMENTED). A
// worker versioned by default must still run there: the time-skipping tests depend on it.

let env: TestWorkflowEnvironment;
let services: Services;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'versioning-ts-'));
  env = await createTimeSkippingEnv();
  services = await createServices({ databaseUrl: `sqlite:${join(dir, 'services.db')}` });
});

afterAll(async () => {
  await services?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe('a versioned worker on the time-skipping test server', () => {
  it('finds deployments unsupported, nothing retired, and runs an order to completion', async () => {
    const version = { deploymentName: 'saga-temporal', buildId: 'ts-1' };
    await expect(adoptFirstVersion(env.client.workflowService, { namespace: 'default', version, identity: 'test', taskQueue: 'versioned-ts' })).resolves.toBe('unsupported');
    await expect(isRetired(env.client.workflowService, 'default', version)).resolves.toBe(false);

    const taskQueue = uniqueTaskQueue('versioned-ts');
    const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue });
    const worker = await createSagaWorker({ connection: env.nativeConnection, config, services, overrides: { workflowBundle: await workflowBundle() } });
    expect(worker.options.workerDeploymentOptions?.useWorkerVersioning).toBe(true);
    const result = await worker.runUntil(async () => (await startOrder(env.client, sampleOrder(), { taskQueue })).result());
    expect(result.status).toBe('COMPLETED');
  });
});
