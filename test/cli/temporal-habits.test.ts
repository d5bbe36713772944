import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { runCli } from '../../src/cli';
import { loadWorkerConfig } from '../../src/config';
import { orderWorkflowId } from '../../src/order/start';
import { createServices, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { freePort } from '../../scripts/lib/ports';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { uniqueId } from '../support/samples';

// The client's habits taken from the `temporal` CLI, on a dev server with a real worker: output
// formats, -w/-r, count and --query, and the connection flags.

let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;
let dir: string;
const taskQueue = uniqueTaskQueue('cli-habits');
/** Workflow ids of two orders that ended before the tests: one completed, one compensated. */
let completed: string;
let compensated: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-cli-habits-'));
  env = await createDevServerEnv();
  services = await createServices({ databaseUrl: `sqlite:${join(dir, 'saga.db')}` });
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, (await workflowBundle()).code);
  const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: bundlePath });
  worker = await createSagaWorker({ connection: env.nativeConnection, config, services });
  running = worker.run();
  [completed, compensated] = await Promise.all([endedOrder('DE'), endedOrder('AQ')]);
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the client as a user would (in test mode) and collects what it printed; `environment` replaces the default one. */
async function cli(argv: string[], environment?: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { NODE_ENV: 'test', ...(environment ?? { TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue }) },
  });
  return { code, stdout, stderr };
}

const orderFlags = (orderId: string, country = 'DE') => [
  'order',
  ...['--order-id', orderId, '--email', 'ada@example.com', '--item', 'sku-widget:1:1999', '--token', 'tok_visa'],
  ...['--name', 'Ada Lovelace', '--street', '1 Main St', '--city', 'Berlin', '--postal-code', '10115', '--country', country],
];

/** Starts an order through the client and waits for it to end; its workflow id. */
async function endedOrder(country = 'DE'): Promise<string> {
  const orderId = uniqueId('habit');
  const { code, stderr } = await cli([...orderFlags(orderId, country), '--wait']);
  expect(code, stderr).toBe(country === 'DE' ? 0 : 1);
  return orderWorkflowId(orderId);
}

