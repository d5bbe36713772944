import { existsSync, readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { secretWeakness } from './secret-strength';
import { DEFAULT_DATABASE_URL, redactUrl } from './services/db';
import { readNatsServers } from './broker/config';
import { FaultConfigError, faultConfigFromEnv, type FaultConfig } from './services/faults';
import { DEFAULT_TASK_QUEUE } from './shared/start-options';

/**
 * Configuration of the worker and the client, read from the environment and validated in one pass so
 * a misconfigured process stops at start with every problem listed, before it connects anywhere.
 */
export interface TemporalConfig {
  /** `host:port` of the Temporal frontend. @default "localhost:7233" (env `TEMPORAL_ADDRESS`) */
  address: string;
  /** @default "default" (env `TEMPORAL_NAMESPACE`) */
  namespace: string;
  /** Task queue the sagas run on. @default "sagas" (env `TEMPORAL_TASK_QUEUE`) */
  taskQueue: string;
  /** TLS settings, or undefined for plain text. Env: `TEMPORAL_TLS`, `TEMPORAL_TLS_CERT_PATH`, `TEMPORAL_TLS_KEY_PATH`, `TEMPORAL_TLS_CA_PATH`, `TEMPORAL_TLS_SERVER_NAME`. */
  tls: TLSConfig | undefined;
  /** API key sent as a bearer token (implies TLS). Env `TEMPORAL_API_KEY`. */
  apiKey: string | undefined;
  /** Base URL of the Web UI, for links printed by the client. @default "http://localhost:8233" (env `TEMPORAL_UI_URL`) */
  uiUrl: string;
  /**
   * Whether the process runs as production: every `NODE_ENV` but `development` and `test`, unset
   * included. Production requires `SAGA_ID_SECRET` and payload encryption.
   */
  production: boolean;
  /**
   * Key of the registration workflow ids' hash: every client and worker of a namespace must share it.
   * Env `SAGA_ID_SECRET` (at least 32 random characters; required in production). @default a public development value, outside production only
   */
  idSecret: string;
  /** Whether `idSecret` is the public development default (the worker says so in its log). */
  idSecretIsDevelopmentDefault: boolean;
}

export interface WorkerConfig extends TemporalConfig {
  /** `sqlite:<file>` or `postgres://…`. @default DEFAULT_DATABASE_URL, "sqlite:.data/saga.db" (env `DATABASE_URL`) */
  databaseUrl: string;
  /** Where operator alerts are mailed. @default "ops@saga.test" (env `OPERATOR_EMAIL`) */
  operatorEmail: string;
  /** Prebuilt workflow bundle (`npm run build:bundle`); when unset the worker bundles at start. Env `WORKFLOW_BUNDLE_PATH`. */
  workflowBundlePath: string | undefined;
  /** Fault injection (testing only), parsed from the JSON in env `SAGA_FAULTS`; refused unless `SAGA_FAULTS_ENABLED=true` when it turns any fault on. @default none */
  faults: FaultConfig | undefined;
  /** Max concurrent activity executions. @default 200 (env `WORKER_MAX_ACTIVITIES`) */
  maxConcurrentActivities: number;
  /** Max concurrent workflow tasks. @default 40 (env `WORKER_MAX_WORKFLOW_TASKS`) */
  maxConcurrentWorkflowTasks: number;
  /**
   * PostgreSQL connections: each running activity holds at most one, so more than the activity
   * concurrency is waste, and fewer makes activities wait (up to the connect timeout, then retry).
   * @default min(maxConcurrentActivities, 20) (env `DATABASE_POOL_SIZE`)
   */
  databasePoolSize: number;
  /** Longest wait for a PostgreSQL connection, in ms. @default 5000 (env `DATABASE_CONNECT_TIMEOUT_MS`) */
  databaseConnectTimeoutMs: number;
  /** Longest PostgreSQL statement, in ms. @default 30000 (env `DATABASE_STATEMENT_TIMEOUT_MS`) */
  databaseStatementTimeoutMs: number;
  /** Log level. @default "info" (env `LOG_LEVEL`) */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Worker Deployment Versioning (see `src/deployment`), or `undefined` when turned off with `SAGA_WORKER_VERSIONING=false`. @default on */
  versioning: VersioningConfig | undefined;
  /**
   * The NATS JetStream servers the broker-backed services are reached through (`nats://host:port`,
   * comma-separated for a cluster), or `undefined` to call them in process (one process, no broker).
   * @default none (env `SAGA_NATS_URL`)
   */
  natsServers: string[] | undefined;
}

/** The worker's place in a Worker Deployment: which deployment, which version of it. */
export interface VersioningConfig {
  /** Name of the Worker Deployment every saga worker of this fleet joins. @default "saga-temporal" (env `SAGA_DEPLOYMENT_NAME`) */
  deploymentName: string;
  /** Build id of this worker's version; when unset, `<package version>-<12 hex of the workflow bundle's SHA-256>`. Env `SAGA_BUILD_ID`. */
  buildId: string | undefined;
}

/** The deployment every saga worker joins unless `SAGA_DEPLOYMENT_NAME` says otherwise. */
export const DEFAULT_DEPLOYMENT_NAME = 'saga-temporal';

// Letters, digits, `_` and `-` for the name; a build id may also hold `.` and `+` (a semantic
// version). Neither may hold `:`, which joins the two in the server's version strings and queries.
const DEPLOYMENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const BUILD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

/** Checks a deployment name; returns the problem, or undefined when it is fine. */
export function deploymentNameProblem(name: string): string | undefined {
  return DEPLOYMENT_NAME_PATTERN.test(name) ? undefined : `"${name}" is not a deployment name (1 to 100 letters, digits, _ or -, starting with a letter or digit)`;
}

/** Checks a build id; returns the problem, or undefined when it is fine. */
export function buildIdProblem(buildId: string): string | undefined {
  return BUILD_ID_PATTERN.test(buildId) ? undefined : `"${buildId}" is not a build id (1 to 100 letters, digits, ., +, _ or -, starting with a letter or digit)`;
}

function readVersioning(env: Env, problems: string[]): VersioningConfig | undefined {
  const on = bool(env, 'SAGA_WORKER_VERSIONING', problems) ?? true;
  const deploymentName = env.SAGA_DEPLOYMENT_NAME || DEFAULT_DEPLOYMENT_NAME;
  const buildId = env.SAGA_BUILD_ID || undefined;
  const nameProblem = deploymentNameProblem(deploymentName);
  if (nameProblem) problems.push(`SAGA_DEPLOYMENT_NAME=${nameProblem}`);
  const idProblem = buildId === undefined ? undefined : buildIdProblem(buildId);
  if (idProblem) problems.push(`SAGA_BUILD_ID=${idProblem}`);
  if (!on && (env.SAGA_DEPLOYMENT_NAME || buildId)) problems.push('SAGA_WORKER_VERSIONING=false contradicts SAGA_DEPLOYMENT_NAME and SAGA_BUILD_ID (an unversioned worker joins no deployment)');
  return on ? { deploymentName, buildId } : undefined;
}

/**
 * The key of registration workflow ids when `SAGA_ID_SECRET` is unset. It is public, so ids made with
 * it can be recomputed by anyone: fine for development, refused in production.
 */
export const DEVELOPMENT_ID_SECRET = 'saga-temporal development id secret: public, set SAGA_ID_SECRET';

/** Thrown when the environment holds an invalid or incomplete configuration; lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Gathers the problems of several configuration readers, so that a start lists every one at once:
 * `read` runs one reader and keeps its {@link ConfigError}'s problems (any other error propagates).
 */
export function configProblems(): { problems: string[]; read<T>(load: () => T): T | undefined } {
  const problems: string[] = [];
  return {
    problems,
    read<T>(load: () => T): T | undefined {
      try {
        return load();
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(...err.problems);
        return undefined;
      }
    },
  };
}

type Env = Record<string, string | undefined>;

/** The `NODE_ENV` values that declare a development process; everything else, unset included, is production. */
export const DEVELOPMENT_MODES = ['development', 'test'] as const;

/**
 * Whether `env` runs as production. Fails closed: a typo (`Production`, `prod`) or a forgotten
 * `NODE_ENV` must not fall back to the public development keys, so only an explicit development or
 * test setting leaves production.
 */
export function isProduction(env: Env): boolean {
  return !(DEVELOPMENT_MODES as readonly (string | undefined)[]).includes(env.NODE_ENV);
}

function bool(env: Env, variable: string, problems: string[]): boolean | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  problems.push(`${variable}=${raw} is not a boolean (use true or false)`);
  return undefined;
}

