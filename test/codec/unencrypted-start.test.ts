import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runCli } from '../../src/cli';
import { dataConverterFor, KeyRing } from '../../src/codec';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { livePollers } from '../../src/task-queue-guard';
import { spawnWorker, writeWorkflowBundle, type WorkerProcess } from '../fixtures/chaos-processes';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { applicationFailureOf } from '../support/testbed';
import { sampleOrder, sampleRegistration } from '../support/samples';

// An encrypting worker and a client without its keys: the client must refuse before it starts
// anything, and a saga started anyway must fail with a type of its own rather than retry its first
// workflow task for ever.

const key = randomBytes(32);
const taskQueue = uniqueTaskQueue('encrypted');
let env: TestWorkflowEnvironment;
let dir: string;
let worker: WorkerProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-unencrypted-start-'));
  const [started, bundlePath] = await Promise.all([createDevServerEnv(), writeWorkflowBundle(dir)]);
  env = started;
  worker = await spawnWorker({
    address: env.address,
    taskQueue,
    databaseUrl: `sqlite:${join(dir, 'saga.db')}`,
    bundlePath,
    env: { NODE_ENV: 'development', SAGA_CODEC_KEYS: `k1:${key.toString('base64')}` },
  });
  // The client learns about the worker from the queue's pollers: wait until the server lists it.
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if ((await livePollers(env.client.workflowService, 'default', taskQueue)).some((p) => p.identity === worker.identity)) return;
  }
  throw new Error(`the worker never polled ${taskQueue}`);
});

afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a client without the keys of an encrypting worker', () => {
  it('sees the encryption in the worker identity', () => {
    expect(worker.identity).toMatch(/^saga-worker \d+@\S+ db:[0-9a-f]{6} enc$/);
  });

  it('refuses to start a saga, saying which settings it needs, and starts nothing', async () => {
    let stderr = '';
    const orderId = `plain-${Date.now().toString(36)}`;
    const code = await runCli(
      ['order', '--order-id', orderId, '--email', 'ada@example.com', '--item', 'sku-widget:1:1999', '--token', 'tok_visa', '--name', 'Ada Lovelace', '--street', '1 Main St', '--city', 'Berlin', '--postal-code', '10115', '--country', 'DE'],
      { stdout: () => undefined, stderr: (t) => void (stderr += t), env: { NODE_ENV: 'development', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue } },
    );
    expect(code).toBe(2);
    expect(stderr).toBe(`saga-client: The workers of task queue "${taskQueue}" expect encrypted payloads: set SAGA_CODEC_KEYS or --codec-endpoint (nothing was started)\n`);
    await expect(env.client.workflow.getHandle(`order-${orderId}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it.each([
    ['order', () => startOrder(env.client, sampleOrder(), { taskQueue })],
    ['registration', () => startRegistration(env.client, sampleRegistration(), { taskQueue })],
  ] as const)('gets a saga started around that check failed with UnencryptedPayload, not retried for ever: %s', async (what, start) => {
    const handle = await start();
    const keyed = new Client({ connection: env.connection, dataConverter: dataConverterFor({ keyRing: new KeyRing([{ id: 'k1', key }]) })! });
    const failure = await applicationFailureOf(keyed.workflow.getHandle(handle.workflowId));
    expect(failure.type).toBe('UnencryptedPayload');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(`The ${what} input arrived unencrypted`);
    const { status } = await handle.describe();
    expect(status.name).toBe('FAILED');
    // Nothing ran: the input check comes before any step.
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
  }, 30_000);
});
