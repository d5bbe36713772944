// The local stack in one process tree: the Temporal dev server with its Web UI (unless a server
// already answers), a NATS JetStream node (unless SAGA_NATS_URL names a broker that answers), the
// services' database, the broker services (the carrier, the outbox relay) as child processes and the
// worker, brought up together and taken down in reverse order. Used by `npm start` and `npm run
// webui-check`.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry, type Worker } from '@temporalio/worker';
import { dataConverterFor, loadCodecConfig, workerDataConverterFor } from '../../src/codec';
import { ConfigError, connectionOptions, databaseOptions, loadWorkerConfig, type WorkerConfig } from '../../src/config';
import { isReachable } from '../../src/reachable';
import { loadBrokerConfig } from '../../src/broker/config';
import { connectBroker } from '../../src/broker/connection';
import { startCarrierLink } from '../../src/carrier/link';
import { brokerAnswers, brokerServices, startBrokerService } from '../../tools/cluster/broker-services';
import type { ManagedProcess } from '../../tools/cluster/process';
import { natsServerBinary, startNats, type NatsBroker } from '../../tools/nats';
import { versionKey, type DeploymentVersion } from '../../src/deployment/version';
import { assertNoUnversionedPinned, describeDeployment, promoteVersion, waitForPollers } from '../../src/deployment/versions';
import { startDevServer, type DevServer } from '../../tools/devserver';
import { customSearchAttributes } from '../../src/shared/search-attributes';
import { createServices, type Services } from '../../src/services';
import { metricsAddress, serviceMetrics, telemetryOptions } from '../../src/telemetry';
import { clientTracing, processTracing } from '../../src/tracing';
import { checkSearchAttributes, createSagaWorker, reconcilerScheduleLine, startupWarnings } from '../../src/worker';
import { checkTaskQueueDatabase, databaseFingerprint } from '../../src/task-queue-guard';
import { freePort } from './ports';

/** How to bring the stack up. */
export interface StackOptions {
  /** Environment the worker configuration is read from. @default process.env */
  env?: Record<string, string | undefined>;
  /** Folder for the dev server's SQLite file, the broker's store (`nats/`), the services' database and the logs. @default ".data" */
  dataDir?: string;
  /** Web UI port of a dev server started here. @default the gRPC port + 1000 */
  uiPort?: number;
  /** Receives progress lines. @default console.log */
  log?: (line: string) => void;
}

