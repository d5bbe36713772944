import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { spawnWorker, writeWorkflowBundle, type WorkerProcess } from '../fixtures/chaos-processes';
import { createDevServerEnv } from '../helpers';
import { runnableBlocks, type DocBlock } from './doc-blocks';

// The documentation's commands, run as a reader runs them: every block marked `<!-- doc-test -->`
// (see doc-blocks.ts) in README.md and docs/*.md, in order, in one shell session per file, against a
// dev server and a worker started here, as `npm start` would have them. A renamed flag or a changed
// message fails here, naming the file and the line of the block.

const root = resolve(__dirname, '..', '..');
const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocksByFile = files.map((file) => ({ file, blocks: runnableBlocks(root, file) })).filter((f) => f.blocks.length > 0);

let env: TestWorkflowEnvironment;
let dir: string;
let bundlePath: string;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-doc-blocks-'));
  [env, bundlePath] = await Promise.all([createDevServerEnv(), writeWorkflowBundle(dir)]);
  await restartWorker({});
});

afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Stops the worker, if any, and starts it again with `variables` (the database stays). */
async function restartWorker(variables: Record<string, string>): Promise<void> {
  await worker?.stop();
  worker = await spawnWorker({ address: env.address, taskQueue: 'sagas', databaseUrl: `sqlite:${join(dir, 'saga.db')}`, bundlePath, env: { NODE_ENV: 'development', ...variables } });
}

/** What a reader's shell holds once `npm start` runs: development, the stack's server, the default queue. */
function shellEnv(): Record<string, string | undefined> {
  // Nothing of the test runner's own Temporal, saga or database settings: only what a reader's shell has.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(TEMPORAL_|SAGA_|DATABASE_URL$)/.test(name)));
  return { ...inherited, NODE_ENV: 'development', TEMPORAL_ADDRESS: env.address, FORCE_COLOR: '0', NO_COLOR: '1' };
}

/**
 * Runs `block` in bash after the variables the file's earlier blocks exported (kept in `state`), and
 * saves the variables again; answers `y` to any prompt. Resolves with the exit code and the output.
 */
function runBlock(block: DocBlock, state: string): Promise<{ code: number | null; output: string }> {
  const script = `set -a; . '${state}'; set +a; set -eo pipefail\n${block.code}\nexport -p > '${state}'\n`;
  return new Promise((done) => {
    const child = spawn('bash', ['-c', script], { cwd: root, env: shellEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdin.end('y\n'.repeat(20));
    child.once('exit', (code) => done({ code, output }));
  });
}

/** Why the block's run does not match the documentation, or undefined when it does. */
function mismatch(block: DocBlock, run: { code: number | null; output: string }): string | undefined {
  const plain = run.output.replace(/\x1b\[[0-9;]*m/g, '');
  if (run.code !== 0) return `exited ${run.code ?? 'on a signal'}`;
  const missing = block.expected.filter((line) => !plain.includes(line));
  return missing.length ? `its output lacks:\n  ${missing.join('\n  ')}` : undefined;
}

describe.each(blocksByFile)('the runnable blocks of $file', ({ file, blocks }) => {
  const state = () => join(dir, `${file.replace(/\W/g, '_')}.env`);
  beforeAll(() => writeFileSync(state(), ''));

  it.each(blocks.map((block) => ({ where: `${block.file}:${block.line}`, block })))('$where runs as documented', async ({ where, block }) => {
    if (block.worker) await restartWorker(block.worker);
    const deadline = Date.now() + block.untilMs;
    for (;;) {
      const run = await runBlock(block, state());
      const problem = mismatch(block, run);
      if (!problem) return;
      if (Date.now() >= deadline) expect.fail(`${where}: the block ${problem}\n--- block ---\n${block.code}\n--- output ---\n${run.output}`);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }, 150_000);
});
