// What the outbox tests share: the relay as a real child process (`src/relay/main.ts`, as `npm run
// relay` runs it) and a reading of the ORDER_EVENTS stream, message by message.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Db } from '../../src/services';

const root = resolve(__dirname, '..', '..');

/** A relay process started by {@link startRelayProcess}. */
export interface RelayProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code and signal once it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `src/relay/main.ts` with `env` on top of this process's environment; resolves once it printed
 * its ready line, or at once with `waitForReady: false` (a relay meant to crash may die before it).
 */
export async function startRelayProcess(env: Record<string, string>, { waitForReady = true, readyTimeoutMs = 60_000 } = {}): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'relay', 'main.ts')], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const relay: RelayProcess = {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (waitForReady && !output.includes('outbox relay ready (')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`The relay exited before it was ready:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The relay was not ready within ${readyTimeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return relay;
}

/** One message of the ORDER_EVENTS stream. */
export interface StreamEvent {
  seq: number;
  subject: string;
  eventId: string;
  orderId: string;
  outcome: string;
  event: Record<string, unknown>;
}

/** Every message in the ORDER_EVENTS stream, in stream order. */
export async function readOrderEvents(nc: NatsConnection): Promise<StreamEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('ORDER_EVENTS');
  const events: StreamEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage('ORDER_EVENTS', { seq });
    if (!message) continue;
    const event = message.json<Record<string, unknown>>();
    events.push({ seq, subject: message.subject, eventId: String(event.eventId), orderId: String(event.orderId), outcome: String(event.outcome), event });
  }
  return events;
}

/** The stream's messages about one order. */
export async function eventsOf(nc: NatsConnection, orderId: string): Promise<StreamEvent[]> {
  return (await readOrderEvents(nc)).filter((e) => e.orderId === orderId);
}

/** Polls `check` until it returns a value other than `undefined`, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The outbox rows of one order. */
export function outboxRowsOf(db: Db, orderId: string): Promise<{ event_id: string; outcome: string; published_at: string | null; stream_seq: number | null; payload: string }[]> {
  return db.all('SELECT event_id, outcome, published_at, stream_seq, payload FROM order_events WHERE order_id = ? ORDER BY created_at', [orderId]);
}
