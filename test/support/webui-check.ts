import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { freePort } from '../../scripts/lib/ports';

// `npm run webui-check` as the Web UI tests run it: in a child process, against a dev server of its own
// on free ports, with its output kept to judge it by.

const root = resolve(__dirname, '..', '..');

/** The first eight bytes of every PNG file. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Runs `scripts/webui-check.ts` with `args` (the mode and its folders), a gRPC port and a Web UI port
 * of its own, and resolves with its exit code and everything it printed.
 */
export async function runWebUiCheck(args: readonly string[]): Promise<{ code: number | null; out: string }> {
  // Two distinct ports: the system may hand the same free port out twice in a row, and a dev server
  // asked to serve gRPC and its Web UI on one port exits at once.
  const port = await freePort();
  let uiPort = await freePort();
  while (uiPort === port) uiPort = await freePort();
  const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'webui-check.ts'), ...args, '--ui-port', String(uiPort)], {
    cwd: root,
    env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  return { code, out };
}
