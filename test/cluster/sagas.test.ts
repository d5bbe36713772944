import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { freeClusterPortBlock, startCluster, type Cluster } from '../../tools/cluster';
import { dataConverterFor, loadCodecConfig } from '../../src/codec';
import { SagaStatus } from '@saga-temporal/saga';
import { createServices, type FaultConfig, type Services } from '../../src/services';
import { checkInvariants, formatReport } from '../../scripts/lib/chaos/invariants';
import { spawnWorker, writeWorkflowBundle, type WorkerProcess } from '../fixtures/chaos-processes';
import {
  collectOutcomes,
  countInjectedFaults,
  planWorkload,
  seedFromEnv,
  startWorkload,
  untilMidFlight,
  waitForAll,
  type OrderFixture,
  type RegistrationFixture,
  type StartedSaga,
  type Workload,
} from '../../scripts/lib/chaos/workload';
import { chromiumPath } from '../../scripts/lib/webui/browser';
import { checkRepairInUi } from '../../scripts/lib/webui/repair-orders';
import { stuckOrders } from '../../scripts/lib/webui/stuck-orders';
import { uniqueTaskQueue, workflowBundle } from '../helpers';
import { createDatabaseOn, findPostgresBin, type TestDatabase } from '../postgres';

// The sagas on the production topology of the Temporal server: PostgreSQL for persistence and
// visibility, two history hosts sharing the shards, matching, frontend and the internal worker as
// separate processes (tools/cluster, as `npm run cluster` runs it), payload encryption on. Each
// scenario has its own task queue and its own services database on the cluster's PostgreSQL.
//
// The server is built with Go on first use (`install-temporal --cluster`: minutes the first time,
// stamped afterwards), hence the long hook timeout.

const root = resolve(__dirname, '..', '..');
const seed = seedFromEnv();
const ORDERS = 200;
const REGISTRATIONS = 50;

let cluster: Cluster;
let client: Client;
let dataDir: string;
const databases: TestDatabase[] = [];
const opened: Services[] = [];
const workers: WorkerProcess[] = [];


/** A fresh services database on the cluster's PostgreSQL, and services on it (faults only where the test injects them). */
async function servicesDatabase(faults: FaultConfig = {}): Promise<{ url: string; services: Services }> {
  const database = await createDatabaseOn(cluster.postgresUrl);
  databases.push(database);
  const services = await createServices({ databaseUrl: database.url, faults, operatorEmail: 'ops@saga.test' });
  opened.push(services);
  return { url: database.url, services };
}

/** A saga worker in this process, with the cluster's payload codec. */
async function inProcessWorker(services: Services, taskQueue: string) {
  const connection = await NativeConnection.connect({ address: cluster.address });
  const dataConverter = dataConverterFor(loadCodecConfig({ SAGA_CODEC_KEYS: cluster.secrets.codecKeys }));
  const worker = await Worker.create({
    connection,
    namespace: cluster.namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(services),
    maxConcurrentActivityTaskExecutions: 200,
    ...(dataConverter ? { dataConverter } : {}),
  });
  const running = worker.run();
  return {
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

beforeAll(async () => {
  const install = spawnSync(process.execPath, [join(root, 'scripts', 'install-temporal.mjs'), '--quiet', '--cluster'], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (install.status !== 0) throw new Error(`the cluster's binaries could not be installed: ${install.stderr.trim()}`);
  if (!findPostgresBin()) throw new Error('the cluster suite needs the PostgreSQL server binaries (apt-get install postgresql)');
  dataDir = mkdtempSync(join(tmpdir(), 'saga-cluster-'));
  // The PostgreSQL server runs as the postgres user when the tests run as root: let it in.
  chmodSync(dataDir, 0o755);
  const frontendPort = await freeClusterPortBlock();
  cluster = await startCluster({ dataDir, frontendPort, uiPort: frontendPort + 91, historyHosts: 2, fast: true });
  // Worker processes spawned below inherit it: encryption on everywhere.
  process.env.SAGA_CODEC_KEYS = cluster.secrets.codecKeys;
  const dataConverter = dataConverterFor(loadCodecConfig({ SAGA_CODEC_KEYS: cluster.secrets.codecKeys }));
  client = new Client({ connection: await Connection.connect({ address: cluster.address }), namespace: cluster.namespace, ...(dataConverter ? { dataConverter } : {}) });
}, 40 * 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await client?.connection.close();
  await Promise.all(opened.map((s) => s.close()));
  for (const database of databases) await database.drop().catch(() => undefined);
  await cluster?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

/** One plan per fixture: every business outcome the fixtures table describes. */
function everyFixture(tag: string): Workload {
  const orderFixtures: OrderFixture[] = ['visa', 'flaky', 'declined', 'soldout', 'limited', 'undeliverable', 'bounce'];
  const registrationFixtures: RegistrationFixture[] = ['verify', 'wrong-codes', 'expire', 'bounce', 'cancel'];
  const orders = orderFixtures.flatMap((fixture, i) => planWorkload({ orders: 1, registrations: 0, seed: seed + i, tag: `${tag}-${fixture}`, cancelRate: 0, orderMix: [[fixture, 1]] }).orders);
  const cancelled = planWorkload({ orders: 1, registrations: 0, seed, tag: `${tag}-cancel`, cancelRate: 1, maxCancelDelayMs: 0, orderMix: [['visa', 1]] }).orders;
  const registrations = registrationFixtures.flatMap(
    (fixture, i) => planWorkload({ orders: 0, registrations: 1, seed: seed + i, tag: `${tag}-${fixture}`, registrationMix: [[fixture, 1]] }).registrations,
  );
  return { seed, orders: [...orders, ...cancelled], registrations };
}

function listByStatus(status: string): { workflowId: string; sagaStatus: string | null }[] {
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'client.ts'), 'list', '--status', status, '--limit', '500', '--json'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...cluster.workerEnv },
  });
  if (res.status !== 0) throw new Error(`list --status ${status} exited ${res.status}: ${res.stderr}`);
  return JSON.parse(res.stdout) as { workflowId: string; sagaStatus: string | null }[];
}

