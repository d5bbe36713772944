import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createServices, type Services } from '../../src/services';
import { loadWorkerConfig } from '../../src/config';
import { startOrder } from '../../src/order/start';
import { createSagaWorker } from '../../src/worker';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { sampleOrder } from '../support/samples';
import { upgradeDrill } from '../support/upgrade-drill';

// The upgrade drill on the dev server (test/support/upgrade-drill.ts): 200 sagas in flight on v1, v2
// deployed with `npm run deploy`, everything finished, v1 retired. The cluster runs the same drill in
// test/cluster/upgrade-drill.test.ts.

let env: TestWorkflowEnvironment;
let services: Services;
let dataDir: string;
let databaseUrl: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'drill-'));
  databaseUrl = `sqlite:${join(dataDir, 'services.db')}`;
  env = await createDevServerEnv();
  services = await createServices({ databaseUrl });
}, 120_000);

afterAll(async () => {
  await services?.close();
  await env?.teardown();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('an unversioned worker (SAGA_WORKER_VERSIONING=false)', () => {
  it('runs an order to completion: the sagas declare their versioning behaviour only to versioned workers', async () => {
    const taskQueue = uniqueTaskQueue('unversioned');
    // A database of its own: the drill's invariants count every order in the drill's database.
    const ownDatabase = `sqlite:${join(dataDir, 'unversioned.db')}`;
    const ownServices = await createServices({ databaseUrl: ownDatabase });
    try {
      const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: ownDatabase, SAGA_WORKER_VERSIONING: 'false' });
      const worker = await createSagaWorker({ connection: env.nativeConnection, config, services: ownServices, overrides: { workflowBundle: await workflowBundle() } });
      expect(worker.options.workerDeploymentOptions).toBeUndefined();
      const result = await worker.runUntil(async () => (await startOrder(env.client, sampleOrder(), { taskQueue })).result());
      expect(result.status).toBe('COMPLETED');
    } finally {
      await ownServices.close();
    }
  }, 120_000);
});

describe('a deploy with sagas in flight (dev server)', () => {
  it('finishes old orders on v1 unchanged, runs new orders on v2, upgrades registrations without a determinism error, repairs the stuck saga on v2, and retires v1 only once nothing is pinned to it', async () => {
    await upgradeDrill({ client: env.client, nativeConnection: env.nativeConnection, address: env.address, namespace: env.namespace ?? 'default', services, databaseUrl }, (line) => console.log(line));
  }, 360_000);
});
