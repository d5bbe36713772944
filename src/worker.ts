import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { createActivities } from './activities';
import { createReconcilerActivities } from './reconciler/activities';
import { ensureReconcilerSchedule, reconcilerScheduleId } from './reconciler/schedule';
import { workerDataConverterFor, ENCRYPTION_OFF_WARNING, loadCodecConfig, type CodecConfig } from './codec';
import { ConfigError, configProblems, connectionOptions, databaseOptions, loadWorkerConfig, type VersioningConfig, type WorkerConfig } from './config';
import { adoptFirstVersion } from './deployment/first-version';
import { isRetired, watchRetirement } from './deployment/retirement';
import { derivedBuildId, packageVersion, versionKey } from './deployment/version';
import { jsonLogger } from './logger';
import { customSearchAttributes } from './shared/search-attributes';
import { isReachable } from './reachable';
import { metricsAddress, serviceMetrics, telemetryOptions } from './telemetry';
import { jetstreamManager } from '@nats-io/jetstream';
import { sampleBrokerMetrics } from './broker/metrics';
import { processTracing, tracingWorkerOptions, type Tracing } from './tracing';
import { workflowPreloadModules } from './workflow-preload';
import { createServices, faultsAreOn, redactUrl, type Services } from './services';
import { loadBrokerConfig, type BrokerConfig } from './broker/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBroker } from './broker/connection';
import { startCarrierLink, type CarrierLink } from './carrier/link';
import { checkTaskQueueDatabase, databaseFingerprint, TaskQueueTakenError, workerIdentity } from './task-queue-guard';

/** Thrown at start when the namespace lacks a search attribute the sagas write. */
export class MissingSearchAttributeError extends Error {
  override readonly name = 'MissingSearchAttributeError';
  constructor(
    readonly missing: readonly string[],
    readonly command: string,
  ) {
    super(`The namespace lacks the search attribute(s) ${missing.join(', ')}. Register them with:\n  ${command}`);
  }
}

/**
 * Fails fast, with the command that fixes it, when the server does not know `SagaStatus`: otherwise
 * every saga would fail its first workflow task when it upserts the attribute.
 */
export async function checkSearchAttributes(connection: NativeConnection, config: Pick<WorkerConfig, 'address' | 'namespace'>): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: config.namespace });
  const known = new Set(Object.keys(customAttributes ?? {}));
  const missing = customSearchAttributes.filter((key) => !known.has(key.name));
  if (missing.length === 0) return;
  const command = missing
    .map((key) => `temporal operator search-attribute create --address ${config.address} --namespace ${config.namespace} --name ${key.name} --type Keyword`)
    .join('\n  ');
  throw new MissingSearchAttributeError(
    missing.map((k) => k.name),
    command,
  );
}

/** Where the workflow code comes from: a prebuilt bundle in production, the sources in development. */
async function workflowSource(config: WorkerConfig): Promise<Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'>> {
  if (config.workflowBundlePath) return { workflowBundle: { code: await readFile(config.workflowBundlePath, 'utf8') } };
  return { workflowsPath: workflowsEntry(), bundlerOptions: { preloadModules: [...workflowPreloadModules] } };
}

function workflowsEntry(): string {
  // The bundle entry sits next to this file: `workflows.ts` under tsx and vitest, `workflows.js` once compiled.
  const workflowsPath = ['.ts', '.js'].map((ext) => join(__dirname, `workflows${ext}`)).find((path) => existsSync(path));
  if (!workflowsPath) throw new Error(`No workflows.ts or workflows.js next to ${__filename}`);
  return workflowsPath;
}

/**
 * The workflow code as one bundle, built here when the worker would otherwise bundle it itself: a
 * derived build id is the bundle's hash, so the bundle must exist before the worker does. Built as
 * the worker would build it (its workflow interceptors and failure converter).
 */
async function bundledSource(options: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions' | 'interceptors' | 'dataConverter'>): Promise<{ code: string }> {
  const given = options.workflowBundle;
  if (given && 'code' in given) return { code: given.code };
  if (given) return { code: await readFile(given.codePath, 'utf8') };
  const { code } = await bundleWorkflowCode({
    workflowsPath: options.workflowsPath ?? workflowsEntry(),
    ...(options.bundlerOptions?.preloadModules ? { preloadModules: options.bundlerOptions.preloadModules } : {}),
    ...(options.interceptors?.workflowModules ? { workflowInterceptorModules: options.interceptors.workflowModules } : {}),
    ...(options.dataConverter?.failureConverterPath ? { failureConverterPath: options.dataConverter.failureConverterPath } : {}),
    ...(options.dataConverter?.payloadConverterPath ? { payloadConverterPath: options.dataConverter.payloadConverterPath } : {}),
  });
  return { code };
}

