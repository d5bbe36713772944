import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadWorkerConfig } from '../../src/config';
import { startOrder } from '../../src/order/start';
import { createServices } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { findPostgresBin, startPostgresCluster, type TestDatabase } from '../postgres';

// The compose deployment's database wiring, run without containers: the init script of the postgres
// service on a real PostgreSQL, then the worker with the compose service's environment (hosts mapped
// to this machine) running an order against it.

const root = resolve(__dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
};
// The passwords compose requires, as a user sets them; one with quotes and a semicolon, which the
// init script must hand to PostgreSQL as data, not as SQL.
const secrets: Record<string, string> = {
  POSTGRES_SUPERUSER_PASSWORD: 'superuser-secret',
  TEMPORAL_DB_PASSWORD: "t'x; ALTER ROLE temporal SUPERUSER; --",
  SAGA_DB_PASSWORD: "s'x; DROP ROLE saga; --",
};
const interpolate = (value: string) =>
  value.replace(/\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}/g, (_m, name: string, fallback?: string) => secrets[name] ?? fallback ?? '');
const serviceEnv = (name: string) => Object.fromEntries(Object.entries(compose.services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));

const bin = findPostgresBin();
let cluster: TestDatabase;
let env: TestWorkflowEnvironment;
let dir: string;

describe.skipIf(!bin)('the compose worker on PostgreSQL', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'saga-compose-pg-'));
    cluster = await startPostgresCluster(bin as string);
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    await env?.teardown();
    await cluster?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates the temporal and saga roles and databases with the init scripts, and the worker runs an order on them', async () => {
    const admin = new URL(cluster.url);
    // In the order the image runs them: by the name they are mounted under.
    const scripts = (compose.services.postgres?.volumes ?? [])
      .filter((v) => v.includes('docker-entrypoint-initdb.d'))
      .map((v) => v.split(':'))
      .sort((a, b) => (a[1] ?? '').localeCompare(b[1] ?? ''))
      .map(([source]) => source ?? '');
    expect(scripts).toHaveLength(2);
    for (const script of scripts) {
      const init = spawnSync('sh', [join(root, script)], {
        encoding: 'utf8',
        env: { ...process.env, ...serviceEnv('postgres'), POSTGRES_USER: admin.username, PGHOST: admin.hostname, PGPORT: admin.port },
      });
      expect(init.status, `${script}: ${init.stderr}`).toBe(0);
    }

    // Temporal's role owns its two databases and holds no other power.
    const catalog = new pg.Client({ connectionString: cluster.url });
    await catalog.connect();
    try {
      const role = await catalog.query<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'temporal'",
      );
      expect(role.rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
      const owned = await catalog.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE pg_get_userbyid(datdba) = 'temporal' ORDER BY datname",
      );
      expect(owned.rows.map((r) => r.datname)).toEqual(['temporal', 'temporal_visibility']);
    } finally {
      await catalog.end();
    }

    const workerEnv = serviceEnv('worker');
    const databaseUrl = new URL(workerEnv.DATABASE_URL ?? '');
    databaseUrl.host = admin.host;
    const bundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, (await workflowBundle()).code);
    const taskQueue = uniqueTaskQueue('compose');
    const config = loadWorkerConfig({
      NODE_ENV: 'test',
      ...workerEnv,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl.toString(),
      WORKFLOW_BUNDLE_PATH: bundlePath,
    });
    const services = await createServices({ databaseUrl: config.databaseUrl, operatorEmail: config.operatorEmail });
    try {
      const worker = await createSagaWorker({ connection: env.nativeConnection, config, services });
      const result = await worker.runUntil(async () => {
        const handle = await startOrder(
          env.client,
          {
            orderId: `compose-${Date.now().toString(36)}`,
            customerId: 'c-1',
            email: 'ada@example.com',
            items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1999 }],
            payment: { token: 'tok_visa' },
            shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
          },
          { taskQueue },
        );
        return handle.result();
      });
      expect(result.status).toBe('COMPLETED');
      const owner = await services.db.get<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE schemaname = 'public' LIMIT 1");
      expect(owner?.owner).toBe(databaseUrl.username);
    } finally {
      await services.close();
    }
  });
});
