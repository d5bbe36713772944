import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../tools/devserver';
import { freePort } from '../../scripts/lib/ports';

// Two `npm start` on one Temporal server, each with its own data folder (so its own database): the
// second must not join the first's task queue, where a saga's steps would run against both databases.

const root = resolve(__dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function npmStart(args: string[], env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'saga-second-stack-'));
  dirs.push(dir);
  const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'start.ts'), '--data-dir', dir, ...args], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'development', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    output: () => out,
    exited,
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
    async waitFor(text: string, timeoutMs: number) {
      for (const deadline = Date.now() + timeoutMs; !out.includes(text); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`"${text}" never appeared. Output:\n${out}`);
      }
    },
  };
}

describe('a second npm start on a server already in use', () => {
  it('stops before its worker polls, naming the task queue and the way out; with its own task queue it runs', async () => {
    const server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null });
    const first = npmStart(['--no-demo'], { TEMPORAL_ADDRESS: server.address });
    try {
      await first.waitFor('The stack is running', 120_000);
      // The server lists a worker once its first poll arrives, a moment after the stack says it runs.
      await new Promise((r) => setTimeout(r, 2_000));

      const second = npmStart(['--no-demo', '--exit-after-demo'], { TEMPORAL_ADDRESS: server.address });
      expect(await second.exited, second.output()).toBe(1);
      expect(second.output()).toMatch(/npm start failed: Task queue "sagas" is served by a worker on another database \(saga-worker \d+@\S+ db:[0-9a-f]{6}\)/);
      expect(second.output()).toContain('TEMPORAL_TASK_QUEUE=');
      expect(second.output()).not.toContain('Worker polling task queue');

      const own = npmStart(['--no-demo', '--exit-after-demo'], { TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: 'sagas-2' });
      expect(await own.exited, own.output()).toBe(0);
      expect(own.output()).toContain('Worker polling task queue "sagas-2"');
    } finally {
      await first.stop();
      await server.stop();
    }
  }, 240_000);
});
