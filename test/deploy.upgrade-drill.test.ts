import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createServices, type Services } from '../src/services';
import { createDevServerEnv } from './helpers';
import { upgradeDrill } from './support/upgrade-drill';

// The upgrade drill on the dev server (test/support/upgrade-drill.ts): 200 sagas in flight on v1, v2
// deployed with `npm run deploy`, everything finished, v1 retired. The cluster runs the same drill in
// test/cluster.upgrade-drill.test.ts.

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

describe('a deploy with sagas in flight (dev server)', () => {
  it('finishes old orders on v1 unchanged, runs new orders on v2, upgrades registrations without a determinism error, repairs the stuck saga on v2, and retires v1 only once nothing is pinned to it', async () => {
    await upgradeDrill({ client: env.client, nativeConnection: env.nativeConnection, address: env.address, namespace: env.namespace ?? 'default', services, databaseUrl }, (line) => console.log(line));
  }, 360_000);
});
