// The production topology of the Temporal server on this machine: PostgreSQL, both Temporal
// databases migrated with the server's own schema tool, then one process per service (history hosts
// sharing the shards, matching, frontend, the internal worker), the namespace and the sagas' search
// attribute, the codec server and the standalone Web UI wired to it. The server reads
// deploy/temporal/saga.yaml, the same file docker-compose.yml mounts; everything that differs per
// process comes from its environment.
//
// State lives in one folder (default `.data/cluster`), and nowhere else: the PostgreSQL data, generated
// passwords, payload keys and codec server tokens (`secrets.json`, readable by the owner only) and
// each process's log.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { isReachable } from '../../src/reachable';
import { newToken } from '../../src/codec/token-strength';
import { customSearchAttributes } from '../../src/shared/search-attributes';
import { clusterBinaries, type ClusterBinaries } from '../temporal-binaries';
import { managedProcess, type ManagedProcess } from './process';
import { assertReachableByPostgres, startLocalPostgres, type LocalPostgres } from './postgres';

export { ClusterBinaryMissingError } from '../temporal-binaries';
export { LocalPostgresError } from './postgres';

const ROOT = resolve(__dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');

/** How to lay the cluster out. */
export interface ClusterOptions {
  /** Folder of the cluster's state. @default ".data/cluster" */
  dataDir?: string;
  /** Frontend gRPC port; every other port is an offset from it (all stay below 32768). @default 7233 */
  frontendPort?: number;
  /** Web UI port. @default 8080 */
  uiPort?: number;
  /** History hosts; the shards are spread over them. @default 2 */
  historyHosts?: number;
  /** History shards, fixed when the cluster is created. @default 8 */
  numHistoryShards?: number;
  /** Namespace registered at start. @default "default" */
  namespace?: string;
  /** Trade durability for speed (fsync off): for throw-away clusters in tests. @default false */
  fast?: boolean;
  /** Progress lines. @default nothing */
  log?: (line: string) => void;
  /** How long each step may take to become ready. @default 120_000 */
  readyTimeoutMs?: number;
  /** Aborting it while the cluster starts stops what was started and rejects. @default none */
  signal?: AbortSignal;
  /**
   * Serve each Temporal service's Go profiler (pprof) on 127.0.0.1: frontend port + 33 (frontend),
   * + 34 (matching), + 35 (worker), + 81 + i (history host i). For `npm run bench -- --cluster
   * --server-profile`; listed in {@link Cluster.pprof}. @default false
   */
  pprof?: boolean;
}

/** Generated once per cluster folder and kept in `secrets.json`. */
export interface ClusterSecrets {
  postgresPassword: string;
  temporalDbPassword: string;
  sagaDbPassword: string;
  /** `SAGA_CODEC_KEYS` of the saga worker and clients: payload encryption is on. */
  codecKeys: string;
  /** The codec server's token: signed in with it at `/login`, a browser sees payloads decoded in the Web UI. */
  codecServerToken: string;
  /** The codec server's encode token: signed in with it, the Web UI may also send signals and updates, their input encrypted. */
  codecServerEncodeToken: string;
}

/** A running cluster. */
export interface Cluster {
  /** Frontend `host:port`. */
  address: string;
  namespace: string;
  uiUrl: string;
  /** The codec server, as the Web UI's browsers reach it (the UI is configured with it). */
  codecUrl: string;
  /** The services' own database on the cluster's PostgreSQL (role `saga`). */
  databaseUrl: string;
  /** Superuser URL of the cluster's PostgreSQL. */
  postgresUrl: string;
  /** Process id of PostgreSQL's postmaster (its backends are its children). */
  postgresPid: number | undefined;
  secrets: ClusterSecrets;
  numHistoryShards: number;
  /** The processes by name: `history-1`…, `matching`, `frontend`, `worker`, `codec`, `ui`. */
  processes: ReadonlyMap<string, ManagedProcess>;
  /** Where each process logs. */
  logDir: string;
  /** The base URL of each Temporal service's profiler (`http://127.0.0.1:<port>`), by process name; empty unless started with `pprof`. */
  pprof: Readonly<Record<string, string>>;
  /** The environment a saga worker or client needs to use this cluster (`TEMPORAL_ADDRESS`, `DATABASE_URL`, `SAGA_CODEC_KEYS`, `TEMPORAL_UI_URL`). */
  workerEnv: Record<string, string>;
  /** Kills one process with `signal` (SIGKILL: no shutdown at all) and waits until it is gone. */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a killed process again and waits until it serves. */
  start(name: string): Promise<void>;
  /** Graceful restart of one process: SIGTERM, start, wait until it serves. */
  restart(name: string): Promise<void>;
  /** Stops every process it started, in order, then PostgreSQL. */
  stop(): Promise<void>;
}

/** Thrown when a cluster step fails; the message says which and where its log is. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
}

/** The ports a cluster with frontend port `frontend` uses, by purpose. */
export function clusterPorts(frontend: number, historyHosts: number) {
  if (historyHosts < 1 || historyHosts > 9) throw new ClusterError(`historyHosts must be between 1 and 9 (got ${historyHosts})`);
  const history = Array.from({ length: historyHosts }, (_, i) => ({ grpc: frontend + 50 + i, membership: frontend + 60 + i, metrics: frontend + 70 + i }));
  const ports = {
    frontend: { grpc: frontend, http: frontend + 10, membership: frontend + 20, metrics: frontend + 40 },
    matching: { grpc: frontend + 2, membership: frontend + 22, metrics: frontend + 42 },
    worker: { grpc: frontend + 6, membership: frontend + 26, metrics: frontend + 46 },
    history,
    codec: frontend + 80,
    /** The Go profilers, when a cluster serves them ({@link ClusterOptions.pprof}). */
    pprof: { frontend: frontend + 33, matching: frontend + 34, worker: frontend + 35, history: history.map((_, i) => frontend + 81 + i) },
    postgres: frontend + 90,
    /** Client ports of the three NATS nodes (`npm run cluster`'s broker, tools/cluster/broker.ts). */
    nats: [frontend + 30, frontend + 31, frontend + 32] as const,
  };
  // Temporal stores membership ports in a PostgreSQL smallint.
  if (frontend + 90 >= 32768) throw new ClusterError(`frontendPort ${frontend} is too high: membership ports must stay below 32768`);
  return ports;
}

/**
 * A frontend port whose whole block of derived ports ({@link clusterPorts}: +0 to +91) is free on
 * 127.0.0.1, between 20000 and 30000 so that membership ports stay below 32768. For tests and
 * benchmarks that run a throw-away cluster beside other servers.
 */
export async function freeClusterPortBlock(): Promise<number> {
  const listens = (port: number) =>
    new Promise<boolean>((done) => {
      const probe = createServer();
      probe.once('error', () => done(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 100) * 100;
    let free = true;
    for (let port = base; port <= base + 91 && free; port++) free = await listens(port);
    if (free) return base;
  }
  throw new ClusterError('no free block of ports between 20000 and 30000');
}

function loadSecrets(dir: string): ClusterSecrets {
  const file = join(dir, 'secrets.json');
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<ClusterSecrets>) : {};
  const secret = () => randomBytes(18).toString('base64url');
  // A folder made before the codec server was part of the cluster gets its tokens added; nothing else changes.
  const secrets: ClusterSecrets = {
    postgresPassword: stored.postgresPassword ?? secret(),
    temporalDbPassword: stored.temporalDbPassword ?? secret(),
    sagaDbPassword: stored.sagaDbPassword ?? secret(),
    codecKeys: stored.codecKeys ?? `cluster-1:${randomBytes(32).toString('base64')}`,
    codecServerToken: stored.codecServerToken ?? newToken(),
    codecServerEncodeToken: stored.codecServerEncodeToken ?? newToken(),
  };
  if (Object.keys(stored).length !== Object.keys(secrets).length) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  }
  return secrets;
}

/** History shards are fixed at creation: a cluster folder remembers its count and refuses another. */
function shardCount(dir: string, asked: number | undefined): number {
  const file = join(dir, 'cluster.json');
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { numHistoryShards: number }).numHistoryShards : undefined;
  if (stored !== undefined && asked !== undefined && asked !== stored) {
    throw new ClusterError(`This cluster was created with ${stored} history shards; the count cannot change afterwards (asked for ${asked}). Use another data folder for a new cluster.`);
  }
  const shards = stored ?? asked ?? 8;
  writeFileSync(file, `${JSON.stringify({ numHistoryShards: shards }, null, 2)}\n`);
  return shards;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The roles and databases, created when missing; passwords set from the secrets every start. */
async function ensureDatabases(adminUrl: string, secrets: ClusterSecrets): Promise<void> {
  await withClient(adminUrl, async (client) => {
    const roles: [string, string][] = [
      ['temporal', secrets.temporalDbPassword],
      ['saga', secrets.sagaDbPassword],
    ];
    for (const [role, password] of roles) {
      const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
      await client.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${role} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
    }
    for (const [db, owner] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'temporal'],
      ['saga', 'saga'],
    ] as const) {
      if (!(await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount) await client.query(`CREATE DATABASE ${db} OWNER ${owner}`);
    }
  });
}