describe('the sagas on the Temporal cluster (PostgreSQL, separate services, encryption on)', () => {
  it('end every fixture of the fixtures table as on the dev server, and list --status finds them by SagaStatus', async () => {
    const { services } = await servicesDatabase();
    const taskQueue = uniqueTaskQueue('cluster-fixtures');
    const worker = await inProcessWorker(services, taskQueue);
    try {
      const workload = everyFixture(`f${seed}`);
      const started = await startWorkload(client, services, workload, { taskQueue });
      await started.driven;
      expect(await waitForAll(started.sagas, 120_000)).toEqual([]);
      const outcomes = await collectOutcomes(started.sagas);
      const report = await checkInvariants(services, outcomes);
      console.log(`cluster, fixtures table:\n${formatReport(report, seed)}`);
      expect(report.violations).toEqual([]);
      expect(report.checked).toMatchObject({ orders: 8, registrations: 5 });
      for (const status of [SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED]) expect(report.statuses[status] ?? 0).toBeGreaterThan(0);

      // Visibility on PostgreSQL: the CLI's SagaStatus query sees each saga under its final status.
      for (const status of [SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED]) {
        const expected = outcomes.filter((o) => o.state?.status === status).map((o) => o.workflowId);
        const deadline = Date.now() + 30_000;
        let listed: string[] = [];
        while (Date.now() < deadline) {
          const rows = listByStatus(status);
          expect(rows.every((row) => row.sagaStatus === status)).toBe(true);
          listed = rows.map((row) => row.workflowId);
          if (expected.every((id) => listed.includes(id))) break;
          await new Promise((r) => setTimeout(r, 1_000));
        }
        expect(listed).toEqual(expect.arrayContaining(expected));
        const others = outcomes.filter((o) => o.state?.status !== status).map((o) => o.workflowId);
        expect(listed.filter((id) => others.includes(id))).toEqual([]);
      }

      // What the server stores is ciphertext: a client without the keys sees only encrypted payloads.
      const blind = new Client({ connection: client.connection, namespace: cluster.namespace });
      const history = await blind.workflow.getHandle(started.sagas[0]!.handle.workflowId).fetchHistory();
      const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(Buffer.from(input?.metadata?.encoding ?? new Uint8Array()).toString()).toBe('binary/encrypted');
    } finally {
      await worker.stop();
    }
  }, 300_000);

  it(`keep every invariant through injected faults while a history host and a matching host are SIGKILLed and the frontend restarts (${ORDERS} orders, ${REGISTRATIONS} registrations)`, async () => {
    const everyService = { transientErrorRate: 0.08, lostReplyRate: 0.04, latencyMs: [0, 40] as const };
    const faults: FaultConfig = { seed, inventory: everyService, payments: everyService, shipping: everyService, users: everyService, mail: everyService };
    const { services } = await servicesDatabase(faults);
    const injected = countInjectedFaults(services.faults);
    const taskQueue = uniqueTaskQueue('cluster-chaos');
    const worker = await inProcessWorker(services, taskQueue);
    const began = Date.now();
    const kills: string[] = [];
    try {
      const workload = planWorkload({ orders: ORDERS, registrations: REGISTRATIONS, seed, tag: `k${seed}` });
      const started = await startWorkload(client, services, workload, { taskQueue });

      // Mid-run: the shards of the dead history host move to the other one, the dead matching host's
      // task queue partitions are reloaded, the frontend's clients reconnect.
      const { count: openAtKill } = await client.workflow.count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`);
      await cluster.kill('history-1');
      kills.push('history-1 SIGKILL');
      await new Promise((r) => setTimeout(r, 3_000));
      await cluster.start('history-1');
      await cluster.kill('matching');
      kills.push('matching SIGKILL');
      await new Promise((r) => setTimeout(r, 3_000));
      await cluster.start('matching');
      await cluster.restart('frontend');
      kills.push('frontend restart');

      await started.driven;
      const stuck = await waitForAll(started.sagas, 300_000);
      expect(stuck, 'sagas still open after the run').toEqual([]);
      const report = await checkInvariants(services, await collectOutcomes(started.sagas));
      const seconds = Math.round((Date.now() - began) / 1000);
      console.log(`cluster chaos run: ${ORDERS + REGISTRATIONS} sagas in ${seconds} s, ${openAtKill} open at the first kill; kills: ${kills.join(', ')}\n${formatReport(report, seed, { ...injected })}`);
      expect(openAtKill).toBeGreaterThan(0);
      expect(report.violations).toEqual([]);
      expect(report.checked).toMatchObject({ sagas: ORDERS + REGISTRATIONS, orders: ORDERS, registrations: REGISTRATIONS });
      for (const status of [SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED]) expect(report.statuses[status] ?? 0).toBeGreaterThan(0);
      expect(injected.transient).toBeGreaterThan(0);
      expect(injected.lostReplies).toBeGreaterThan(0);
    } finally {
      await worker.stop();
    }
  }, 600_000);

  it('hand the sagas of a saga worker SIGKILLed mid-saga to the other worker polling the same queue', async () => {
    const slow = { latencyMs: [250, 600] as const };
    const faults: FaultConfig = { seed, inventory: slow, payments: slow, shipping: slow, users: slow, mail: slow };
    const { url, services } = await servicesDatabase();
    const taskQueue = uniqueTaskQueue('cluster-workers');
    const bundlePath = await writeWorkflowBundle(dataDir);
    const spawn = async () => {
      const w = await spawnWorker({ address: cluster.address, taskQueue, databaseUrl: url, bundlePath, faults });
      workers.push(w);
      return w;
    };
    const [doomed, survivor] = await Promise.all([spawn(), spawn()]);
    const workload = planWorkload({ orders: 24, registrations: 0, seed, tag: `w${seed}`, cancelRate: 0, orderMix: [['visa', 1], ['undeliverable', 1]] });
    const started = await startWorkload(client, services, workload, { taskQueue });
    const inFlight = await untilMidFlight(started.sagas);
    await doomed.kill();
    expect(await doomed.exited).toBe('SIGKILL');

    const stuck = await waitForAll(started.sagas, 240_000);
    expect(stuck, survivor.log()).toEqual([]);
    const report = await checkInvariants(services, await collectOutcomes(started.sagas));
    console.log(`cluster, one of two saga workers killed, at the kill: ${inFlight.forward} forward, ${inFlight.compensating} compensating\n${formatReport(report, seed)}`);
    expect(report.violations).toEqual([]);
    expect(await handedOver(started.sagas, doomed, survivor)).toBeGreaterThan(0);
    await survivor.stop();
  }, 360_000);
});

describe("the cluster's Web UI, wired to the cluster's codec server", () => {
  it.skipIf(!existsSync(chromiumPath()))(
    'repairs two orders in COMPENSATION_FAILED from the browser, signed in with the encode token: retryCompensation and skipCompensation end both COMPENSATED, their input and the step summaries decoded',
    async () => {
      const { services } = await servicesDatabase();
      const taskQueue = uniqueTaskQueue('cluster-webui');
      const worker = await inProcessWorker(services, taskQueue);
      try {
        const tag = `c${seed}-${Date.now().toString(36)}`;
        const orderIds = [`repair-retry-${tag}`, `repair-skip-${tag}`];
        const handles = await stuckOrders({ client, services, taskQueue, orderIds });
        const [retry, skip] = await Promise.all(handles.map(async (handle, i) => ({ workflowId: handle.workflowId, runId: (await handle.describe()).runId, orderId: orderIds[i]! })));
        const outDir = join(dataDir, 'webui-repair');
        const ui = await checkRepairInUi({
          uiUrl: cluster.uiUrl,
          namespace: cluster.namespace,
          codecUrl: cluster.codecUrl,
          encodeToken: cluster.secrets.codecServerEncodeToken,
          // No browser settings: the UI itself names the codec server and sends the session cookie.
          uiConfigured: true,
          retry: retry!,
          retrySteps: ['capturePayment'],
          skip: skip!,
          skipStep: 'capturePayment',
          skipReason: 'Refunded by hand, ticket OPS-7',
          client,
          outDir,
        });
        console.log(`cluster Web UI repair:\n${ui.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`).join('\n')}`);
        expect(ui.checks.filter((c) => !c.ok)).toEqual([]);
        expect(ui.checks.map((c) => c.name)).toEqual(
          expect.arrayContaining([
            `the UI's cluster-level codec endpoint is ${cluster.codecUrl}`,
            `the history shows the decoded summary of the failed compensation ("Refund payment for order ${orderIds[0]}")`,
          ]),
        );
        expect(ui.checks).toHaveLength(9);
        expect(readdirSync(outDir)).toHaveLength(5);
      } finally {
        await worker.stop();
      }
    },
    300_000,
  );
});

/** Sagas whose history shows `from` working on them and then, after its last event, `to`. */
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
