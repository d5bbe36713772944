import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isReachable } from '../../src/reachable';
import { startDevServer } from '../../tools/devserver';
import { startNats } from '../../tools/nats';
import { freePort } from '../../scripts/lib/ports';
import { jsonLogEntries, natsShutdownTime } from '../support/process-logs';

// `npm start` as a person runs it: a child process, its output, its exit, and what it leaves behind.

const root = resolve(__dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'saga-stack-'));
  dirs.push(dir);
  return dir;
}


/** Live processes whose command line contains `text` (zombies not yet reaped count as gone). */
function processesWith(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${entry}: ${cmdline}`);
    } catch {
      continue;
    }
  }
  return found;
}

/** The carrier's and the relay's process ids, as npm start printed them. */
function startedPids(out: string): number[] {
  return [...out.matchAll(/Started the (?:carrier|relay) \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

/** Whether `pid` is a live process (a zombie not yet reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Dev server processes listening on `port`, found by their command line. */
function devServersOn(port: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('--port');
    if (args.includes('start-dev') && at >= 0 && args[at + 1] === String(port)) pids.push(Number(entry));
  }
  return pids;
}

interface Run {
  stdout: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
  waitFor: (text: string, timeoutMs: number) => Promise<void>;
}

/**
 * Runs `npm start`'s script under tsx, as npm does. `terminal`: in a process group of its own, so that
 * `kill` signals the whole group as a terminal's Ctrl-C does (tsx and the script each get it).
 */
function startScript(args: string[], env: Record<string, string | undefined>, options: { replaceEnv?: boolean; terminal?: boolean } = {}): Run {
  const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'start.ts'), ...args], {
    cwd: root,
    env: options.replaceEnv ? env : { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.terminal === true,
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    stdout: () => out,
    exited,
    kill: (signal) => (options.terminal && child.pid !== undefined ? process.kill(-child.pid, signal) : child.kill(signal)),
    async waitFor(text, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!out.includes(text)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`"${text}" never appeared. Output:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

describe('npm start', () => {
  it('starts its own dev server and broker, runs the demo with its shipments through the carrier process, prints the summary with Web UI links, and leaves nothing behind', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const dataDir = tempDir();
    // debug: the carrier logs each command it applied.
    const run = startScript(['--exit-after-demo', '--data-dir', dataDir, '--ui-port', String(uiPort)], { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, SAGA_NATS_URL: '', LOG_LEVEL: 'debug' });
    expect(await run.exited, run.stdout()).toBe(0);
    const out = run.stdout();
    expect(out).toContain(`Starting the Temporal dev server on port ${port}`);
    expect(out).toContain(`Starting NATS with JetStream`);
    expect(out).toContain(`(store in ${join(dataDir, 'nats')})`);
    expect(out).toMatch(/Broker: nats:\/\/127\.0\.0\.1:\d+ \(NATS JetStream, started here\)/);
    expect(out).toContain(`Started the carrier (pid `);
    expect(out).toContain(`logs in ${join(dataDir, 'carrier.log')}`);
    expect(out).toContain(`Started the relay (pid `);
    expect(readFileSync(join(dataDir, 'carrier.log'), 'utf8')).toContain('carrier ready (broker nats://127.0.0.1:');
    expect(readFileSync(join(dataDir, 'relay.log'), 'utf8')).toContain('outbox relay ready (stream ORDER_EVENTS');
    // The broker's file store is in the data folder.
    expect(readdirSync(join(dataDir, 'nats', 'nats-1'))).toContain('jetstream');
    expect(out).toContain('Demo summary');
    const link = `http://localhost:${uiPort}/namespaces/default/workflows/`;
    const rows = out.split('\n').filter((l) => l.includes(link));
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => /^order-\S+\s.*COMPLETED/.test(r))).toHaveLength(2);
    expect(rows.find((r) => r.includes('undeliverable'))).toMatch(/COMPENSATED\s+cancelShipment, refundPayment, .*releaseStock/);
    expect(rows.find((r) => r.includes('payment declined'))).toMatch(/COMPENSATED\s+.*voidPayment/);
    expect(rows.find((r) => r.includes('from the outbox'))).toMatch(/^registration-\S+\s.*COMPLETED\s+-\s+verified with code \d{6}/);
    expect(rows.find((r) => r.includes('bounce'))).toMatch(/COMPENSATED\s+.*deleteUser/);

    // Every shipment of the demo went through the carrier process: the two booked ones, the refused
    // one (AQ) and its cancellation, each applied once, by the carrier and not in the worker.
    const applied = jsonLogEntries(join(dataDir, 'carrier.log'), 'Command applied');
    const orderIds = rows.filter((r) => r.startsWith('order-')).map((r) => r.split(/\s+/)[0]!.slice('order-'.length));
    const completed = rows.filter((r) => /^order-\S+\s.*COMPLETED/.test(r)).map((r) => r.split(/\s+/)[0]!.slice('order-'.length));
    expect(completed).toHaveLength(2);
    for (const id of completed) {
      expect(applied.filter((a) => a.kind === 'create' && String(a.key).includes(id) && a.ok === true)).toHaveLength(1);
    }
    const undeliverable = rows.find((r) => r.includes('undeliverable'))!.split(/\s+/)[0]!.slice('order-'.length);
    expect(applied.filter((a) => a.kind === 'create' && String(a.key).includes(undeliverable))).toEqual([expect.objectContaining({ ok: false })]);
    expect(applied.filter((a) => a.kind === 'cancel' && String(a.key).includes(undeliverable))).toHaveLength(1);
    expect(applied.every((a) => orderIds.some((id) => String(a.key).includes(id)))).toBe(true);
    expect(readFileSync(join(dataDir, 'carrier.log'), 'utf8')).toContain('carrier stopped');

    expect(out).toContain('Stopped.');
    expect(devServersOn(port)).toEqual([]);
    expect(await isReachable(`127.0.0.1:${port}`)).toBe(false);
    // No carrier, relay or broker of this stack outlives it.
    expect(processesWith(dataDir)).toEqual([]);
    expect(startedPids(out).filter(alive)).toEqual([]);
  }, 240_000);

  it('runs until Ctrl-C, then drains the worker and stops the carrier, the relay, the broker and its server', async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const run = startScript(['--no-demo', '--data-dir', dataDir], { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, SAGA_NATS_URL: '' });
    await run.waitFor('The stack is running', 120_000);
    expect(devServersOn(port)).toHaveLength(1);
    const pids = startedPids(run.stdout());
    expect(pids).toHaveLength(2);
    const broker = /its broker at (nats:\/\/\S+?)\. /.exec(run.stdout())?.[1];
    expect(broker).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    // The broker runs from the data folder, with the carrier and the relay.
    expect(processesWith(dataDir).some((p) => p.includes('nats-server'))).toBe(true);
    expect(pids.every(alive)).toBe(true);
    run.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('Stopping: draining the worker, then the carrier and the relay, the broker, the server');
    expect(run.stdout()).toContain('Stopped.');
    expect(devServersOn(port)).toEqual([]);
    expect(processesWith(dataDir)).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(await isReachable(broker!.slice('nats://'.length))).toBe(false);
    // Both drained on SIGTERM rather than being killed.
    expect(readFileSync(join(dataDir, 'carrier.log'), 'utf8')).toContain('carrier stopped');
    expect(readFileSync(join(dataDir, 'relay.log'), 'utf8')).toContain('Outbox relay stopped');
    // In order: the worker stopped, then the relay was asked to stop, then the broker shut down.
    const workerStopped = jsonLogEntries(join(dataDir, 'worker.log'), 'Worker state changed').find((l) => l.state === 'STOPPED')?.time;
    const relayStopping = jsonLogEntries(join(dataDir, 'relay.log'), 'Outbox relay stopping')[0]?.time;
    const brokerShutdown = natsShutdownTime(join(dataDir, 'nats', 'nats-1.log'));
    expect(brokerShutdown).toBeDefined();
    expect(Date.parse(String(workerStopped))).toBeLessThanOrEqual(Date.parse(String(relayStopping)));
    expect(Date.parse(String(relayStopping))).toBeLessThanOrEqual(brokerShutdown!);
  }, 180_000);

  it('drains on a Ctrl-C delivered twice at once, and warns of fault injection and the development id key as npm run worker does', async () => {
    const port = await freePort();
    const { SAGA_ID_SECRET: _unset, ...inherited } = process.env;
    const run = startScript(['--no-demo', '--data-dir', tempDir()], {
      ...inherited,
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      SAGA_FAULTS: '{"payments":{"failOperations":["refund"]}}',
      SAGA_FAULTS_ENABLED: 'true',
    }, { replaceEnv: true, terminal: true });
    await run.waitFor('The stack is running', 120_000);
    expect(run.stdout()).toContain('Warning: FAULT INJECTION IS ON (SAGA_FAULTS)');
    expect(run.stdout()).toContain('Warning: SAGA_ID_SECRET is unset');
    // One press as the script can receive it: from the terminal, then again from tsx passing it on.
    run.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 50));
    run.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('Stopping: draining the worker, then the carrier and the relay, the broker, the server');
    expect(run.stdout()).toContain('Stopped.');
    expect(devServersOn(port)).toEqual([]);
  }, 180_000);

  it('refuses a --ui-port that is not a port number, exit code 2, before starting anything', async () => {
    const port = await freePort();
    const run = startScript(['--no-demo', '--data-dir', tempDir(), '--ui-port', 'abc'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(await run.exited).toBe(2);
    expect(run.stdout()).toContain('--ui-port must be a port number from 1 to 65535 (got "abc")');
    expect(run.stdout()).not.toContain('Starting the Temporal dev server');
    expect(devServersOn(port)).toEqual([]);
  }, 60_000);

  it('uses a Temporal server and a broker that already answer at TEMPORAL_ADDRESS and SAGA_NATS_URL, and leaves both running', async () => {
    const port = await freePort();
    const server = await startDevServer({ port, uiPort: await freePort(), dbFile: null, logFile: null });
    const nats = await startNats({ dataDir: tempDir() });
    try {
      const dataDir = tempDir();
      const run = startScript(['--no-demo', '--exit-after-demo', '--data-dir', dataDir], { TEMPORAL_ADDRESS: server.address, SAGA_NATS_URL: nats.servers[0] });
      expect(await run.exited, run.stdout()).toBe(0);
      expect(run.stdout()).toContain(`Using the Temporal server at ${server.address}`);
      expect(run.stdout()).not.toContain('Starting the Temporal dev server');
      expect(run.stdout()).toContain(`Using the NATS broker at ${nats.servers[0]}`);
      expect(run.stdout()).toContain(`Broker: ${nats.servers[0]} (NATS JetStream)`);
      expect(run.stdout()).not.toContain('Starting NATS');
      expect(readFileSync(join(dataDir, 'carrier.log'), 'utf8')).toContain(`carrier ready (broker ${nats.servers[0]}, replicas 1`);
      expect(await isReachable(server.address)).toBe(true);
      expect(nats.nodes[0]!.process.running).toBe(true);
      expect(await isReachable(nats.servers[0]!.slice('nats://'.length))).toBe(true);
    } finally {
      await nats.stop();
      await server.stop();
    }
    expect(devServersOn(port)).toEqual([]);
  }, 180_000);

  it('stops at a missing nats-server, naming the path, before starting the dev server', async () => {
    const port = await freePort();
    const run = startScript(['--no-demo', '--data-dir', tempDir()], { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, SAGA_NATS_URL: '', NATS_SERVER_PATH: '/nonexistent/nats-server' });
    expect(await run.exited).toBe(1);
    expect(run.stdout()).toContain('npm start failed: NATS_SERVER_PATH=/nonexistent/nats-server does not exist.');
    expect(run.stdout()).not.toContain('Starting the Temporal dev server');
    expect(devServersOn(port)).toEqual([]);
  }, 60_000);

  it('refuses SAGA_NATS_REPLICAS=3 for the one node it would start, exit code 1, before starting anything', async () => {
    const port = await freePort();
    const run = startScript(['--no-demo', '--data-dir', tempDir()], { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, SAGA_NATS_URL: '', SAGA_NATS_REPLICAS: '3' });
    expect(await run.exited).toBe(1);
    expect(run.stdout()).toContain('npm start failed: Invalid configuration:\n  - SAGA_NATS_REPLICAS=3 needs a cluster, and npm start starts one node');
    expect(run.stdout()).not.toContain('Starting the Temporal dev server');
    expect(run.stdout()).not.toContain('Starting NATS');
  }, 60_000);
});
