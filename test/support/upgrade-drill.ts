// The upgrade drill, shared by the dev server's and the cluster's test files: a v1 worker fleet with
// 200 sagas in flight, a v2 deployed over it with `npm run deploy`, everything finished, v1 retired.
// The drill asserts as it goes; each file supplies a server and a services database.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { Context } from '@temporalio/activity';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type NativeConnection } from '@temporalio/worker';
import { resolve } from 'node:path';
import { retryCompensationUpdate, SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { createActivities, type Activities } from '../../src/activities';
import { loadWorkerConfig } from '../../src/config';
import { runDeploy } from '../../src/deploy';
import { watchRetirement } from '../../src/deployment/retirement';
import { versionKey, type DeploymentVersion } from '../../src/deployment/version';
import { describeDeployment } from '../../src/deployment/versions';
import { orderTotalCents } from '../../src/order/contract';
import { startOrder } from '../../src/order/start';
import { verifyEmailUpdate } from '../../src/registration/contract';
import { startRegistration } from '../../src/registration/start';
import type { Services } from '../../src/services';
import { createSagaWorker, VersionRetiredError } from '../../src/worker';
import { workflowPreloadModules } from '../../src/workflow-preload';
import { temporalCli } from '../../tools/temporal-binaries';
import { checkInvariants, formatReport } from '../../scripts/lib/chaos/invariants';
import { collectOutcomes, inBatches, waitForAll, waitForVerificationPhase, type OrderPlan, type RegistrationPlan, type StartedSaga } from '../../scripts/lib/chaos/workload';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { releaseTripSignal } from '../fixtures/pattern-workflows';
import { REGISTRATION_SETTLE_PATCH } from '../fixtures/upgrade-v2-interceptors';
import { bundleFor, uniqueTaskQueue } from '../helpers';
import { sampleOrder, sampleRegistration, uniqueId } from './samples';

const EventType = temporal.api.enums.v1.EventType;

/** Where the drill runs. */
export interface DrillTarget {
  client: Client;
  nativeConnection: NativeConnection;
  address: string;
  namespace: string;
  services: Services;
  databaseUrl: string;
}

/** The order steps (and one compensation) at which v1's orders are held while v2 is deployed: 20 orders at each. */
const HELD_STEPS = ['reserveStock', 'capturePayment', 'createShipment', 'sendOrderConfirmation', 'refundPayment'] as const;
const ORDERS_PER_STEP = 20;
const WAITING_REGISTRATIONS = 96;
const NEW_ORDERS = 20;

/** Holds chosen activities of v1 until the drill opens the gate, heartbeating meanwhile. */
class Gate {
  open = false;
  readonly arrived = new Set<string>();
  private release!: () => void;
  private readonly opened = new Promise<void>((r) => (this.release = r));

  openNow(): void {
    this.open = true;
    this.release();
  }

  async hold(key: string): Promise<void> {
    this.arrived.add(key);
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 1_000);
    try {
      // An attempt that times out meanwhile is cancelled here and never reaches the service.
      await Promise.race([this.opened, ctx.cancelled]);
    } finally {
      clearInterval(beat);
    }
  }
}

/**
 * v1's activities: the real ones, but held at a step for the orders of `holds`, and with a bug v2
 * fixes: deleting the account of `brokenUser` is refused, so that registration's compensation fails.
 */
function v1Activities(real: Activities, holds: ReadonlyMap<string, string>, gate: Gate, brokenUser: string): Activities {
  const wrapped: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(real) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[name] = async (...args: unknown[]) => {
      const input = args[0] as { orderId?: string; userId?: string } | undefined;
      if (input?.orderId && holds.get(input.orderId) === name && !gate.open) await gate.hold(input.orderId);
      if (name === 'deleteUser' && input?.userId === brokenUser) throw ApplicationFailure.nonRetryable(`v1 cannot delete account ${brokenUser}`, 'DeleteRefused');
      return fn(...args);
    };
  }
  return wrapped as unknown as Activities;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deploy(target: DrillTarget, taskQueue: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDeploy(argv, {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: target.address, TEMPORAL_NAMESPACE: target.namespace, TEMPORAL_TASK_QUEUE: taskQueue, SAGA_DEPLOYMENT_NAME: DEPLOYMENT },
  });
  return { code, out, err };
}

const DEPLOYMENT = 'drill';

async function versionOf(handle: WorkflowHandle): Promise<{ buildId: string | undefined; behavior: string | undefined }> {
  const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
  const behavior = info?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED ? 'pinned' : info?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE ? 'auto-upgrade' : undefined;
  return { buildId: info?.deploymentVersion?.buildId ?? undefined, behavior };
}

