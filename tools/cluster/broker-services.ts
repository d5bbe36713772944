// The processes that speak to the broker beside the worker (the carrier, the outbox relay), as `npm
// start` and `npm run cluster` run them: one list, each entry started as a child process with the
// stack's database and broker, ready once it prints its ready line into its log.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { managedProcess, type ManagedProcess } from './process';

const ROOT = resolve(__dirname, '..', '..');

/** One broker service: what it is called, which file runs it, and the line it prints once it serves. */
export interface BrokerService {
  /** Process and log name, e.g. "carrier" (its log is `<logDir>/<name>.log`). */
  name: string;
  /** Entry file, relative to the project's root. */
  entry: string;
  /** The start of the line the process prints once it serves. */
  readyLine: string;
}

/** The broker services every stack starts, in start order (stopped in reverse). */
export const brokerServices: readonly BrokerService[] = [
  { name: 'carrier', entry: join('src', 'carrier', 'main.ts'), readyLine: 'carrier ready' },
  { name: 'relay', entry: join('src', 'relay', 'main.ts'), readyLine: 'outbox relay ready' },
];

/** Thrown when a broker service's entry file is missing, or it exits or stays silent instead of printing its ready line. */
export class BrokerServiceError extends Error {
  override readonly name = 'BrokerServiceError';
  constructor(
    readonly service: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a broker service runs with. */
export interface BrokerServiceEnv {
  /** Every node's URL. */
  servers: readonly string[];
  /** Stream replicas, as the worker creates them. */
  replicas: 1 | 3 | 5;
  /** The services' database, the worker's. */
  databaseUrl: string;
  /** `LOG_LEVEL` of the process. @default "info" */
  logLevel?: string;
  /** Anything else the process needs (e.g. `NODE_ENV`). @default none */
  extra?: Record<string, string>;
}

/** How long a broker service may take to print its ready line. */
const READY_TIMEOUT_MS = 60_000;

/**
 * Starts `service` as a child process logging to `<logDir>/<name>.log` and waits for its ready line
 * (at most `readyTimeoutMs`, default 60 s; a process still silent then is stopped).
 */
export async function startBrokerService(service: BrokerService, env: BrokerServiceEnv, logDir: string, readyTimeoutMs = READY_TIMEOUT_MS): Promise<ManagedProcess> {
  const entry = join(ROOT, service.entry);
  if (!existsSync(entry)) throw new BrokerServiceError(service.name, `The ${service.name} cannot start: ${service.entry} does not exist.`);
  const logFile = join(logDir, `${service.name}.log`);
  const readyCount = () => {
    try {
      return readFileSync(logFile, 'utf8').split(service.readyLine).length - 1;
    } catch {
      return 0;
    }
  };
  const before = readyCount();
  const child = managedProcess({
    name: service.name,
    command: process.execPath,
    args: ['--import', 'tsx', entry],
    env: {
      // Not the launcher's own: the carrier serves metrics where SAGA_METRICS_ADDRESS says, and the
      // worker's address inherited here would take the worker's port. A launcher passes one in `extra`.
      SAGA_METRICS_ADDRESS: '',
      SAGA_NATS_URL: env.servers.join(','),
      SAGA_NATS_REPLICAS: String(env.replicas),
      DATABASE_URL: env.databaseUrl,
      LOG_LEVEL: env.logLevel ?? 'info',
      ...env.extra,
    },
    logFile,
    cwd: ROOT,
  });
  child.start();
  const deadline = Date.now() + readyTimeoutMs;
  while (readyCount() === before) {
    if (!child.running) throw new BrokerServiceError(service.name, `The ${service.name} exited before it was ready; see ${logFile}`);
    if (Date.now() > deadline) {
      await child.stop(5_000);
      throw new BrokerServiceError(service.name, `The ${service.name} did not print "${service.readyLine}" within ${Math.round(readyTimeoutMs / 1000)} s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

/** Whether a JetStream-enabled broker answers at any of `servers` within `timeoutMs`. */
export async function brokerAnswers(servers: readonly string[], timeoutMs = 2_000): Promise<boolean> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: [...servers], timeout: timeoutMs, reconnect: false });
    await (await jetstreamManager(nc, { timeout: timeoutMs })).getAccountInfo();
    return true;
  } catch {
    return false;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}
