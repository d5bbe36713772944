// What the broker tests share: a real Temporal dev server, a real NATS server (tools/nats.ts), the
// services' SQLite database, a saga worker whose shipment steps go through the broker, and the
// carrier, in this process or as a real child process (`node --import tsx src/carrier/main.ts`).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { NatsConnection } from '@nats-io/transport-node';
import { createActivities } from '../../src/activities';
import { connectBroker } from '../../src/broker/connection';
import { startCarrier, type CarrierHooks, type RunningCarrier } from '../../src/carrier/carrier';
import { startCarrierLink, type CarrierLink } from '../../src/carrier/link';
import { createReconcilerActivities } from '../../src/reconciler/activities';
import { createServices, type Services } from '../../src/services';
import type { FaultConfig } from '../../src/services/faults';
import { startNats, type NatsBroker } from '../../tools/nats';
import { managedProcess, type ManagedProcess } from '../../tools/cluster/process';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';

const root = resolve(__dirname, '..', '..');

/** Everything one broker test file runs on. */
export interface BrokerTestbed {
  env: TestWorkflowEnvironment;
  nats: NatsBroker;
  /** The worker's broker connection. */
  connection: NatsConnection;
  services: Services;
  databaseUrl: string;
  dataDir: string;
  taskQueue: string;
  link: CarrierLink;
  /** Shipments booked for an order (every row, cancelled ones included). */
  shipmentsOf(orderId: string): Promise<number>;
  /** Starts a carrier in this process. */
  carrierInProcess(options?: { hooks?: CarrierHooks; faults?: FaultConfig }): Promise<RunningCarrier>;
  /** A carrier as a child process (not yet started); `ready()` waits for its `carrier ready` line. */
  carrierProcess(env?: Record<string, string>): ChildCarrier;
  close(): Promise<void>;
}

/** The carrier as a real process. */
export interface ChildCarrier {
  process: ManagedProcess;
  /** Starts it and waits until it printed `carrier ready` (its n-th time, counting restarts). */
  start(): Promise<void>;
  log(): string;
}

/**
 * Starts the servers, the services, the link and the worker; the test starts the carrier it wants.
 * `nodes: 3` runs a three-node JetStream cluster with every stream in 3 replicas. @default nodes 1
 */
export async function startBrokerTestbed(options: { replyTimeoutMs?: number; nodes?: 1 | 3 } = {}): Promise<BrokerTestbed> {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-broker-'));
  const databaseUrl = `sqlite:${join(dataDir, 'services.db')}`;
  const replicas = options.nodes ?? 1;
  const [env, nats] = await Promise.all([createDevServerEnv(), startNats({ dataDir: join(dataDir, 'nats'), nodes: replicas })]);
  const services = await createServices({ databaseUrl });
  const connection = await connectBroker({ servers: nats.servers, name: 'saga-worker' });
  const link = await startCarrierLink({ connection, client: env.client, replicas, shipping: services.shipping, ...(options.replyTimeoutMs ? { replyTimeoutMs: options.replyTimeoutMs } : {}) });
  const taskQueue = uniqueTaskQueue('broker');
  // The worker's activities as createSagaWorker registers them in broker mode.
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...createActivities({ ...services, shipping: link.shipping }),
      ...createReconcilerActivities({ client: env.client, ...services, shipping: link.requests }),
    },
  });
  const running = worker.run();
  const carriers: Array<{ stop(): Promise<void> }> = [];
  let children = 0;

  return {
    env,
    nats,
    connection,
    services,
    databaseUrl,
    dataDir,
    taskQueue,
    link,
    async shipmentsOf(orderId) {
      const row = await services.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM shipments WHERE order_id = ?', [orderId]);
      return Number(row?.n ?? 0);
    },
    async carrierInProcess(opts = {}) {
      const carrier = await startCarrier({ brokerConfig: { servers: nats.servers, replicas }, databaseUrl, logLevel: 'error', ...opts });
      carriers.push(carrier);
      return carrier;
    },
    carrierProcess(extraEnv = {}) {
      children += 1;
      const logFile = join(dataDir, `carrier-${children}.log`);
      const process = managedProcess({
        name: `carrier-${children}`,
        command: globalThis.process.execPath,
        args: ['--import', 'tsx', join(root, 'src', 'carrier', 'main.ts')],
        env: { SAGA_NATS_URL: nats.servers.join(','), SAGA_NATS_REPLICAS: String(replicas), DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', ...extraEnv },
        logFile,
        cwd: root,
      });
      carriers.push({ stop: () => process.stop(5_000) });
      const log = () => {
        try {
          return readFileSync(logFile, 'utf8');
        } catch {
          return '';
        }
      };
      return {
        process,
        log,
        async start() {
          const before = log().split('carrier ready').length;
          process.start();
          const deadline = Date.now() + 60_000;
          while (log().split('carrier ready').length === before) {
            if (!process.running) throw new Error(`The carrier exited before it was ready:\n${log()}`);
            if (Date.now() > deadline) throw new Error(`The carrier was not ready within 60 s:\n${log()}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
      };
    },
    async close() {
      worker.shutdown();
      await running;
      await link.stop();
      await Promise.all(carriers.map((c) => c.stop().catch(() => undefined)));
      await connection.close();
      await nats.stop();
      await services.close();
      await env.teardown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
