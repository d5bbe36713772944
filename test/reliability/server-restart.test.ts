import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { isReachable } from '../../src/reachable';
import { startDevServer, type DevServer, type DevServerOptions } from '../../tools/devserver';
import { createServices, type FaultConfig, type Services } from '../../src/services';
import { checkInvariants, formatReport } from '../../scripts/lib/chaos/invariants';
import { freePort } from '../fixtures/chaos-processes';
import { collectOutcomes, planWorkload, seedFromEnv, startWorkload, untilMidFlight, waitForAll } from '../../scripts/lib/chaos/workload';
import { uniqueTaskQueue, workflowBundle } from '../helpers';

// The dev server as its own process on a SQLite file, stopped while sagas are mid-flight and started
// again on the same file: the sagas, their timers and their pending activities must all come back.

const seed = seedFromEnv();
const slow = { latencyMs: [250, 600] as const };
const faults: FaultConfig = { seed, inventory: slow, payments: slow, shipping: slow, users: slow, mail: slow };

let server: DevServer;
let serverOptions: DevServerOptions;
let dataDir: string;
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let services: Services;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('server-restart');

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'server-restart-'));
  serverOptions = { port: await freePort(), uiPort: await freePort(), dbFile: join(dataDir, 'temporal.db'), logFile: null, logLevel: 'error' };
  server = await startDevServer(serverOptions);
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  services = await createServices({ databaseUrl: `sqlite:${join(dataDir, 'services.db')}`, faults });
  worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities(services) });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
  await services?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the Temporal dev server', () => {
  it('stopped while sagas are mid-flight and started again on its SQLite file: every saga resumes and ends as it should, and the audit holds', async () => {
    const workload = planWorkload({
      orders: 16,
      registrations: 8,
      seed,
      cancelRate: 0,
      orderMix: [
        ['visa', 2],
        ['undeliverable', 1],
        ['declined', 1],
      ],
      // Deadlines set before the stop must fire after the restart.
      registrationMix: [
        ['verify', 1],
        ['expire', 1],
      ],
      expiryTimeout: '6s',
    });
    const started = await startWorkload(client, services, workload, { taskQueue });
    await untilMidFlight(started.sagas.filter((s) => s.plan.kind === 'order'));

    const stoppedAt = new Date();
    await server.stop();
    expect(await isReachable(server.address)).toBe(false);
    await new Promise((r) => setTimeout(r, 2_000));
    server = await startDevServer(serverOptions);

    await started.driven;
    const stuck = await waitForAll(started.sagas, 150_000);
    expect(stuck).toEqual([]);
    const report = await checkInvariants(services, await collectOutcomes(started.sagas));
    console.log(`server restarted mid-flight\n${formatReport(report, seed)}`);
    expect(report.violations).toEqual([]);

    // Sagas that began before the stop and ended after the restart were really carried across it.
    const carried = await Promise.all(
      started.sagas.map(async ({ handle }) => {
        const { startTime, closeTime } = await handle.describe();
        return startTime < stoppedAt && closeTime !== undefined && closeTime > stoppedAt;
      }),
    );
    console.log(`${carried.filter(Boolean).length} of ${carried.length} sagas were in flight across the restart`);
    expect(carried.filter(Boolean).length).toBeGreaterThanOrEqual(started.sagas.length / 2);
    expect(worker.getState()).toBe('RUNNING');
  }, 240_000);
});