async function historyFacts(handle: WorkflowHandle): Promise<{ taskFailures: number; timers: number; patches: string[] }> {
  const { events } = await handle.fetchHistory();
  const list = events ?? [];
  const patches = list
    .filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED)
    .flatMap((e) => Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((p) => (p.payloads ?? []).map((x) => Buffer.from(x.data ?? new Uint8Array()).toString())));
  return {
    taskFailures: list.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).length,
    timers: list.filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED).length,
    patches,
  };
}

/** Runs the whole drill against `target`; every check is an `expect`. */
export async function upgradeDrill(target: DrillTarget, log: (line: string) => void = () => undefined): Promise<void> {
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  const run = (worker: Worker) => {
    const running = worker.run();
    workers.push({ worker, running });
    return running;
  };
  try {
    await drill(target, run, log);
  } finally {
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(workers.map((w) => w.running));
  }
}

async function drill(target: DrillTarget, run: (worker: Worker) => Promise<void>, log: (line: string) => void): Promise<void> {
  const { client, services } = target;
  const taskQueue = uniqueTaskQueue('drill');
  const tripQueue = uniqueTaskQueue('drill-trips');
  const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: target.address, TEMPORAL_NAMESPACE: target.namespace, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: target.databaseUrl, SAGA_DEPLOYMENT_NAME: DEPLOYMENT });
  const workflowsPath = resolve(__dirname, '..', '..', 'src', 'workflows.ts');
  const [v1Bundle, v2Bundle, tripBundle] = await Promise.all([
    bundleWorkflowCode({ workflowsPath, preloadModules: [...workflowPreloadModules] }),
    bundleWorkflowCode({ workflowsPath, preloadModules: [...workflowPreloadModules], workflowInterceptorModules: [resolve(__dirname, '..', 'fixtures', 'upgrade-v2-interceptors.ts')] }),
    bundleFor('fixtures/pattern-workflows.ts'),
  ]);

  // --- v1, first start of the deployment: its worker makes v1 current.
  const holds = new Map<string, string>();
  const gate = new Gate();
  const stuck = sampleRegistration({ email: `stuck.${uniqueId('u')}@bounce.test`, verificationTimeout: '1h' });
  const v1 = await createSagaWorker({ connection: target.nativeConnection, config, services, overrides: { workflowBundle: v1Bundle, activities: v1Activities(createActivities(services), holds, gate, stuck.userId) } });
  const v1Version = v1.options.workerDeploymentOptions?.version as DeploymentVersion;
  const tripWorker = (bundle: typeof tripBundle, version: DeploymentVersion) =>
    Worker.create({ connection: target.nativeConnection, namespace: target.namespace, taskQueue: tripQueue, workflowBundle: bundle, activities: createPatternActivities().activities, workerDeploymentOptions: { useWorkerVersioning: true, version, defaultVersioningBehavior: 'AUTO_UPGRADE' } });
  const v1Trips = await tripWorker(tripBundle, v1Version);
  const v1Running = [run(v1), run(v1Trips)];
  expect((await describeDeployment(client, DEPLOYMENT)).current, 'the first worker of a new deployment makes its version current').toBe(v1Version.buildId);

  // --- 200 sagas in flight on v1.
  const orders: StartedSaga[] = [];
  for (const step of HELD_STEPS) {
    for (let i = 0; i < ORDERS_PER_STEP; i++) {
      const input = step === 'refundPayment' ? sampleOrder({ shippingAddress: { name: 'Research Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' } }) : sampleOrder();
      const orderId = input.orderId as string;
      holds.set(orderId, step);
      const plan: OrderPlan = { kind: 'order', fixture: step === 'refundPayment' ? 'undeliverable' : 'visa', input: { ...input, orderId }, totalCents: orderTotalCents(input.items) };
      orders.push({ plan, handle: await startOrder(client, plan.input, { taskQueue }) });
    }
  }
  const registrations = await inBatches(Array.from({ length: WAITING_REGISTRATIONS }), 20, async (): Promise<StartedSaga> => {
    const input = sampleRegistration({ verificationTimeout: '1h' });
    const plan: RegistrationPlan = { kind: 'registration', fixture: 'verify', input };
    return { plan, handle: await startRegistration(client, input, { taskQueue }) };
  });
  const stuckSaga: StartedSaga = { plan: { kind: 'registration', fixture: 'bounce', input: stuck }, handle: await startRegistration(client, stuck, { taskQueue }) };
  const tripId = uniqueId('trip');
  const trip = await client.workflow.start('tripSaga', { taskQueue: tripQueue, workflowId: tripId, args: [{ tripId, awaitRelease: true, decisionTimeouts: { flight: '1 hour', hotel: '1 hour' } }] });

  await until(async () => gate.arrived.size, (n) => n === holds.size, 'every v1 order at its held step');
  for (const r of registrations) expect(await waitForVerificationPhase(r.handle, 90_000)).toBe('waiting');
  await until(() => stuckSaga.handle.query(sagaStateQuery), (s) => s.status === SagaStatus.COMPENSATION_FAILED, 'the bounced registration to wait for an operator');
  await until(
    () => trip.query(sagaStateQuery),
    (s) => ['flight', 'hotel'].every((name) => s.steps.some((step) => step.name === name && step.status === 'done')),
    'the trip with both children booked and waiting for its decision',
  );
  const inFlight = await client.workflow.count(`TaskQueue IN ('${taskQueue}', '${tripQueue}') AND ExecutionStatus = 'Running'`);
  expect(inFlight.count, 'sagas in flight when v2 is deployed').toBe(200);
  log(`v1 ${versionKey(v1Version)}: 200 sagas in flight`);

  // --- v2: its workers start (the deployment has a current version, so they do not take over), then the deploy.
  const v2 = await createSagaWorker({ connection: target.nativeConnection, config, services, overrides: { workflowBundle: v2Bundle } });
  const v2Version = v2.options.workerDeploymentOptions?.version as DeploymentVersion;
  expect(v2Version.buildId).not.toBe(v1Version.buildId);
  const v2Trips = await tripWorker(tripBundle, v2Version);
  void run(v2);
  void run(v2Trips);
  expect((await describeDeployment(client, DEPLOYMENT)).current, 'a new version waits for the deploy command').toBe(v1Version.buildId);

  const ramp = await deploy(target, taskQueue, 'promote', v2Version.buildId, '--ramp', '25');
  expect(ramp.code, ramp.err).toBe(0);
  expect(ramp.out).toContain(`${versionKey(v2Version)} is ramping: 25% of new sagas start on it.`);
  expect(ramp.out).toMatch(new RegExp(`${versionKey(v2Version)}\\s+ramping 25%`));
  log(ramp.out);
  const promote = await deploy(target, taskQueue, 'promote', v2Version.buildId);
  expect(promote.code, promote.err).toBe(0);
  expect(promote.out).toContain(`current ${v2Version.buildId}`);
  log(promote.out);

  // Only the orders are pinned: the deploy reports them on v1, and refuses to retire it.
  const status = await until(() => deploy(target, taskQueue, 'status'), (s) => new RegExp(`${versionKey(v1Version)}\\s+\\S+\\s+100\\s`).test(s.out), 'v1 reported with its 100 pinned orders');
  log(status.out);
  const refused = await deploy(target, taskQueue, 'retire', v1Version.buildId);
  expect(refused.code).toBe(1);
  expect(refused.err).toContain(`Refused: ${versionKey(v1Version)} still runs 100 pinned sagas`);
  expect(v1.getState()).toBe('RUNNING');

  // --- New orders run on v2, with its changed step.
  const newOrders = await inBatches(Array.from({ length: NEW_ORDERS }), 10, async (): Promise<StartedSaga> => {
    const input = sampleOrder();
    const plan: OrderPlan = { kind: 'order', fixture: 'visa', input: { ...input, orderId: input.orderId as string }, totalCents: orderTotalCents(input.items) };
    return { plan, handle: await startOrder(client, plan.input, { taskQueue }) };
  });

  // --- Finish everything: the held orders go on (on v1), codes arrive, the stuck saga is repaired, the trip decides.
  gate.openNow();
  await inBatches(registrations, 20, async ({ plan, handle }) => {
    const code = await services.mail.latestVerificationCode(plan.input.email as string);
    const answer = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code ?? '' }] });
    expect(answer.accepted).toBe(true);
  });
  await stuckSaga.handle.executeUpdate(retryCompensationUpdate, { args: [] });
  await trip.signal(releaseTripSignal);
  const all = [...orders, ...newOrders, ...registrations, stuckSaga];
  expect(await waitForAll([...all, { handle: trip }], 120_000), 'sagas still open').toEqual([]);
  await expect(trip.result()).resolves.toEqual(expect.any(Array));

  // Old orders finished on v1, unchanged (no timer), pinned; new ones on v2 with its extra wait.
  for (const { handle } of orders) {
    expect(await versionOf(handle)).toEqual({ buildId: v1Version.buildId, behavior: 'pinned' });
    expect(await historyFacts(handle)).toMatchObject({ taskFailures: 0, timers: 0 });
  }
  for (const { handle } of newOrders) {
    expect(await versionOf(handle)).toEqual({ buildId: v2Version.buildId, behavior: 'pinned' });
    expect(await historyFacts(handle)).toMatchObject({ taskFailures: 0, timers: 1 });
  }
  // Registrations moved to v2 at their next task and took its patched wait, without a determinism error.
  for (const { handle } of registrations) {
    expect(await versionOf(handle)).toEqual({ buildId: v2Version.buildId, behavior: 'auto-upgrade' });
    const facts = await historyFacts(handle);
    expect(facts.taskFailures).toBe(0);
    expect(facts.patches.some((p) => p.includes(REGISTRATION_SETTLE_PATCH))).toBe(true);
  }
  // The stuck saga was repaired on v2, whose activities have the fix.
  expect(await versionOf(stuckSaga.handle)).toEqual({ buildId: v2Version.buildId, behavior: 'auto-upgrade' });
  expect((await stuckSaga.handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
  expect((await historyFacts(trip)).taskFailures).toBe(0);

  // Nothing lost, nothing done twice. The one operator alert is the stuck saga's, on purpose.
  const report = await checkInvariants(services, await collectOutcomes(all));
  log(formatReport(report, 0));
  expect(report.violations).toEqual(['1 operator alerts: a compensation gave up']);
  expect(report.checked).toMatchObject({ sagas: 217, orders: 120, registrations: 97 });
  expect(report.statuses).toEqual({ [SagaStatus.COMPLETED]: 196, [SagaStatus.COMPENSATED]: 21 });

  // --- Retire v1: once visibility shows nothing pinned to it, the deploy command marks it and its workers stop.
  await until(() => deploy(target, taskQueue, 'status'), (s) => new RegExp(`${versionKey(v1Version)}\\s+\\S+\\s+0\\s`).test(s.out), 'v1 with nothing pinned');
  const watching = new AbortController();
  const stopped = Promise.all(
    [v1, v1Trips].map((w) => watchRetirement({ service: client.workflowService, namespace: target.namespace, version: v1Version, intervalMs: 250, signal: watching.signal }).then(() => w.shutdown())),
  );
  const retired = await deploy(target, taskQueue, 'retire', v1Version.buildId);
  expect(retired.code, retired.err).toBe(0);
  expect(retired.out).toMatch(new RegExp(`${versionKey(v1Version)}\\s+\\S+\\s+0\\s+yes`));
  await stopped;
  await Promise.all(v1Running);
  expect([v1.getState(), v1Trips.getState()]).toEqual(['STOPPED', 'STOPPED']);
  log(retired.out);

  // The temporal CLI reports the same deployment as the deploy command: the current version, the
  // versions, v1's drainage, and the retirement mark in v1's metadata.
  const executable = temporalCli();
  if (executable.type !== 'existing-path') throw new Error('the drill runs the installed temporal CLI (npm run install-temporal)');
  const cli = async (...args: string[]) => JSON.parse((await promisify(execFile)(executable.path, ['worker', 'deployment', ...args, '--address', target.address, '--namespace', target.namespace, '-o', 'json'])).stdout) as unknown;
  const ours = await describeDeployment(client, DEPLOYMENT);
  const theirs = (await cli('describe', '--name', DEPLOYMENT)) as { routingConfig: { currentVersionBuildID: string }; versionSummaries: { BuildID: string; drainageStatus: string }[] };
  expect(theirs.routingConfig.currentVersionBuildID).toBe(ours.current);
  expect(theirs.versionSummaries.map((v) => v.BuildID).sort()).toEqual(ours.versions.map((v) => v.buildId).sort());
  expect(theirs.versionSummaries.find((v) => v.BuildID === v1Version.buildId)?.drainageStatus).toBe(ours.versions.find((v) => v.buildId === v1Version.buildId)?.state);
  const listed = JSON.stringify(await cli('list'));
  expect(listed).toContain(`"name":"${DEPLOYMENT}"`);
  expect(listed).toContain(`"currentVersionBuildID":"${v2Version.buildId}"`);
  const v1Described = JSON.stringify(await cli('describe-version', '--deployment-name', DEPLOYMENT, '--build-id', v1Version.buildId));
  expect(v1Described).toContain('saga-temporal.retired');

  // A worker of the retired version started again refuses to run.
  await expect(createSagaWorker({ connection: target.nativeConnection, config, services, overrides: { workflowBundle: v1Bundle } })).rejects.toThrow(VersionRetiredError);

  watching.abort();
}