/** Repeats a visibility read until `done` holds: visibility follows the workflows a moment later. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !done(value); i++) {
    await new Promise((r) => setTimeout(r, 200));
    value = await read();
  }
  return value;
}


describe('-o, --output', () => {
  it('prints one compact JSON object per saga with -o jsonl', async () => {
    const query = `WorkflowId = '${completed}' OR WorkflowId = '${compensated}'`;
    const { code, stdout } = await eventually(
      () => cli(['list', '-o', 'jsonl', '--query', query]),
      (r) => r.stdout.trim().split('\n').length === 2,
    );
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { workflowId: string }).workflowId).sort()).toEqual([completed, compensated].sort());
    expect(lines.every((l) => !l.includes('\n') && l.startsWith('{'))).toBe(true);
  });

  it('prints one indented array with -o json, the same as --json', async () => {
    const query = `WorkflowId = '${completed}'`;
    const json = await eventually(
      () => cli(['list', '-o', 'json', '--query', query]),
      (r) => r.stdout.includes(completed),
    );
    expect(json.stdout.split('\n').length).toBeGreaterThan(3);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ workflowId: completed, sagaStatus: 'COMPLETED' })]);
    expect(JSON.parse((await cli(['list', '--json', '--query', query])).stdout)).toEqual(JSON.parse(json.stdout));
  });

  it('prints a single result on one line with -o jsonl, and as indented JSON with --output json', async () => {
    const line = await cli(['status', completed, '-o', 'jsonl']);
    expect(line.code).toBe(0);
    expect(line.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(line.stdout)).toMatchObject({ workflowId: completed, sagaStatus: 'COMPLETED' });
    const indented = await cli(['status', completed, '--output=json']);
    expect(JSON.parse(indented.stdout)).toEqual(JSON.parse(line.stdout));
    expect(indented.stdout.trim().split('\n').length).toBeGreaterThan(1);
  });

  it('gives errors as {"error": …} on stdout under -o jsonl', async () => {
    const { code, stdout, stderr } = await cli(['status', 'no-such-order', '-o', 'jsonl']);
    expect(code).toBe(4);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(stdout)).toEqual({ error: { message: expect.stringContaining('order-no-such-order'), exitCode: 4 } });
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an unknown format, naming the choices, before contacting any server', async () => {
    const { code, stderr } = await cli(['list', '-o', 'yaml'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(code).toBe(2);
    expect(stderr).toContain('-o/--output must be one of text, json, jsonl (got "yaml")');
  });

  it('refuses --json next to another format', async () => {
    const { code, stderr } = await cli(['list', '--json', '-o', 'text'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(code).toBe(2);
    expect(stderr).toContain('--json contradicts -o text');
  });
});

describe('-w, --workflow-id and -r, --run-id', () => {
  it('finds a saga by -w as by its positional id', async () => {
    const byFlag = await cli(['status', '-w', completed, '-o', 'json']);
    expect(byFlag.code).toBe(0);
    expect(JSON.parse(byFlag.stdout)).toEqual(JSON.parse((await cli(['status', completed, '-o', 'json'])).stdout));
    expect((await cli(['status', '--workflow-id', completed])).stdout).toContain(`${completed}  orderSaga  saga COMPLETED`);
  });

  it('takes -w as the exact workflow id, not as an order id', async () => {
    const bareOrderId = completed.replace(/^order-/, '');
    expect((await cli(['status', bareOrderId])).code).toBe(0);
    const exact = await cli(['status', '-w', bareOrderId]);
    expect(exact.code).toBe(4);
    expect(exact.stderr).toContain(`looked for workflow id ${bareOrderId})`);
  });

  it('reaches the commands that act on a saga through the same lookup', async () => {
    const { code, stderr } = await cli(['cancel', '-w', compensated]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${compensated} has already ended (FAILED)`);
  });

  it('refuses a positional id and -w together', async () => {
    const { code, stderr } = await cli(['cancel', completed, '-w', completed]);
    expect(code).toBe(2);
    expect(stderr).toContain('give the saga either as <id> or with -w/--workflow-id, not both');
  });

  it('tells whoever types the old `status <id> -w` that -w is the workflow id now and --watch watches', async () => {
    for (const argv of [
      ['status', completed, '-w'],
      ['status', completed, '-w', completed],
    ]) {
      const { code, stderr } = await cli(argv);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain('-w now means --workflow-id, as in the temporal CLI: use --watch to redraw live');
    }
  });

  it('shows an older run with -r after a reset, and the latest run without it', async () => {
    const workflowId = await endedOrder('DE');
    const handle = env.client.workflow.getHandle(workflowId);
    const { runId: oldRunId } = await handle.describe();
    const history = await handle.fetchHistory();
    const firstTask = history.events?.find((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    const { runId: newRunId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId, runId: oldRunId },
      workflowTaskFinishEventId: firstTask?.eventId,
      requestId: randomUUID(),
      reason: 'a test of -r',
    });
    await env.client.workflow.getHandle(workflowId, newRunId).result();

    const latest = JSON.parse((await cli(['status', '-w', workflowId, '-o', 'json'])).stdout) as { runId: string };
    expect(latest.runId).toBe(newRunId);
    const older = await cli(['status', '-w', workflowId, '-r', oldRunId, '-o', 'json']);
    expect(older.code).toBe(0);
    expect(JSON.parse(older.stdout)).toMatchObject({ workflowId, runId: oldRunId });
    expect((await cli(['status', workflowId, '--run-id', oldRunId, '-o', 'json'])).stdout).toContain(oldRunId);
  });

  it('answers a run id that does not exist with "not found", exit code 4', async () => {
    for (const runId of [randomUUID(), 'not-a-run-id']) {
      const { code, stderr } = await cli(['status', '-w', completed, '-r', runId]);
      expect(code).toBe(4);
      expect(stderr).toContain(`No saga found for "${completed}" with run id ${runId}`);
    }
  });
});

describe('count and list --query', () => {
  const both = () => `WorkflowId = '${completed}' OR WorkflowId = '${compensated}'`;

  it('counts the sagas a query finds, per saga status', async () => {
    const { code, stdout } = await eventually(
      () => cli(['count', '--query', both(), '-o', 'json']),
      (r) => r.code === 0 && (JSON.parse(r.stdout) as { byStatus: Record<string, number> }).byStatus.COMPENSATED === 1,
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      query: expect.stringContaining(completed),
      count: 2,
      byStatus: { RUNNING: 0, COMPLETED: 1, COMPENSATING: 0, COMPENSATED: 1, COMPENSATION_FAILED: 0, CANCELLED: 0, FORWARD_FAILED: 0 },
    });
    const text = await cli(['count', '--query', both()]);
    expect(text.stdout).toMatch(/SAGA STATUS\s+COUNT/);
    expect(text.stdout).toMatch(/COMPENSATED\s+1\n/);
    expect(text.stdout).toMatch(/total\s+2/);
  });

  it('prints the number alone with --status', async () => {
    const { code, stdout } = await eventually(
      () => cli(['count', '--status', 'compensated', '--query', both()]),
      (r) => r.stdout.trim() === '1',
    );
    expect(code).toBe(0);
    expect(stdout).toBe('1\n');
  });

  it('ANDs --query with --status in list', async () => {
    const match = await eventually(
      () => cli(['list', '--status', 'COMPLETED', '--query', both(), '-o', 'json']),
      (r) => r.stdout.includes(completed),
    );
    expect((JSON.parse(match.stdout) as { workflowId: string }[]).map((r) => r.workflowId)).toEqual([completed]);
    const none = await cli(['list', '--status', 'RUNNING', '--query', both()]);
    expect(none).toMatchObject({ code: 0, stdout: 'No sagas in status RUNNING.\n' });
  });

  it.each([['list'], ['count']])('refuses a malformed query in %s with one line and exit code 2', async (command) => {
    const { code, stdout, stderr } = await cli([command, '--query', "WorkflowId = = 'x'"]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('The server refused the visibility query');
  });

  it.each([['list'], ['count']])('in %s, places an error in the text of --query, never at a position of the query the server runs', async (command) => {
    const typo = await cli([command, '--query', "WorkflowId = 'x' ORR WorkflowId = 'y'"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("near 'ORR' (at character 18 of --query)");
    expect(typo.stderr).not.toMatch(/position \d+/);
    const open = await cli([command, '--query', "WorkflowId = 'x' OR (WorkflowType = 'orderSaga'"]);
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('a parenthesis is never closed (at character 21)');
  });
});

describe('connection flags', () => {
  let file: string;
  let deadAddress: string;

  beforeAll(async () => {
    deadAddress = `127.0.0.1:${await freePort()}`;
    file = join(dir, 'temporal.toml');
    writeFileSync(file, ['[profile.default]', `address = "${deadAddress}"`, '[profile.sagas]', `address = "${env.address}"`, 'namespace = "default"', ''].join('\n'));
  });

  it('connects with the profile --profile names in the file --config-file names', async () => {
    const { code, stderr } = await cli(['count', '--config-file', file, '--profile', 'sagas'], { TEMPORAL_TASK_QUEUE: taskQueue });
    expect(code, stderr).toBe(0);
  });

  it("uses the file's default profile without --profile, and --address over it", async () => {
    const dead = await cli(['count', '--config-file', file], { TEMPORAL_TASK_QUEUE: taskQueue });
    expect(dead.code).toBe(3);
    expect(dead.stderr).toContain(`Cannot reach the Temporal server at ${deadAddress}`);
    expect((await cli(['count', '--config-file', file, '--address', env.address], { TEMPORAL_TASK_QUEUE: taskQueue })).code).toBe(0);
  });

  it('refuses a profile the file does not have, as a configuration error', async () => {
    const { code, stderr } = await cli(['count', '--config-file', file, '--profile', 'staging'], {});
    expect(code).toBe(2);
    expect(stderr).toContain("Profile 'staging' not found");
  });
});