function positiveInt(env: Env, variable: string, fallback: number, problems: string[]): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    problems.push(`${variable}=${raw} is not a positive integer`);
    return fallback;
  }
  return n;
}

/**
 * Today's names of the TLS file variables, read as aliases of the names the `temporal` CLI and the
 * SDKs' environment configuration use. A standard name wins over its alias.
 */
const TLS_ALIASES = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
} as const;

/** The variable (or profile key) that set a TLS file, for messages: the one the user wrote. */
function tlsSourceName(kind: 'CLIENT_CERT' | 'CLIENT_KEY' | 'SERVER_CA_CERT', env: Env): string {
  const alias = Object.entries(TLS_ALIASES).find(([, name]) => name === `TEMPORAL_TLS_${kind}_PATH`)?.[0];
  for (const name of [`TEMPORAL_TLS_${kind}_PATH`, `TEMPORAL_TLS_${kind}_DATA`, alias]) if (name && env[name]) return name;
  return `profile tls.${kind.toLowerCase()}_path`;
}

function readPem(source: ConfigDataSource | undefined, name: string, problems: string[]): Uint8Array | undefined {
  if (!source) return undefined;
  if (!('path' in source)) return typeof source.data === 'string' ? Buffer.from(source.data) : source.data;
  try {
    return readFileSync(source.path);
  } catch (err) {
    problems.push(`${name}=${source.path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return undefined;
  }
}

/**
 * The connection profile as the `temporal` CLI reads it: the TOML file (`TEMPORAL_CONFIG_FILE`, else
 * the user's `temporalio/temporal.toml`), its profile (`TEMPORAL_PROFILE`, else "default"), then the
 * standard `TEMPORAL_*` variables over it. Empty variables count as unset, as they always did here.
 */
function readProfile(env: Env, tlsFlag: boolean | undefined, problems: string[]): ClientConfigProfile {
  const standard: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value) standard[name] = value;
  for (const [alias, name] of Object.entries(TLS_ALIASES)) if (standard[alias] && !standard[name]) standard[name] = standard[alias];
  // Spellings such as "yes" or "off" are accepted here; envconfig knows only "1" and "true".
  if (tlsFlag === undefined) delete standard.TEMPORAL_TLS;
  else standard.TEMPORAL_TLS = String(tlsFlag);
  // envconfig reads a missing file as an empty one: a file named on purpose that is not there is a
  // typo, and the default profile it would fall back to is rarely what was meant.
  if (env.TEMPORAL_CONFIG_FILE && !existsSync(env.TEMPORAL_CONFIG_FILE)) {
    problems.push(`the Temporal client config file ${env.TEMPORAL_CONFIG_FILE} (--config-file, TEMPORAL_CONFIG_FILE) does not exist`);
    return {};
  }
  try {
    return loadClientConfigProfile({ overrideEnvVars: standard });
  } catch (err) {
    problems.push(`the Temporal client profile cannot be read: ${profileProblem(err, env)}`);
    return {};
  }
}

/**
 * What is wrong with the profile, without the file's content: the TOML parser quotes the lines
 * around the fault, and one of them may hold the API key. A parse error keeps the line number only;
 * any other message (a profile that the file lacks) keeps its first line.
 */
function profileProblem(err: unknown, env: Env): string {
  const message = err instanceof Error ? err.message : String(err);
  const file = env.TEMPORAL_CONFIG_FILE || 'the temporal.toml file';
  if (/^Invalid TOML/i.test(message)) {
    const quotedLines = [...message.matchAll(/^\s*(\d+):/gm)].map((m) => m[1]);
    const line = quotedLines.at(-1);
    return `${file} is not valid TOML${line ? ` (line ${line})` : ''}`;
  }
  return message.split('\n')[0] ?? '';
}

function readTemporal(env: Env, problems: string[]): TemporalConfig {
  // Problems are listed in the order of the settings: address first, then TLS.
  const flagProblems: string[] = [];
  const tlsFlag = bool(env, 'TEMPORAL_TLS', flagProblems);
  const profile = readProfile(env, tlsFlag, problems);
  const address = profile.address || 'localhost:7233';
  if (!/^[A-Za-z0-9.[\]:_-]+:\d{1,5}$/.test(address)) problems.push(`TEMPORAL_ADDRESS=${address} is not host:port`);
  problems.push(...flagProblems);
  const namespace = profile.namespace || 'default';
  const taskQueue = env.TEMPORAL_TASK_QUEUE || DEFAULT_TASK_QUEUE;
  const apiKey = profile.apiKey || undefined;

  const files = profile.tls ?? {};
  const certName = tlsSourceName('CLIENT_CERT', env);
  const keyName = tlsSourceName('CLIENT_KEY', env);
  // A certificate without its key (or the reverse) would silently fall back to server-only TLS: refuse.
  if (Boolean(files.clientCert) !== Boolean(files.clientKey)) {
    const counterpart = (name: string, from: string, to: string) => (name in TLS_ALIASES || name.startsWith('TEMPORAL_') ? name.replace(from, to) : name.replace(from.toLowerCase(), to.toLowerCase()));
    problems.push(
      files.clientCert
        ? `${certName} is set but ${counterpart(certName, 'CERT', 'KEY')} is missing: mTLS needs both`
        : `${keyName} is set but ${counterpart(keyName, 'KEY', 'CERT')} is missing: mTLS needs both`,
    );
  }
  const crt = readPem(files.clientCert, certName, problems);
  const key = readPem(files.clientKey, keyName, problems);
  const ca = readPem(files.serverCACert, tlsSourceName('SERVER_CA_CERT', env), problems);
  const serverName = files.serverName || undefined;
  const wantsTls = Boolean(files.clientCert || files.clientKey || files.serverCACert || serverName || apiKey);
  const tlsOn = tlsFlag ?? (files.disabled === undefined ? undefined : !files.disabled);
  if (tlsOn === false && wantsTls) {
    problems.push('TEMPORAL_TLS=false contradicts the TLS certificate, CA, server name or API key settings');
  }
  let tls: TLSConfig | undefined;
  if (tlsOn === true || (tlsOn === undefined && wantsTls)) {
    tls = {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    };
  }
  const uiUrl = (env.TEMPORAL_UI_URL || 'http://localhost:8233').replace(/\/+$/, '');
  const production = isProduction(env);
  const idSecret = env.SAGA_ID_SECRET || undefined;
  if (idSecret === undefined && production) {
    problems.push(
      `SAGA_ID_SECRET is missing: production (NODE_ENV=${env.NODE_ENV ?? 'unset'}) needs a secret key for registration workflow ids (e.g. openssl rand -base64 32); set NODE_ENV=development to run with the public development key`,
    );
  }
  if (idSecret !== undefined && idSecret.length < 32) problems.push('SAGA_ID_SECRET is shorter than 32 characters');
  else if (idSecret !== undefined) {
    const weakness = secretWeakness(idSecret);
    if (weakness) problems.push(`SAGA_ID_SECRET ${weakness}`);
  }
  return { address, namespace, taskQueue, tls, apiKey, uiUrl, production, idSecret: idSecret ?? DEVELOPMENT_ID_SECRET, idSecretIsDevelopmentDefault: idSecret === undefined };
}

/**
 * The client's connection flags, named as the `temporal` CLI names them, and the variable each one
 * overrides. A flag wins over its variable, which wins over the profile.
 */
export const CONNECTION_FLAGS = {
  address: 'TEMPORAL_ADDRESS',
  namespace: 'TEMPORAL_NAMESPACE',
  profile: 'TEMPORAL_PROFILE',
  'config-file': 'TEMPORAL_CONFIG_FILE',
  'api-key': 'TEMPORAL_API_KEY',
  tls: 'TEMPORAL_TLS',
  'codec-endpoint': 'TEMPORAL_CODEC_ENDPOINT',
  // The token itself has no flag: a command line is visible to everyone who can list processes.
  'codec-auth-file': 'TEMPORAL_CODEC_AUTH_FILE',
} as const;

/** The environment with the connection flags given (`--address`, `--profile`, `--tls`, …) written over their variables. */
export function withConnectionFlags(env: Env, flags: Readonly<Record<string, unknown>>): Env {
  const merged = { ...env };
  for (const [flag, variable] of Object.entries(CONNECTION_FLAGS)) {
    const value = flags[flag];
    if (typeof value === 'string') merged[variable] = value;
    else if (value === true) merged[variable] = 'true';
  }
  return merged;
}

/** Reads the client's configuration; throws {@link ConfigError} listing every problem. */
export function loadClientConfig(env: Env = process.env): TemporalConfig {
  const problems: string[] = [];
  const config = readTemporal(env, problems);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** `DATABASE_URL`, the services' database, shared by the worker, the carrier and the relay: `sqlite:…` or `postgres://…`. */
export function readDatabaseUrl(env: Env, problems: string[]): string {
  const databaseUrl = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) problems.push(`DATABASE_URL must start with sqlite: or postgres:// (got ${redactUrl(databaseUrl)})`);
  return databaseUrl;
}

/** `SAGA_FAULTS` (testing only), as the worker and the carrier read it; a refusal becomes one of `problems`. */
export function readFaults(env: Env, problems: string[]): FaultConfig | undefined {
  try {
    return faultConfigFromEnv(env);
  } catch (err) {
    if (!(err instanceof FaultConfigError)) throw err;
    problems.push(err.problems);
    return undefined;
  }
}

/** Reads the worker's configuration; throws {@link ConfigError} listing every problem. */
export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const problems: string[] = [];
  const temporal = readTemporal(env, problems);
  const databaseUrl = readDatabaseUrl(env, problems);
  const faults = readFaults(env, problems);
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  const maxConcurrentActivities = positiveInt(env, 'WORKER_MAX_ACTIVITIES', 200, problems);
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel} is not one of debug, info, warn, error`);
  const config: WorkerConfig = {
    ...temporal,
    databaseUrl,
    operatorEmail: env.OPERATOR_EMAIL || 'ops@saga.test',
    workflowBundlePath: env.WORKFLOW_BUNDLE_PATH || undefined,
    faults,
    maxConcurrentActivities,
    maxConcurrentWorkflowTasks: positiveInt(env, 'WORKER_MAX_WORKFLOW_TASKS', 40, problems),
    databasePoolSize: positiveInt(env, 'DATABASE_POOL_SIZE', Math.min(maxConcurrentActivities, 20), problems),
    databaseConnectTimeoutMs: positiveInt(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5_000, problems),
    databaseStatementTimeoutMs: positiveInt(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 30_000, problems),
    logLevel: logLevel as WorkerConfig['logLevel'],
    versioning: readVersioning(env, problems),
    natsServers: readNatsServers(env, problems),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}


/** The database options of a worker's configuration, for `createServices`. */
export function databaseOptions(config: WorkerConfig): { poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number } {
  return { poolSize: config.databasePoolSize, connectTimeoutMs: config.databaseConnectTimeoutMs, statementTimeoutMs: config.databaseStatementTimeoutMs };
}

/** Connection options shared by the client's `Connection` and the worker's `NativeConnection`. */
export function connectionOptions(config: TemporalConfig): { address: string; tls?: TLSConfig; apiKey?: string } {
  return {
    address: config.address,
    ...(config.tls ? { tls: config.tls } : {}),
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  };
}
