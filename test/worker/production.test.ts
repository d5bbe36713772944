import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawnWorker, writeWorkflowBundle } from '../fixtures/chaos-processes';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { freePort } from '../../scripts/lib/ports';

// The worker process as production starts it: what it refuses, and what it says when it runs with
// payload encryption turned off on purpose.

let env: TestWorkflowEnvironment;
let dir: string;
let bundlePath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-worker-production-'));
  [env, bundlePath] = await Promise.all([createDevServerEnv(), writeWorkflowBundle(dir)]);
});

afterAll(async () => {
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const worker = (variables: Record<string, string>) =>
  spawnWorker({ address: env.address, taskQueue: uniqueTaskQueue('production'), databaseUrl: `sqlite:${join(dir, 'services.db')}`, bundlePath, env: variables });

describe('a worker in production', () => {
  it('refuses to start without SAGA_ID_SECRET and SAGA_CODEC_KEYS when NODE_ENV is not development or test', async () => {
    for (const nodeEnv of ['', 'prod', 'Production']) {
      const refusal = await worker({ NODE_ENV: nodeEnv }).catch((err: unknown) => (err as Error).message);
      expect(refusal).toMatch(/worker exited before it started/);
      expect(refusal).toContain('SAGA_ID_SECRET is missing: production');
      expect(refusal).toContain('SAGA_CODEC_KEYS is missing: production');
    }
  });

  it('logs a warning at start when SAGA_ENCRYPTION=off runs it without payload encryption', async () => {
    const started = await worker({ NODE_ENV: 'production', SAGA_ID_SECRET: randomBytes(32).toString('base64'), SAGA_ENCRYPTION: 'off' });
    try {
      expect(started.log()).toMatch(/"level":"warn".*PAYLOAD ENCRYPTION IS OFF \(SAGA_ENCRYPTION=off\)/);
      expect(started.log()).toContain('"payloadEncryption":"off"');
      // Versioned by default, with the derived build id; the first worker of the deployment made it current.
      expect(started.log()).toMatch(/"deploymentVersion":"saga-temporal:0\.3\.0-[0-9a-f]{12}"/);
      expect(started.log()).toMatch(/The deployment had no current version: saga-temporal:0\.3\.0-[0-9a-f]{12} is now current/);
    } finally {
      await started.stop();
    }
  });
});

describe('a worker with no Temporal server to talk to', () => {
  it('says in one line that it cannot reach Temporal at its address and how to start it, and exits 1', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const root = resolve(__dirname, '..', '..');
    const res = spawnSync(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'src', 'worker.ts')], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', TEMPORAL_ADDRESS: address, DATABASE_URL: `sqlite:${join(dir, 'unreachable.db')}`, WORKFLOW_BUNDLE_PATH: bundlePath },
      timeout: 60_000,
    });
    expect(res.stderr.trim().split('\n')).toEqual([`Cannot reach Temporal at ${address}: start a dev server with \`npm start\` (or the cluster with \`npm run cluster\`), or set TEMPORAL_ADDRESS to a running one.`]);
    expect(res.status).toBe(1);
  }, 90_000);
});
