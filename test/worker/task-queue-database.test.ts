import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawnWorker, writeWorkflowBundle, type WorkerProcess } from '../fixtures/chaos-processes';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { checkTaskQueueDatabase, checkWorkersAcceptPlaintext, databaseFingerprint, EncryptionRequiredError, livePollers, parseWorkerIdentity, TaskQueueTakenError } from '../../src/task-queue-guard';

// Two stacks on one server: a second worker process on the same task queue must refuse when its
// database is not the first worker's (a saga's steps would run against both), and join when it is.

let env: TestWorkflowEnvironment;
let dir: string;
let bundlePath: string;
const running: WorkerProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-task-queue-'));
  [env, bundlePath] = await Promise.all([createDevServerEnv(), writeWorkflowBundle(dir)]);
});

afterAll(async () => {
  for (const worker of running) await worker.stop();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts a worker on `database` and waits until the server lists it among the queue's pollers. */
async function serving(taskQueue: string, database: string): Promise<WorkerProcess> {
  const worker = await spawnWorker({ address: env.address, taskQueue, databaseUrl: `sqlite:${join(dir, database)}`, bundlePath });
  running.push(worker);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if ((await livePollers(env.client.workflowService, 'default', taskQueue)).some((p) => p.identity === worker.identity)) return worker;
  }
  throw new Error(`worker ${worker.identity} never polled ${taskQueue}`);
}

describe('a worker joining a task queue', () => {
  it('refuses, naming the queue and the way out, when a worker on another database serves it', async () => {
    const taskQueue = uniqueTaskQueue('two-stacks');
    const first = await serving(taskQueue, 'first.db');
    expect(first.identity).toMatch(new RegExp(`^saga-worker \\d+@\\S+ db:${databaseFingerprint(`sqlite:${join(dir, 'first.db')}`)}$`));

    const refusal = await spawnWorker({ address: env.address, taskQueue, databaseUrl: `sqlite:${join(dir, 'second.db')}`, bundlePath }).then(
      (w) => {
        running.push(w);
        return 'started';
      },
      (err: unknown) => (err as Error).message,
    );
    expect(refusal).toMatch(/worker exited before it started/);
    expect(refusal).toContain(`Task queue "${taskQueue}" is served by a worker on another database (${first.identity})`);
    expect(refusal).toContain('TEMPORAL_TASK_QUEUE=');
    expect(refusal).not.toContain(dir);
  }, 120_000);

  it('joins when the worker already serving it uses the same database (scaling out)', async () => {
    const taskQueue = uniqueTaskQueue('scale-out');
    const first = await serving(taskQueue, 'shared.db');
    const second = await serving(taskQueue, 'shared.db');
    expect(second.identity).not.toBe(first.identity);
    const identities = (await livePollers(env.client.workflowService, 'default', taskQueue)).map((p) => p.identity);
    expect(identities).toEqual(expect.arrayContaining([first.identity, second.identity]));
  }, 120_000);
});

describe('a database fingerprint', () => {
  it('tells databases apart without naming them, and ignores a PostgreSQL password', () => {
    const a = databaseFingerprint('sqlite:.data/saga.db', 'host-a', '/srv/one');
    expect(a).toMatch(/^[0-9a-f]{6}$/);
    expect(databaseFingerprint('sqlite:/srv/one/.data/saga.db', 'host-a', '/elsewhere')).toBe(a);
    expect(databaseFingerprint('sqlite:.data/saga.db', 'host-a', '/srv/two')).not.toBe(a);
    expect(databaseFingerprint('sqlite:.data/saga.db', 'host-b', '/srv/one')).not.toBe(a);
    expect(databaseFingerprint('postgres://saga:one@db:5432/saga')).toBe(databaseFingerprint('postgres://other:two@db/saga'));
    expect(databaseFingerprint('postgres://saga:one@db:5432/saga')).not.toBe(databaseFingerprint('postgres://saga:one@db:5432/saga2'));
  });
});

describe('the task queue checks, on the pollers the server lists', () => {
  /** A workflow service whose task queue lists these pollers, each seen `ageMs` ago. */
  const serviceWith = (pollers: { identity: string; ageMs: number }[]) =>
    ({
      describeTaskQueue: async () => ({
        pollers: pollers.map(({ identity, ageMs }) => {
          const at = Date.now() - ageMs;
          return { identity, lastAccessTime: { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1e6 } };
        }),
      }),
    }) as unknown as Parameters<typeof livePollers>[0];
  const queue = { namespace: 'default', taskQueue: 'sagas' };

  it('reads the database and the encryption from a saga worker identity, and nothing from any other', () => {
    expect(parseWorkerIdentity('saga-worker 12@host db:ab12cd enc')).toEqual({ database: 'ab12cd', encrypted: true });
    expect(parseWorkerIdentity('saga-worker 12@host db:ab12cd')).toEqual({ database: 'ab12cd', encrypted: false });
    expect(parseWorkerIdentity('12@host')).toBeUndefined();
  });

  it('counts a worker that polled within the last 90 s, not one the server still lists after it stopped', async () => {
    const service = serviceWith([
      { identity: 'saga-worker 1@a db:aaaaaa', ageMs: 80_000 },
      { identity: 'saga-worker 2@b db:bbbbbb', ageMs: 100_000 },
    ]);
    expect((await livePollers(service, 'default', 'sagas')).map((p) => p.identity)).toEqual(['saga-worker 1@a db:aaaaaa']);
    await expect(checkTaskQueueDatabase(service, queue, 'bbbbbb')).rejects.toBeInstanceOf(TaskQueueTakenError);
    await expect(checkTaskQueueDatabase(service, queue, 'aaaaaa')).resolves.toBeUndefined();
  });

  it('leaves out pollers without a saga identity (an older release during an upgrade)', async () => {
    await expect(checkTaskQueueDatabase(serviceWith([{ identity: '7@old-host', ageMs: 0 }]), queue, 'aaaaaa')).resolves.toBeUndefined();
  });

  it('refuses a client without a codec only where a live worker encrypts', async () => {
    await expect(checkWorkersAcceptPlaintext(serviceWith([{ identity: 'saga-worker 1@a db:aaaaaa enc', ageMs: 0 }]), queue)).rejects.toBeInstanceOf(EncryptionRequiredError);
    await expect(checkWorkersAcceptPlaintext(serviceWith([{ identity: 'saga-worker 1@a db:aaaaaa enc', ageMs: 100_000 }]), queue)).resolves.toBeUndefined();
    await expect(checkWorkersAcceptPlaintext(serviceWith([{ identity: 'saga-worker 1@a db:aaaaaa', ageMs: 0 }]), queue)).resolves.toBeUndefined();
  });
});
