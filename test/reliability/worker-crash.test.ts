import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SagaStatus } from '@saga-temporal/saga';
import { createServices, type FaultConfig, type Services } from '../../src/services';
import { checkInvariants, formatReport } from '../../scripts/lib/chaos/invariants';
import { spawnWorker, writeWorkflowBundle, type WorkerProcess } from '../fixtures/chaos-processes';
import { collectOutcomes, planWorkload, seedFromEnv, startWorkload, untilMidFlight, waitForAll, type StartedSaga } from '../../scripts/lib/chaos/workload';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';

// Workers are separate processes here, killed with SIGKILL while their sagas are mid-flight. This runs
// on the real dev server: it hands a dead worker's sticky workflow tasks to the shared queue after
// about five seconds, where the Java test server would wait forever. An activity the dead worker was
// running stops heartbeating and is retried once its heartbeat timeout (10 s) passes, well before its
// start-to-close timeout (30 s for steps, a minute for compensations) could: the histories show which
// of the two ended each attempt the dead worker left behind.

const seed = seedFromEnv();
// Every call takes a moment, so that at any instant some sagas are calling forward steps and others
// compensating.
const slow = { latencyMs: [250, 600] as const };
const faults: FaultConfig = { seed, inventory: slow, payments: slow, shipping: slow, users: slow, mail: slow };

let env: TestWorkflowEnvironment;
let dataDir: string;
let bundlePath: string;
const workers: WorkerProcess[] = [];
const opened: Services[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'worker-crash-'));
  env = await createDevServerEnv();
  bundlePath = await writeWorkflowBundle(dataDir);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await Promise.all(opened.map((s) => s.close()));
  await env?.teardown();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A scenario's own task queue, services database and workers. */
async function scenario(name: string) {
  const taskQueue = uniqueTaskQueue(name);
  const databaseUrl = `sqlite:${join(dataDir, `${name}.db`)}`;
  const services = await createServices({ databaseUrl, faults: {} });
  opened.push(services);
  const worker = async () => {
    const w = await spawnWorker({ address: env.address, taskQueue, databaseUrl, bundlePath, faults });
    workers.push(w);
    return w;
  };
  // Half the orders cannot be shipped: they fail after the capture and compensate three steps.
  const workload = planWorkload({
    orders: 24,
    registrations: 0,
    seed,
    tag: name,
    cancelRate: 0,
    orderMix: [
      ['visa', 1],
      ['undeliverable', 1],
    ],
  });
  return { taskQueue, services, worker, workload };
}

const { TIMEOUT_TYPE_HEARTBEAT } = temporal.api.enums.v1.TimeoutType;

/**
 * The timeout types that ended an activity attempt before a retry, over all the sagas' histories:
 * an attempt left behind by a dead worker ends by its heartbeat timeout, or (without heartbeats) by
 * its start-to-close timeout.
 */
async function attemptTimeouts(sagas: readonly StartedSaga[]): Promise<number[]> {
  const types: number[] = [];
  for (const { handle } of sagas) {
    for (const e of (await handle.fetchHistory()).events ?? []) {
      const type = e.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo?.timeoutType;
      if (type !== undefined && type !== null) types.push(type);
    }
  }
  return types;
}

/** How many sagas were worked on by `from` and then, after its last event, by `to`. */
async function handedOver(sagas: readonly StartedSaga[], from: WorkerProcess, to: WorkerProcess): Promise<number> {
  let count = 0;
  for (const { handle } of sagas) {
    const identities = ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
      const identity = e.workflowTaskCompletedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity;
      return identity ? [identity] : [];
    });
    if (identities.includes(from.identity) && identities.lastIndexOf(to.identity) > identities.lastIndexOf(from.identity)) count += 1;
  }
  return count;
}

describe.concurrent('a worker process killed with SIGKILL', () => {
  it('mid-saga, forward and compensating, then restarted: every saga finishes and the audit holds', async ({ expect }) => {
    const { taskQueue, services, worker, workload } = await scenario('kill-restart');
    const first = await worker();
    const started = await startWorkload(env.client, services, workload, { taskQueue });

    const inFlight = await untilMidFlight(started.sagas);
    await first.kill();
    expect(await first.exited).toBe('SIGKILL');
    expect(inFlight.forward).toBeGreaterThan(0);
    expect(inFlight.compensating).toBeGreaterThan(0);

    const second = await worker();
    const stuck = await waitForAll(started.sagas, 150_000);
    expect(stuck, second.log()).toEqual([]);
    const report = await checkInvariants(services, await collectOutcomes(started.sagas));
    console.log(`kill and restart, at the kill: ${inFlight.forward} sagas forward, ${inFlight.compensating} compensating\n${formatReport(report, seed)}`);
    expect(report.violations).toEqual([]);
    expect(report.statuses).toEqual({ [SagaStatus.COMPLETED]: expect.any(Number), [SagaStatus.COMPENSATED]: expect.any(Number) });
    expect(await handedOver(started.sagas, first, second)).toBeGreaterThan(0);
    // Recovery came from the heartbeat timeout, for every attempt the dead worker left behind.
    const timeouts = await attemptTimeouts(started.sagas);
    expect(timeouts.length).toBeGreaterThan(0);
    expect(timeouts.every((t) => t === TIMEOUT_TYPE_HEARTBEAT), `timeout types ${timeouts.join(',')}`).toBe(true);
    await second.stop();
  }, 180_000);

  it('while another worker polls the same queue: the survivor finishes every saga the dead one had started', async ({ expect }) => {
    const { taskQueue, services, worker, workload } = await scenario('kill-one-of-two');
    const [doomed, survivor] = await Promise.all([worker(), worker()]);
    let survivorExited = false;
    void survivor.exited.then(() => (survivorExited = true));
    const started = await startWorkload(env.client, services, workload, { taskQueue });

    const inFlight = await untilMidFlight(started.sagas);
    await doomed.kill();

    const stuck = await waitForAll(started.sagas, 150_000);
    expect(stuck, survivor.log()).toEqual([]);
    const report = await checkInvariants(services, await collectOutcomes(started.sagas));
    console.log(`one of two workers killed, at the kill: ${inFlight.forward} sagas forward, ${inFlight.compensating} compensating\n${formatReport(report, seed)}`);
    expect(report.violations).toEqual([]);

    // Proof of the hand-over: sagas whose history shows both workers, the dead one first.
    expect(await handedOver(started.sagas, doomed, survivor)).toBeGreaterThan(0);
    expect(survivorExited).toBe(false);
    // The bound is the type of timeout, not a wall-clock figure a loaded machine could break: the
    // heartbeat timeout (10 s) released whatever steps the dead worker held (it may have held none at
    // the instant of the kill, the survivor running them), the start-to-close one (30 s) never had to.
    const timeouts = await attemptTimeouts(started.sagas);
    expect(timeouts.every((t) => t === TIMEOUT_TYPE_HEARTBEAT), `timeout types ${timeouts.join(',')}`).toBe(true);
    await survivor.stop();
  }, 180_000);
});
