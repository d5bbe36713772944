import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { runCli } from '../../src/cli';
import { dataConverterFor, failureConverterPath, KeyRing } from '../../src/codec';
import { createCodecServer, type CodecServer } from '../../src/codec/server';
import { loadWorkerConfig } from '../../src/config';
import { orderWorkflowId } from '../../src/order/start';
import { createServices, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { workflowPreloadModules } from '../../src/workflow-preload';
import { freePort } from '../../scripts/lib/ports';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { uniqueId } from '../support/samples';

// The payload's wire format, written out rather than imported: stored histories carry these names,
// so changing one is a breaking change the test must notice.
const ENCRYPTED_ENCODING = 'binary/encrypted';

// An operator's client with no keys: it encodes and decodes through the codec server
// (`--codec-endpoint`, `--codec-auth-file`), while the worker encrypts with the keys and the server
// stores only ciphertext. Starting a saga encodes its input, which takes the encode token.

const TOKEN = randomBytes(32).toString('base64url');
const ENCODE_TOKEN = randomBytes(32).toString('base64url');
const dataConverter = dataConverterFor({ keyRing: new KeyRing([{ id: 'k1', key: randomBytes(32) }]) })!;
const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error };

let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;
let dir: string;
let codecServer: CodecServer;
let codecUrl: string;
let tokenFile: string;
let encodeTokenFile: string;
const taskQueue = uniqueTaskQueue('cli-codec');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-cli-codec-'));
  tokenFile = join(dir, 'codec-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  encodeTokenFile = join(dir, 'codec-encode-token');
  writeFileSync(encodeTokenFile, `${ENCODE_TOKEN}\n`, { mode: 0o600 });
  const [devServer, bundle] = await Promise.all([
    createDevServerEnv(),
    bundleWorkflowCode({ workflowsPath: resolve(__dirname, '..', '..', 'src', 'workflows.ts'), preloadModules: [...workflowPreloadModules], failureConverterPath, logger: quietLogger }),
  ]);
  env = devServer;
  services = await createServices({ databaseUrl: `sqlite:${join(dir, 'saga.db')}` });
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: bundlePath });
  worker = await createSagaWorker({ connection: env.nativeConnection, config, services, overrides: { dataConverter } });
  running = worker.run();
  codecServer = createCodecServer({
    codec: dataConverter.payloadCodecs![0]!,
    token: TOKEN,
    encodeToken: ENCODE_TOKEN,
    allowedOrigins: ['http://localhost:8233'],
    namespace: 'default',
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  codecUrl = await codecServer.listen(0);
});

afterAll(async () => {
  await codecServer?.stop();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The client as an operator runs it: the server's address, no key anywhere in its environment. */
async function cli(argv: string[], extraEnv: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, ...extraEnv },
  });
  return { code, stdout, stderr };
}

/** The codec server flags: the viewer's token by default, the encode token to start a saga. */
const codec = (file = tokenFile) => ['--codec-endpoint', codecUrl, '--codec-auth-file', file];

/** The workflow's history exactly as the server stores it, as protobuf bytes. */
async function rawHistory(workflowId: string): Promise<Buffer> {
  const pages: Uint8Array[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId }, ...(nextPageToken ? { nextPageToken } : {}) });
    pages.push(temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse.encode(page).finish());
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return Buffer.concat(pages);
}

const id = randomBytes(4).toString('hex');
const customer = { email: `grace.hopper.${id}@example.com`, name: `Grace Hopper ${id}`, street: `${id} Harvard Yard` };
let workflowId: string;
let orderId: string;