/** Runs the server's schema tool: `setup-schema -v 0.0` on a fresh database, then `update-schema` to the newest version. */
function migrate(bins: ClusterBinaries, port: number, password: string, db: string, schema: 'temporal' | 'visibility', hasSchema: boolean): void {
  const env = { ...process.env, SQL_HOST: '127.0.0.1', SQL_PORT: String(port), SQL_USER: 'temporal', SQL_PASSWORD: password, SQL_DATABASE: db };
  const tool = (args: string[]) => {
    const res = spawnSync(bins.sqlTool, ['--plugin', 'postgres12', ...args], { env, encoding: 'utf8' });
    if (res.status !== 0) throw new ClusterError(`temporal-sql-tool ${args[0]} on ${db} failed: ${(res.stderr || res.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  };
  if (!hasSchema) tool(['setup-schema', '-v', '0.0']);
  tool(['update-schema', '-d', join(bins.schemaDir, schema, 'versioned')]);
}

async function hasSchemaVersion(url: string): Promise<boolean> {
  return withClient(url, async (client) => Boolean((await client.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version'")).rowCount));
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, logHint: string, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new ClusterError(`Interrupted while waiting for ${what}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new ClusterError(`${what} was not ready within ${Math.round(timeoutMs / 1000)} s (see ${logHint})`);
    await delay(500);
  }
}

/**
 * Starts the cluster: creates the folder, PostgreSQL and the schema on first use, then the services,
 * and returns once the namespace and the search attributes answer. Everything started is stopped again
 * if a step fails.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? (() => undefined);
  const bins = clusterBinaries();
  const dir = resolve(opts.dataDir ?? join('.data', 'cluster'));
  // Before anything is written: PostgreSQL's data goes in this folder or the cluster does not start.
  assertReachableByPostgres(join(dir, 'postgres'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const secrets = loadSecrets(dir);
  const numHistoryShards = shardCount(dir, opts.numHistoryShards);
  const historyHosts = opts.historyHosts ?? 2;
  const ports = clusterPorts(opts.frontendPort ?? 7233, historyHosts);
  const namespace = opts.namespace ?? 'default';
  const uiPort = opts.uiPort ?? 8080;
  const timeout = opts.readyTimeoutMs ?? 120_000;
  const address = `127.0.0.1:${ports.frontend.grpc}`;
  if (await isReachable(address)) throw new ClusterError(`Port ${ports.frontend.grpc} is already in use: stop what listens there, or choose another frontend port.`);

  const postgres: LocalPostgres = startLocalPostgres({ dir: join(dir, 'postgres'), port: ports.postgres, superuserPassword: secrets.postgresPassword, fast: opts.fast ?? false });
  log(`PostgreSQL on 127.0.0.1:${ports.postgres} (data in ${postgres.dir})`);
  const processes = new Map<string, ManagedProcess>();
  const pprof: Record<string, string> = {};
  // pg_ctl runs PostgreSQL as a daemon: a launcher that exits without stopping the cluster (an
  // uncaught error) must not leave it behind. The Temporal processes have their own exit handlers.
  const stopPostgresOnExit = () => {
    try {
      postgres.stop();
    } catch {
      // Exiting anyway; the next start adopts or restarts it.
    }
  };
  process.once('exit', stopPostgresOnExit);
  const stopAll = async () => {
    for (const name of ['ui', 'codec', 'frontend', 'worker', 'matching', ...ports.history.map((_, i) => `history-${i + 1}`)]) await processes.get(name)?.stop();
    process.removeListener('exit', stopPostgresOnExit);
    postgres.stop();
  };

  try {
    await ensureDatabases(postgres.adminUrl, secrets);
    const dbUrl = (db: string) => `postgres://temporal:${encodeURIComponent(secrets.temporalDbPassword)}@127.0.0.1:${ports.postgres}/${db}`;
    for (const [db, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      migrate(bins, ports.postgres, secrets.temporalDbPassword, db, schema, await hasSchemaVersion(dbUrl(db)));
    }
    log(`Temporal schema up to date in databases temporal and temporal_visibility (${numHistoryShards} history shards)`);
    if (opts.signal?.aborted) throw new ClusterError('Interrupted while starting');

    const common: Record<string, string> = {
      TEMPORAL_DB_HOST: '127.0.0.1',
      TEMPORAL_DB_PORT: String(ports.postgres),
      TEMPORAL_DB_USER: 'temporal',
      TEMPORAL_DB_PASSWORD: secrets.temporalDbPassword,
      NUM_HISTORY_SHARDS: String(numHistoryShards),
      BIND_ON_IP: '127.0.0.1',
      TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
      TEMPORAL_FRONTEND_ADDRESS: address,
      FRONTEND_GRPC_PORT: String(ports.frontend.grpc),
      FRONTEND_HTTP_PORT: String(ports.frontend.http),
      FRONTEND_MEMBERSHIP_PORT: String(ports.frontend.membership),
      MATCHING_GRPC_PORT: String(ports.matching.grpc),
      MATCHING_MEMBERSHIP_PORT: String(ports.matching.membership),
      WORKER_GRPC_PORT: String(ports.worker.grpc),
      WORKER_MEMBERSHIP_PORT: String(ports.worker.membership),
      HISTORY_GRPC_PORT: String(ports.history[0]!.grpc),
      HISTORY_MEMBERSHIP_PORT: String(ports.history[0]!.membership),
      PPROF_PORT: '0',
      DYNAMIC_CONFIG_FILE: join(DEPLOY, 'temporal', 'dynamicconfig', 'saga.yaml'),
      LOG_LEVEL: 'warn',
    };
    const serve = (name: string, service: string, metrics: number, pprofPort: number, extra: Record<string, string> = {}) => {
      if (opts.pprof) pprof[name] = `http://127.0.0.1:${pprofPort}`;
      const p = managedProcess({
        name,
        command: bins.server,
        args: ['--root', DEPLOY, '--config', 'temporal', '--env', 'saga', '--allow-no-auth', 'start', '--service', service],
        env: { ...common, PROMETHEUS_ENDPOINT: `127.0.0.1:${metrics}`, ...(opts.pprof ? { PPROF_PORT: String(pprofPort) } : {}), ...extra },
        logFile: join(logDir, `${name}.log`),
      });
      processes.set(name, p);
      return p;
    };
    ports.history.forEach((h, i) => serve(`history-${i + 1}`, 'history', h.metrics, ports.pprof.history[i]!, { HISTORY_GRPC_PORT: String(h.grpc), HISTORY_MEMBERSHIP_PORT: String(h.membership) }));
    serve('matching', 'matching', ports.matching.metrics, ports.pprof.matching);
    serve('frontend', 'frontend', ports.frontend.metrics, ports.pprof.frontend);
    serve('worker', 'worker', ports.worker.metrics, ports.pprof.worker);
    // localhost, not 127.0.0.1, in both URLs: the codec server's session cookie is SameSite=Strict,
    // and a browser on the UI's site sends it only to the same site.
    const uiUrl = `http://localhost:${uiPort}`;
    const codecUrl = `http://localhost:${ports.codec}`;
    processes.set(
      'codec',
      managedProcess({
        name: 'codec',
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, 'src', 'codec-server.ts')],
        env: {
          SAGA_CODEC_KEYS: secrets.codecKeys,
          SAGA_CODEC_SERVER_TOKEN: secrets.codecServerToken,
          SAGA_CODEC_SERVER_ENCODE_TOKEN: secrets.codecServerEncodeToken,
          SAGA_CODEC_SERVER_PORT: String(ports.codec),
          SAGA_CODEC_SERVER_ORIGINS: uiUrl,
          TEMPORAL_NAMESPACE: namespace,
        },
        logFile: join(logDir, 'codec.log'),
        cwd: ROOT,
      }),
    );
    processes.set(
      'ui',
      managedProcess({
        name: 'ui',
        command: bins.uiServer,
        args: ['--root', DEPLOY, '--config', 'ui', '--env', 'saga', 'start'],
        env: {
          TEMPORAL_ADDRESS: address,
          TEMPORAL_UI_PORT: String(uiPort),
          TEMPORAL_NAMESPACE: namespace,
          TEMPORAL_CODEC_ENDPOINT: codecUrl,
          TEMPORAL_CODEC_INCLUDE_CREDENTIALS: 'true',
        },
        logFile: join(logDir, 'ui.log'),
      }),
    );

    // The port that answers once a process serves; the internal worker service serves no gRPC.
    const readinessPort = (name: string): number => {
      if (name === 'frontend') return ports.frontend.grpc;
      if (name === 'matching') return ports.matching.grpc;
      if (name === 'worker') return ports.worker.membership;
      if (name === 'ui') return uiPort;
      if (name === 'codec') return ports.codec;
      const index = Number(/^history-(\d+)$/.exec(name)?.[1]);
      const port = ports.history[index - 1]?.grpc;
      if (port === undefined) throw new ClusterError(`No process named ${name}: ${[...processes.keys()].join(', ')}`);
      return port;
    };
    const serving = async (name: string) => {
      const p = processes.get(name);
      const logFile = p?.spec.logFile ?? logDir;
      await until(`${name}`, timeout, async () => {
        if (!p?.running) return false;
        return (await isReachable(`127.0.0.1:${readinessPort(name)}`, 500)) ? true : undefined;
      }, logFile, opts.signal).then((up) => {
        if (!up) throw new ClusterError(`${name} exited before it served (see ${logFile})`);
      });
      if (name === 'frontend') await until('the frontend', timeout, () => systemInfo(address), logFile, opts.signal);
    };
    const crashed = (name: string) =>
      void processes.get(name)?.exited().then((code) => {
        if (code !== null && code !== 0) log(`${name} exited with code ${code} (see ${processes.get(name)?.spec.logFile})`);
      });

    // The first process to start writes the cluster metadata; several at once on a fresh database
    // race for that write and the losers exit. One first, then the rest together.
    const temporalServices = [...processes.keys()].filter((name) => name !== 'ui' && name !== 'codec');
    const [first, ...rest] = temporalServices as [string, ...string[]];
    for (const group of [[first], rest]) {
      for (const name of group) {
        processes.get(name)?.start();
        crashed(name);
      }
      for (const name of group) await serving(name);
    }
    log(`Temporal services up: ${temporalServices.join(', ')}`);

    await registerNamespace(address, namespace, timeout, log, opts.signal);
    for (const name of ['codec', 'ui']) {
      processes.get(name)?.start();
      crashed(name);
      await serving(name);
    }

    const databaseUrl = `postgres://saga:${encodeURIComponent(secrets.sagaDbPassword)}@127.0.0.1:${ports.postgres}/saga`;
    return {
      address,
      namespace,
      uiUrl,
      codecUrl,
      databaseUrl,
      postgresUrl: postgres.adminUrl,
      postgresPid: postgres.pid(),
      secrets,
      numHistoryShards,
      processes,
      logDir,
      pprof,
      workerEnv: { NODE_ENV: 'development', TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, DATABASE_URL: databaseUrl, SAGA_CODEC_KEYS: secrets.codecKeys, TEMPORAL_UI_URL: uiUrl },
      async kill(name, signal = 'SIGKILL') {
        readinessPort(name);
        await processes.get(name)?.kill(signal);
      },
      async start(name) {
        readinessPort(name);
        processes.get(name)?.start();
        crashed(name);
        await serving(name);
      },
      async restart(name) {
        readinessPort(name);
        await processes.get(name)?.stop();
        processes.get(name)?.start();
        crashed(name);
        await serving(name);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

async function systemInfo(address: string): Promise<true | undefined> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** Registers the namespace and the sagas' search attributes when missing, and waits until both are served. */
async function registerNamespace(address: string, namespace: string, timeoutMs: number, log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const known = await connection.workflowService.describeNamespace({ namespace }).then(
      () => true,
      () => false,
    );
    if (!known) {
      await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
      log(`Registered namespace ${namespace} (retention 3 days)`);
    }
    // Every service caches namespaces and refreshes the cache every 10 s: a namespace just registered
    // is unknown to the history hosts until then.
    await until(`namespace ${namespace}`, timeoutMs, async () => ((await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 })) ? true : undefined), 'the frontend log', signal);
    if (!known) await delay(11_000);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = customSearchAttributes.filter((key) => !(key.name in (customAttributes ?? {})));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((key) => [key.name, KEYWORD])) });
      log(`Registered search attribute(s) ${missing.map((k) => k.name).join(', ')} in ${namespace}`);
    }
    await until('the search attributes', timeoutMs, async () => {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      return customSearchAttributes.every((key) => key.name in (listed.customAttributes ?? {})) ? true : undefined;
    }, 'the frontend log', signal);
  } finally {
    await connection.close();
  }
}