/** The running stack. */
export interface Stack {
  config: WorkerConfig;
  /** Base URL of the Web UI. */
  uiUrl: string;
  /** Whether the stack started its own dev server (rather than using a reachable one). */
  ownServer: boolean;
  /** The broker: its URLs, and whether the stack started it (rather than using the one at `SAGA_NATS_URL`). */
  broker: { servers: string[]; own: boolean };
  /** The broker services started here (`carrier`, `relay`), by name. */
  processes: ReadonlyMap<string, ManagedProcess>;
  client: Client;
  services: Services;
  /** Drains the worker, stops the carrier and the relay, closes the connections and the database, then stops the broker and the dev server if it started them. */
  stop(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** The port a broker started here listens on when `SAGA_NATS_URL` names none: NATS's own, if free. */
const NATS_DEFAULT_PORT = 4222;

/**
 * Where the broker comes from: the one at `SAGA_NATS_URL` if it answers; else one node started here,
 * on that URL's port (a local one) or on 4222 (a free port if 4222 is taken) when it is unset.
 */
async function brokerPlan(servers: string[] | undefined, replicas: number): Promise<{ use: string[] } | { start: number | undefined }> {
  if (servers && (await brokerAnswers(servers))) return { use: servers };
  if (replicas !== 1) throw new ConfigError([`SAGA_NATS_REPLICAS=${replicas} needs a cluster, and npm start starts one node: point SAGA_NATS_URL at a cluster that answers (npm run cluster starts one), or unset SAGA_NATS_REPLICAS`]);
  if (!servers) return { start: (await isReachable(`127.0.0.1:${NATS_DEFAULT_PORT}`)) ? undefined : NATS_DEFAULT_PORT };
  const url = new URL(servers[0]!);
  if (servers.length > 1 || url.protocol !== 'nats:' || !LOCAL_HOSTS.has(url.hostname)) {
    throw new Error(`SAGA_NATS_URL=${servers.join(',')} does not answer, and a broker can only be started here for one nats:// URL on this machine.`);
  }
  return { start: Number(url.port) };
}

/**
 * Routes the SDK's logs to a file, so the demo's output stays readable while failures are still on
 * record; serves the metrics at `metrics` (`SAGA_METRICS_ADDRESS`) when given.
 */
function installRuntime(file: string, level: WorkerConfig['logLevel'], metrics: string | undefined): void {
  const telemetry = telemetryOptions(metrics);
  Runtime.install({
    ...(telemetry ? { telemetryOptions: telemetry } : {}),
    // The stack stops the worker itself, after the demo and before the server.
    shutdownSignals: [],
    logger: new DefaultLogger(level.toUpperCase() as 'INFO', (entry: LogEntry) => {
      const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
      appendFileSync(file, `${JSON.stringify({ time, level: entry.level.toLowerCase(), msg: entry.message, ...entry.meta }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    }),
  });
}

/**
 * Starts the local stack: uses the Temporal server at `TEMPORAL_ADDRESS` if one answers there, else
 * starts the dev server on that port; opens the services' database and runs the worker in-process.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(options.dataDir ?? '.data');
  mkdirSync(dataDir, { recursive: true });
  const env = { ...(options.env ?? process.env) };
  env.DATABASE_URL ||= `sqlite:${join(dataDir, 'saga.db')}`;
  const config = loadWorkerConfig(env);
  // The worker's log goes to a file here: its start-up warnings go to the terminal, where they are seen.
  for (const warning of startupWarnings(config)) log(`Warning: ${warning}`);
  // Read with the rest of the configuration: a bad value stops the stack before it starts anything.
  const metrics = metricsAddress(env);
  const tracing = processTracing(env, 'saga-worker');
  const { replicas } = loadBrokerConfig({ ...env, SAGA_NATS_URL: config.natsServers?.join(',') ?? 'nats://127.0.0.1:4222' });
  const plan = await brokerPlan(config.natsServers, replicas);
  // A missing nats-server stops the stack here, before the dev server starts.
  if ('start' in plan) natsServerBinary();

  let server: DevServer | undefined;
  let uiUrl = config.uiUrl;
  if (await isReachable(config.address)) {
    log(`Using the Temporal server at ${config.address}`);
  } else {
    const { host, port } = splitAddress(config.address);
    if (!LOCAL_HOSTS.has(host)) throw new Error(`TEMPORAL_ADDRESS=${config.address} does not answer, and a dev server can only be started on this machine.`);
    log(`Starting the Temporal dev server on port ${port} (state in ${join(dataDir, 'temporal.db')})…`);
    server = await startDevServer({
      port,
      ...(options.uiPort ? { uiPort: options.uiPort } : {}),
      dbFile: join(dataDir, 'temporal.db'),
      logFile: join(dataDir, 'temporal-server.log'),
      ...(env.TEMPORAL_CODEC_ENDPOINT ? { codecEndpoint: env.TEMPORAL_CODEC_ENDPOINT } : {}),
    });
    uiUrl = env.TEMPORAL_UI_URL ? config.uiUrl : server.uiUrl;
    config.address = server.address;
  }

  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log(`While stopping: ${err instanceof Error ? err.message : String(err)}`));
    cleanups.length = 0;
  };
  if (server) cleanups.push(server.stop);
  const processes = new Map<string, ManagedProcess>();
  try {
    let nats: NatsBroker | undefined;
    if ('use' in plan) {
      log(`Using the NATS broker at ${plan.use.join(',')}`);
    } else {
      log(`Starting NATS with JetStream${plan.start ? ` on port ${plan.start}` : ''} (store in ${join(dataDir, 'nats')})…`);
      nats = await startNats({ dataDir: join(dataDir, 'nats'), ...(plan.start ? { ports: [plan.start] } : {}) });
      cleanups.push(() => nats!.stop());
    }
    const servers = 'use' in plan ? plan.use : nats!.servers;
    config.natsServers = servers;
    installRuntime(join(dataDir, 'worker.log'), config.logLevel, metrics);
    const nativeConnection = await NativeConnection.connect(connectionOptions(config));
    cleanups.push(() => nativeConnection.close());
    await ensureSearchAttributes(nativeConnection, config);
    // Before the database opens: a stack that joins a server already in use must not share its task queue.
    await checkTaskQueueDatabase(nativeConnection.workflowService, config, databaseFingerprint(config.databaseUrl));
    const services = await createServices({
      databaseUrl: config.databaseUrl,
      operatorEmail: config.operatorEmail,
      secret: config.idSecret,
      database: databaseOptions(config),
      ...(config.faults ? { faults: config.faults } : {}),
      ...(metrics ? { observer: serviceMetrics(Runtime.instance().metricMeter, config) } : {}),
      ...(tracing ? { tracer: tracing.tracer } : {}),
    });
    cleanups.push(() => services.close());
    // After the services opened the database (its migrations ran), before the worker: a saga started
    // at once finds its carrier consuming.
    // The carrier serves its own metrics (shipping's barrier outcomes, the broker's gauges) on a free port of the worker's host.
    const carrierMetricsAddress = metrics ? `${metrics.slice(0, metrics.lastIndexOf(':'))}:${await freePort()}` : undefined;
    for (const service of brokerServices) {
      const carrierMetrics: Record<string, string> = service.name === 'carrier' && carrierMetricsAddress ? { SAGA_METRICS_ADDRESS: carrierMetricsAddress } : {};
      const child = await startBrokerService(service, { servers, replicas, databaseUrl: config.databaseUrl, logLevel: config.logLevel, extra: { NODE_ENV: env.NODE_ENV ?? 'development', ...carrierMetrics } }, dataDir);
      processes.set(service.name, child);
      cleanups.push(() => child.stop());
      log(`Started the ${service.name} (pid ${child.pid}); logs in ${child.spec.logFile}`);
    }
    const connection = await Connection.connect(connectionOptions(config));
    cleanups.push(() => connection.close());
    const codec = loadCodecConfig(env);
    const dataConverter = dataConverterFor(codec);
    const client = new Client({ connection, namespace: config.namespace, ...(dataConverter ? { dataConverter } : {}), ...clientTracing(env) });
    const workerDataConverter = workerDataConverterFor(codec);
    const natsConnection = await connectBroker({ servers, name: 'saga-worker' });
    cleanups.push(() => natsConnection.drain());
    // Its warnings go with the worker's logs, out of the demo's output.
    const warn = (msg: string, fields: Record<string, unknown>) => appendFileSync(join(dataDir, 'worker.log'), `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg, ...fields })}\n`);
    const carrier = await startCarrierLink({ connection: natsConnection, client, replicas, shipping: services.shipping, warn });
    cleanups.push(() => carrier.stop());

    log(config.workflowBundlePath ? 'Starting the worker…' : 'Bundling the workflows and starting the worker…');
    const worker: Worker = await createSagaWorker({ connection: nativeConnection, config, services, carrier, ...(tracing ? { tracing } : {}), encrypted: Boolean(codec), overrides: workerDataConverter ? { dataConverter: workerDataConverter } : {} });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    log(`Worker polling task queue "${config.taskQueue}" in namespace "${config.namespace}"; logs in ${join(dataDir, 'worker.log')}`);
    const version = worker.options.workerDeploymentOptions?.version;
    if (version) await deployLocally(client, version, config.taskQueue, log);
    log(await reconcilerScheduleLine(client, config.taskQueue));
    if (metrics) log(`Metrics: http://${metrics}/metrics (the carrier's: http://${carrierMetricsAddress}/metrics)`);
    if (tracing) log('Traces: on (OTEL_*)');
    cleanups.unshift(async () => tracing?.flush());
    return { config, uiUrl, ownServer: Boolean(server), broker: { servers, own: Boolean(nats) }, processes, client, services, stop: cleanUp };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

/**
 * The local stack is a deploy of one: a restart after a change of the workflow code brings a new
 * version, and new sagas would keep going to the old one, whose worker is gone. So `npm start` makes
 * the version it runs current (as `npm run deploy -- promote` would) and says how many sagas stay
 * pinned to older versions: those finish only if a worker of their version runs again.
 */
async function deployLocally(client: Client, version: DeploymentVersion, taskQueue: string, log: (line: string) => void): Promise<void> {
  const before = await describeDeployment(client, version.deploymentName);
  if (before.current !== version.buildId) {
    await assertNoUnversionedPinned(client, version, taskQueue);
    await waitForPollers(client, version, { taskQueues: [taskQueue], timeoutMs: 30_000 });
    await promoteVersion(client, version, 'npm-start');
    log(`Deployment ${version.deploymentName}: ${version.buildId} is now current${before.current ? ` (was ${before.current})` : ''}`);
  } else {
    log(`Deployment ${version.deploymentName}: version ${version.buildId}, current`);
  }
  for (const old of before.versions) {
    if (old.buildId !== version.buildId && old.pinnedRunning > 0) {
      log(`Warning: ${old.pinnedRunning} saga(s) stay pinned to ${versionKey({ ...version, buildId: old.buildId })}; they finish only on a worker of that version (docs/operations.md)`);
    }
  }
}

/** A server that was not started here may lack the search attribute: register it where the server allows. */
async function ensureSearchAttributes(connection: NativeConnection, config: WorkerConfig): Promise<void> {
  try {
    await checkSearchAttributes(connection, config);
  } catch {
    await connection.operatorService.addSearchAttributes({
      namespace: config.namespace,
      searchAttributes: Object.fromEntries(customSearchAttributes.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    await checkSearchAttributes(connection, config);
  }
}