/**
 * The worker's deployment options: its version (the configured build id, else one derived from the
 * workflow bundle) and the versioning behaviour of workflow types that declare none. Auto-upgrade is
 * that default because it is what every saga did before versions existed: a type added later without
 * a declaration runs, moves to each new version, and is kept safe by patches and the replay tests.
 * The sagas that must not move declare `PINNED` themselves (see `src/order/workflow.ts`).
 */
export function deploymentOptions(versioning: VersioningConfig, bundleCode: string | undefined): NonNullable<WorkerOptions['workerDeploymentOptions']> {
  const buildId = versioning.buildId ?? (bundleCode === undefined ? undefined : derivedBuildId(packageVersion(), bundleCode));
  if (buildId === undefined) throw new Error('A versioned worker needs SAGA_BUILD_ID or the workflow bundle to derive it from');
  return { useWorkerVersioning: true, version: { deploymentName: versioning.deploymentName, buildId }, defaultVersioningBehavior: 'AUTO_UPGRADE' };
}

/**
 * Creates the saga worker on an open connection, with the activities bound to `services`; with
 * `tracing`, its interceptors and the sink of the workflows' spans (see `tracingWorkerOptions`).
 */
export async function createSagaWorker(opts: {
  connection: NativeConnection;
  config: WorkerConfig;
  services: Services;
  /** The process's tracing (`processTracing`). @default off */
  tracing?: Tracing;
  /** Whether the worker's data converter encrypts payloads, said in its identity for clients to read. @default false */
  encrypted?: boolean;
  /**
   * The carrier behind the broker (`startCarrierLink`): the shipment steps publish their commands and
   * complete asynchronously, the reconciler's cancel asks by request. @default the carrier in process (`services.shipping`)
   */
  carrier?: Pick<CarrierLink, 'shipping' | 'requests'>;
  overrides?: Partial<WorkerOptions>;
}): Promise<Worker> {
  const { connection, config, services } = opts;
  let options: WorkerOptions = {
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    identity: workerIdentity({ database: databaseFingerprint(config.databaseUrl), encrypted: opts.encrypted ?? false }),
    activities: {
      ...createActivities(opts.carrier ? { ...services, shipping: opts.carrier.shipping } : services),
      // The reconciler reads closed sagas' histories with the worker's own data converter.
      ...createReconcilerActivities({
        client: new Client({ connection, namespace: config.namespace, ...(opts.overrides?.dataConverter ? { dataConverter: opts.overrides.dataConverter } : {}) }),
        ...services,
        ...(opts.carrier ? { shipping: opts.carrier.requests } : {}),
      }),
    },
    ...(await workflowSource(config)),
    maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks,
    ...tracingWorkerOptions(opts.tracing, { prebuiltBundle: Boolean(config.workflowBundlePath) }),
    ...opts.overrides,
  };
  const { versioning } = config;
  if (versioning) {
    const bundle = versioning.buildId === undefined ? await bundledSource(options) : undefined;
    if (bundle && !options.workflowBundle) {
      const { workflowsPath: _path, bundlerOptions: _bundler, ...rest } = options;
      // The bundle is built now: the worker must not build another, nor look for the interceptor
      // modules and converters it holds already. The sink of the workflows' spans stays.
      options = { ...rest, workflowBundle: bundle, ...tracingWorkerOptions(opts.tracing, { prebuiltBundle: true }), ...opts.overrides };
    }
    options = { ...options, workerDeploymentOptions: deploymentOptions(versioning, bundle?.code) };
  }
  const version = options.workerDeploymentOptions?.version;
  if (version && (await isRetired(connection.workflowService, config.namespace, version))) throw new VersionRetiredError(versionKey(version));
  const worker = await Worker.create(options);
  if (version) {
    const adoption = await adoptFirstVersion(connection.workflowService, { namespace: config.namespace, version, identity: worker.options.identity, taskQueue: config.taskQueue });
    if (adoption === 'made-current') Runtime.instance().logger.info(`The deployment had no current version: ${versionKey(version)} is now current`, { version: versionKey(version) });
    if (adoption === 'waiting-for-unversioned') {
      Runtime.instance().logger.warn(
        'The deployment has no current version and orders started on unversioned workers still run: no version is made current until they finish on a worker of the previous release (SAGA_WORKER_VERSIONING=false); then npm run deploy -- promote',
        { version: versionKey(version) },
      );
    }
    if (adoption === 'unsupported') Runtime.instance().logger.warn('The server does not implement Worker Deployments: the worker runs as if unversioned', { version: versionKey(version) });
  }
  return worker;
}