describe('--codec-endpoint and --codec-auth-file', () => {
  it('starts an encrypted order through the codec server, with no keys in the client', async () => {
    orderId = uniqueId('codec');
    const started = await cli([
      'order',
      ...['--order-id', orderId, '--email', customer.email, '--item', 'sku-widget:2:1999', '--token', 'tok_visa'],
      ...['--name', customer.name, '--street', customer.street, '--city', 'Cambridge', '--postal-code', '02138', '--country', 'US'],
      ...codec(encodeTokenFile),
      '--wait',
    ]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/COMPLETED: shipped with .+, tracking/);
    workflowId = orderWorkflowId(orderId);
  });

  it('keeps only ciphertext in the history the server stores', async () => {
    const history = await rawHistory(workflowId);
    expect([customer.email, customer.name, customer.street, `Order ${orderId}: 2 items`].filter((secret) => history.includes(Buffer.from(secret)))).toEqual([]);
    expect(history.includes(Buffer.from(ENCRYPTED_ENCODING))).toBe(true);
  });

  it('shows the decoded saga with status: its summary, its steps and their results', async () => {
    const { code, stdout, stderr } = await cli(['status', orderId, ...codec()]);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`${workflowId}  orderSaga  saga COMPLETED  (workflow COMPLETED)`);
    expect(stdout).toContain(`Order ${orderId}: 2 items, 39.98 EUR`);
    expect(stdout).toMatch(new RegExp(`createShipment\\s+\\d+\\s+done \\(pivot\\)\\s+1\\s+\\S+\\s+cancelShipment: not needed\\s+Ship order ${orderId} to US`));
  });

  it('tells a client without keys or codec server what to set, in one line with exit code 2', async () => {
    const { code, stdout, stderr } = await cli(['status', orderId]);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/payloads are encrypted .*set SAGA_CODEC_KEYS .*or give --codec-endpoint/)]);
    expect(stderr).not.toContain('Unexpected error');
    expect(code).toBe(2);
  });

  it('reads the endpoint and the credentials from TEMPORAL_CODEC_ENDPOINT and TEMPORAL_CODEC_AUTH too', async () => {
    const { code, stdout } = await cli(['status', '-w', workflowId, '-o', 'json'], { TEMPORAL_CODEC_ENDPOINT: codecUrl, TEMPORAL_CODEC_AUTH: `Bearer ${TOKEN}` });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ summary: `Order ${orderId}: 2 items, 39.98 EUR`, state: { status: 'COMPLETED' } });
  });

  it('fails with one line and exit code 2 when the codec server refuses the token, before anything is sent', async () => {
    const wrong = await cli(['status', orderId, '--codec-endpoint', codecUrl], { TEMPORAL_CODEC_AUTH: 'Bearer not-the-token-at-all' });
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr.trim().split('\n')).toEqual([expect.stringContaining(`The codec server at ${codecUrl} refused the credentials (401`)]);
    expect(wrong.stderr).not.toContain('not-the-token-at-all');

    const refusedId = uniqueId('refused');
    const order = ['order', '--order-id', refusedId, '--email', customer.email, '--item', 'sku-widget:1:1999', '--token', 'tok_visa'];
    const unsent = await cli([...order, '--name', 'Grace', '--street', '1 Yard', '--city', 'Cambridge', '--postal-code', '02138', '--country', 'US', '--codec-endpoint', codecUrl, '-o', 'jsonl']);
    expect(unsent.code).toBe(2);
    expect(JSON.parse(unsent.stdout)).toEqual({ error: { message: expect.stringContaining('refused the credentials (401'), exitCode: 2 } });
    expect((await cli(['status', refusedId, ...codec()])).code).toBe(4);
  });

  it("refuses to start a saga with a viewer's token, which may decode only: nothing is sent", async () => {
    const viewerId = uniqueId('viewer');
    const order = ['order', '--order-id', viewerId, '--email', customer.email, '--item', 'sku-widget:1:1999', '--token', 'tok_visa'];
    const refused = await cli([...order, '--name', 'Grace', '--street', '1 Yard', '--city', 'Cambridge', '--postal-code', '02138', '--country', 'US', ...codec()]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refused the request (403 this token may decode only');
    expect((await cli(['status', viewerId, ...codec()])).code).toBe(4);
  });

  it('sends the namespace, which a codec server for another namespace refuses', async () => {
    const { code, stderr } = await cli(['status', orderId, ...codec(), '--namespace', 'sagas-elsewhere']);
    expect(code).toBe(2);
    expect(stderr).toContain(`The codec server at ${codecUrl} refused the request (403 this codec server serves namespace "default" only)`);
  });

  it('fails with one line and exit code 3 when no codec server answers', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await cli(['status', orderId, '--codec-endpoint', down, '--codec-auth-file', tokenFile]);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(`Cannot reach the codec server at ${down} (ECONNREFUSED)`)]);
  });
});
