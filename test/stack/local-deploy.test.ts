import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/ports';
import { startDevServer } from '../../tools/devserver';

// `npm start` is a local deploy of one: restarted with new workflow code (here a new SAGA_BUILD_ID)
// on a server that keeps its state, it makes its own version current, or its demo's sagas would go to
// the previous version, whose worker is gone, and wait for ever.

const root = resolve(__dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function npmStart(dir: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'start.ts'), '--data-dir', dir, '--exit-after-demo'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'development', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  process.once('exit', () => child.kill('SIGKILL'));
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  return { code, out };
}

describe('npm start on a server that ran an older version', () => {
  it('makes the version it runs current, and its demo completes on it', async () => {
    const server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null });
    // One data folder, so one services database: a restart of the same stack.
    const dir = mkdtempSync(join(tmpdir(), 'saga-local-deploy-'));
    dirs.push(dir);
    try {
      const first = await npmStart(dir, { TEMPORAL_ADDRESS: server.address, SAGA_BUILD_ID: 'local-1' });
      expect(first.code, first.out).toBe(0);
      expect(first.out).toContain('Deployment saga-temporal: version local-1, current');

      const second = await npmStart(dir, { TEMPORAL_ADDRESS: server.address, SAGA_BUILD_ID: 'local-2' });
      expect(second.code, second.out).toBe(0);
      expect(second.out).toContain('Deployment saga-temporal: local-2 is now current (was local-1)');
      expect(second.out).toContain('Demo summary');
    } finally {
      await server.stop();
    }
  }, 300_000);
});
