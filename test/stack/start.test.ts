import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isReachable } from '../../src/reachable';
import { startDevServer } from '../../tools/devserver';
import { freePort } from '../../scripts/lib/ports';

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
  it('starts its own dev server, runs the demo, prints the summary with Web UI links, and leaves no server behind', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const run = startScript(['--exit-after-demo', '--data-dir', tempDir(), '--ui-port', String(uiPort)], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(await run.exited, run.stdout()).toBe(0);
    const out = run.stdout();
    expect(out).toContain(`Starting the Temporal dev server on port ${port}`);
    expect(out).toContain('Demo summary');
    const link = `http://localhost:${uiPort}/namespaces/default/workflows/`;
    const rows = out.split('\n').filter((l) => l.includes(link));
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => /^order-\S+\s.*COMPLETED/.test(r))).toHaveLength(2);
    expect(rows.find((r) => r.includes('undeliverable'))).toMatch(/COMPENSATED\s+cancelShipment, refundPayment, .*releaseStock/);
    expect(rows.find((r) => r.includes('payment declined'))).toMatch(/COMPENSATED\s+.*voidPayment/);
    expect(rows.find((r) => r.includes('from the outbox'))).toMatch(/^registration-\S+\s.*COMPLETED\s+-\s+verified with code \d{6}/);
    expect(rows.find((r) => r.includes('bounce'))).toMatch(/COMPENSATED\s+.*deleteUser/);
    expect(out).toContain('Stopped.');
    expect(devServersOn(port)).toEqual([]);
    expect(await isReachable(`127.0.0.1:${port}`)).toBe(false);
  }, 180_000);

  it('runs until Ctrl-C, then drains the worker and stops its server', async () => {
    const port = await freePort();
    const run = startScript(['--no-demo', '--data-dir', tempDir()], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    await run.waitFor('The stack is running', 120_000);
    expect(devServersOn(port)).toHaveLength(1);
    run.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('Stopping: draining the worker, then the server');
    expect(run.stdout()).toContain('Stopped.');
    expect(devServersOn(port)).toEqual([]);
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
    expect(run.stdout()).toContain('Stopping: draining the worker, then the server');
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

  it('uses a Temporal server that already answers at TEMPORAL_ADDRESS and leaves it running', async () => {
    const port = await freePort();
    const server = await startDevServer({ port, uiPort: await freePort(), dbFile: null, logFile: null });
    try {
      const run = startScript(['--no-demo', '--exit-after-demo', '--data-dir', tempDir()], { TEMPORAL_ADDRESS: server.address });
      expect(await run.exited, run.stdout()).toBe(0);
      expect(run.stdout()).toContain(`Using the Temporal server at ${server.address}`);
      expect(run.stdout()).not.toContain('Starting the Temporal dev server');
      expect(await isReachable(server.address)).toBe(true);
    } finally {
      await server.stop();
    }
    expect(devServersOn(port)).toEqual([]);
  }, 180_000);
});