/**
 * The worker's configuration and its payload codec, read together so that a production start without
 * its secrets lists every missing one at once. Throws {@link ConfigError} with all the problems.
 */
function readConfiguration(env: Record<string, string | undefined>): { config: WorkerConfig; codec: CodecConfig | undefined; broker: BrokerConfig | undefined } {
  const { problems, read } = configProblems();
  const config = read(() => loadWorkerConfig(env));
  const codec = read(() => loadCodecConfig(env));
  // The broker's replicas, only in broker mode; its URLs were checked with the worker's settings.
  const broker = config?.natsServers ? read(() => loadBrokerConfig(env)) : undefined;
  if (problems.length || !config) throw new ConfigError(problems);
  return { config, codec, broker };
}

/**
 * Creates the reconciler's Schedule unless it exists, and says which happened in one line. A server that
 * refuses it (no schedules) is said so: the worker runs the sagas without it, and `reconcile` still works.
 */
export async function reconcilerScheduleLine(client: Client, taskQueue: string): Promise<string> {
  const id = reconcilerScheduleId(taskQueue);
  try {
    return (await ensureReconcilerSchedule(client, taskQueue)) ? `Reconciler schedule ${id} created: every 5 minutes` : `Reconciler schedule ${id} present`;
  } catch (err) {
    return `Reconciler schedule ${id} could not be created (${err instanceof Error ? err.message : String(err)}); run reconcile by hand`;
  }
}

/** Thrown at start by a worker whose version `npm run deploy -- retire` has retired. */
export class VersionRetiredError extends Error {
  override readonly name = 'VersionRetiredError';
  constructor(readonly version: string) {
    super(`${version} was retired (npm run deploy -- retire): its workers must not run again. Start a worker of the current version, or give this build a new SAGA_BUILD_ID.`);
  }
}

/** Thrown when no Temporal server answers at the worker's address; says how to start one. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    cause?: unknown,
  ) {
    super(`Cannot reach Temporal at ${address}: start a dev server with \`npm start\` (or the cluster with \`npm run cluster\`), or set TEMPORAL_ADDRESS to a running one.`, { cause });
  }
}

/**
 * What a worker says at start about a configuration that is fine for a demonstration and wrong
 * anywhere else: fault injection on, the public development key for registration ids. Every process
 * that runs the worker (`npm run worker`, `npm start`) prints them.
 */
export function startupWarnings(config: Pick<WorkerConfig, 'faults' | 'idSecretIsDevelopmentDefault'>): string[] {
  const warnings: string[] = [];
  if (config.faults && faultsAreOn(config.faults)) warnings.push('FAULT INJECTION IS ON (SAGA_FAULTS): service calls fail on purpose; never run this in production');
  if (config.idSecretIsDevelopmentDefault) {
    warnings.push('SAGA_ID_SECRET is unset: registration workflow ids use the public development key (refused in production, that is unless NODE_ENV is development or test)');
  }
  return warnings;
}

