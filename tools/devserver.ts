import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { isReachable } from '../src/reachable';
import { customSearchAttributes } from '../src/shared/search-attributes';
import { temporalCli } from './temporal-binaries';

// The local Temporal dev server as a child process of the stack: persisted to a SQLite file so the
// Web UI still shows yesterday's sagas, with the custom search attributes registered at launch.

/** Where and how the dev server runs. */
export interface DevServerOptions {
  /** Front-end gRPC port. @default 7233 */
  port?: number;
  /** Web UI port. @default port + 1000 (8233) */
  uiPort?: number;
  /** SQLite file the server persists to; `null` keeps everything in memory. @default ".data/temporal.db" */
  dbFile?: string | null;
  /** Address the server binds to. @default "127.0.0.1" */
  ip?: string;
  /** Server log level. @default "warn" */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** File receiving the server's output; `null` discards it. @default ".data/temporal-server.log" */
  logFile?: string | null;
  /** How long to wait for the server to answer. @default 60_000 */
  startTimeoutMs?: number;
  /** Codec server the Web UI sends payloads to for decoding (`npm run codec-server`). @default none */
  codecEndpoint?: string;
  /** Dynamic config values (`--dynamic-config-value key=value`), on top of {@link sagaDynamicConfig}. @default none */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/** A dev server started by {@link startDevServer}. */
export interface DevServer {
  /** `host:port` of the gRPC front end. */
  address: string;
  /** Base URL of the Web UI. */
  uiUrl: string;
  /** Process id of the server. */
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Thrown when the dev server cannot be started, or exits or stays silent before it is ready. */
export class DevServerError extends Error {
  override readonly name = 'DevServerError';
}

const KEYWORD = 'Keyword';

/**
 * The server settings the sagas run with, here as in `deploy/temporal/dynamicconfig/saga.yaml`:
 * eager activity execution, so a workflow task that schedules a step hands the step's activity task
 * straight back to the worker that completed it, instead of through a task queue poll (off by default
 * in Temporal; `npm run bench -- --levers eager-activities` measures it).
 */
export const sagaDynamicConfig: Readonly<Record<string, string | number | boolean>> = {
  'system.enableActivityEagerExecution': true,
};

/** The last line of the server's log, as a sentence to append to an error: why it stopped, usually. */
function lastLogLine(logFile: string | null | undefined): string {
  if (!logFile) return '';
  try {
    const line = readFileSync(logFile, 'utf8').trim().split('\n').at(-1)?.trim();
    return line ? ` Its last words: ${line.slice(0, 500)}` : '';
  } catch {
    return '';
  }
}

/** `--dynamic-config-value key=value` arguments of `temporal server start-dev` for `config` (values as JSON). */
export function dynamicConfigArgs(config: Readonly<Record<string, string | number | boolean>> = sagaDynamicConfig): string[] {
  return Object.entries(config).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/** The `temporal server start-dev` arguments for these options. */
export function devServerArgs(opts: DevServerOptions = {}): string[] {
  const port = opts.port ?? 7233;
  const dbFile = opts.dbFile === undefined ? '.data/temporal.db' : opts.dbFile;
  return [
    'server',
    'start-dev',
    '--ip',
    opts.ip ?? '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(opts.uiPort ?? port + 1000),
    '--log-level',
    opts.logLevel ?? 'warn',
    '--ui-disable-news-fetch',
    ...(dbFile ? ['--db-filename', resolve(dbFile)] : []),
    ...(opts.codecEndpoint ? ['--ui-codec-endpoint', opts.codecEndpoint] : []),
    ...dynamicConfigArgs({ ...sagaDynamicConfig, ...opts.dynamicConfig }),
    ...customSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${KEYWORD}`]),
  ];
}

/**
 * Starts `temporal server start-dev` and resolves once it answers and knows the custom search
 * attributes. The server is killed if this process exits without stopping it, so a crash of the
 * stack leaves no server behind.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const executable = temporalCli();
  if (executable.type !== 'existing-path') {
    throw new DevServerError('The Temporal CLI is not installed: run `npm run install-temporal` (or set TEMPORAL_CLI_PATH).');
  }
  const port = opts.port ?? 7233;
  const ip = opts.ip ?? '127.0.0.1';
  const address = `${ip}:${port}`;
  const uiUrl = `http://localhost:${opts.uiPort ?? port + 1000}`;
  if (await isReachable(address)) throw new DevServerError(`Port ${port} is already in use: cannot start a dev server at ${address}.`);

  const dbFile = opts.dbFile === undefined ? '.data/temporal.db' : opts.dbFile;
  if (dbFile) mkdirSync(dirname(resolve(dbFile)), { recursive: true });
  const logFile = opts.logFile === undefined ? '.data/temporal-server.log' : opts.logFile;
  let logFd: number | 'ignore' = 'ignore';
  if (logFile) {
    mkdirSync(dirname(resolve(logFile)), { recursive: true });
    logFd = openSync(logFile, 'a');
  }

  // Its own process group: a Ctrl-C in the terminal reaches the stack, which drains the worker
  // before it stops the server, instead of both at once. Without the OTEL_* variables that turn the
  // sagas' traces on: the server would read them as its own, and refuses `console`.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
  const child = spawn(executable.path, devServerArgs(opts), { stdio: ['ignore', logFd, logFd], detached: true, env });
  if (typeof logFd === 'number') closeSync(logFd);
  const exited = new Promise<number | null>((done) => child.once('exit', (code, signal) => done(signal ? null : code)));
  const spawnFailed = new Promise<never>((_, fail) => child.once('error', (err) => fail(new DevServerError(`Cannot run the Temporal CLI: ${err.message}`))));
  spawnFailed.catch(() => undefined);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    await terminate(child, exited);
  };

  try {
    await Promise.race([
      waitUntilReady(address, opts.startTimeoutMs ?? 60_000),
      spawnFailed,
      exited.then((code) => {
        throw new DevServerError(`The Temporal dev server exited with code ${code} before it was ready${logFile ? ` (see ${logFile})` : ''}.${lastLogLine(logFile)}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl, pid: child.pid ?? -1, stop };
}

async function terminate(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), delay(10_000).then(() => false)]);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitUntilReady(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isReachable(address, 500)) {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 }).catch(() => undefined);
      if (connection) {
        try {
          // The CLI registers search attributes just after the front end opens: wait for them too.
          const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
          const known = Object.keys(customAttributes ?? {});
          if (customSearchAttributes.every((key) => known.includes(key.name))) return;
        } catch {
          // Not serving yet.
        } finally {
          await connection.close();
        }
      }
    }
    await delay(250);
  }
  throw new DevServerError(`The Temporal dev server did not answer at ${address} within ${Math.round(timeoutMs / 1000)} s.`);
}

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
