import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { startDevServer } from '../../tools/devserver';
import { freePort } from '../../scripts/lib/ports';

// `npm start` leaves the reconciler's Schedule on the server it used, created once: a second start
// finds it and says so.

const root = resolve(__dirname, '..', '..');

function npmStart(address: string, dataDir: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'start.ts'), '--no-demo', '--exit-after-demo', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, TEMPORAL_ADDRESS: address },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((done) => child.once('exit', (code) => done({ code, out })));
}

describe('npm start', () => {
  it('creates the reconciler Schedule (every 5 minutes, overlap skip) once', async () => {
    const server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null });
    const dataDir = mkdtempSync(join(tmpdir(), 'saga-schedule-'));
    const connection = await Connection.connect({ address: server.address });
    try {
      const first = await npmStart(server.address, dataDir);
      expect(first.code, first.out).toBe(0);
      expect(first.out).toContain('Reconciler schedule saga-reconciler created: every 5 minutes');
      const described = await new Client({ connection }).schedule.getHandle('saga-reconciler').describe();
      expect(described.spec.intervals?.map((i) => i.every)).toEqual([300_000]);
      expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileSweep', taskQueue: 'sagas' });

      const second = await npmStart(server.address, dataDir);
      expect(second.code, second.out).toBe(0);
      expect(second.out).toContain('Reconciler schedule saga-reconciler present');
    } finally {
      await connection.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