/** Runs the worker until SIGINT or SIGTERM, then drains in-flight tasks and closes the database. */
export async function main(): Promise<void> {
  const { config, codec, broker } = readConfiguration(process.env);
  const dataConverter = workerDataConverterFor(codec);
  const logger = jsonLogger(config.logLevel.toUpperCase() as 'INFO');
  const metrics = metricsAddress();
  const telemetry = telemetryOptions(metrics);
  const tracing = processTracing(process.env, 'saga-worker');
  Runtime.install({ logger, shutdownSignals: ['SIGINT', 'SIGTERM'], ...(telemetry ? { telemetryOptions: telemetry } : {}) });
  // Probed first: the native connection's refusal is a transport error dump that buries the address.
  if (!(await isReachable(config.address, 2_000))) throw new TemporalUnreachableError(config.address);
  const connection = await NativeConnection.connect(connectionOptions(config)).catch((err: unknown) => {
    throw new TemporalUnreachableError(config.address, err);
  });
  let services: Services | undefined;
  let carrier: CarrierLink | undefined;
  let nats: NatsConnection | undefined;
  try {
    await checkSearchAttributes(connection, config);
    await checkTaskQueueDatabase(connection.workflowService, config, databaseFingerprint(config.databaseUrl));
    const { faults } = config;
    for (const warning of startupWarnings(config)) logger.warn(warning, faults && faultsAreOn(faults) ? { faults } : {});
    // Only production gets here without keys by choice: elsewhere no keys simply means development.
    if (config.production && !codec) logger.warn(ENCRYPTION_OFF_WARNING);
    services = await createServices({
      databaseUrl: config.databaseUrl,
      operatorEmail: config.operatorEmail,
      secret: config.idSecret,
      database: databaseOptions(config),
      ...(faults ? { faults } : {}),
      ...(metrics ? { observer: serviceMetrics(Runtime.instance().metricMeter, config) } : {}),
      ...(tracing ? { tracer: tracing.tracer } : {}),
    });
    if (broker) {
      nats = await connectBroker({ servers: broker.servers, name: 'saga-worker' });
      const client = new Client({ connection, namespace: config.namespace, ...(dataConverter ? { dataConverter } : {}) });
      carrier = await startCarrierLink({ connection: nats, client, replicas: broker.replicas, shipping: services.shipping });
      // The carrier's queues on the worker's /metrics too (src/broker/metrics.ts).
      if (metrics) sampleBrokerMetrics(await jetstreamManager(nats), Runtime.instance().metricMeter);
    }
    const worker = await createSagaWorker({
      connection,
      config,
      services,
      ...(tracing ? { tracing } : {}),
      ...(carrier ? { carrier } : {}),
      encrypted: Boolean(codec),
      overrides: dataConverter ? { dataConverter } : {},
    });
    const version = worker.options.workerDeploymentOptions?.version;
    logger.info('Worker started', {
      address: config.address,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      identity: worker.options.identity,
      database: redactUrl(config.databaseUrl),
      ...(config.databaseUrl.startsWith('postgres') ? { databasePoolSize: config.databasePoolSize, maxConcurrentActivities: config.maxConcurrentActivities } : {}),
      metrics: metrics ? `http://${metrics}/metrics` : 'off (SAGA_METRICS_ADDRESS)',
      traces: tracing ? 'on (OTEL_*)' : 'off (OTEL_TRACES_EXPORTER)',
      payloadEncryption: !codec ? 'off' : codec.strict === false ? 'on, accepting plaintext (SAGA_CODEC_STRICT=false)' : 'on, strict',
      deploymentVersion: version ? versionKey(version) : 'unversioned (SAGA_WORKER_VERSIONING=false)',
      carrier: broker ? `through the broker ${broker.servers.join(',')}` : 'in process (SAGA_NATS_URL unset)',
    });
    // With the worker's converter: a strict codec refuses a sweep started with a plain payload.
    logger.info(await reconcilerScheduleLine(new Client({ connection, namespace: config.namespace, ...(dataConverter ? { dataConverter } : {}) }), config.taskQueue));
    // A retired version's workers stop by themselves: `npm run deploy -- retire` marks the version
    // once nothing is pinned to it (see src/deployment/retirement.ts).
    const watching = new AbortController();
    if (version) {
      void watchRetirement({ service: connection.workflowService, namespace: config.namespace, version, signal: watching.signal }).then(() => {
        logger.info('This version was retired (npm run deploy -- retire): shutting down', { version: versionKey(version) });
        worker.shutdown();
      });
    }
    await worker.run().finally(() => watching.abort());
    logger.info('Worker stopped');
  } finally {
    await carrier?.stop();
    await nats?.drain();
    await services?.close();
    await connection.close();
    await tracing?.shutdown();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof MissingSearchAttributeError || err instanceof TaskQueueTakenError || err instanceof TemporalUnreachableError || err instanceof VersionRetiredError) {
      console.error(err.message);
    } else {
      console.error(`Worker failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    process.exit(1);
  });
}

