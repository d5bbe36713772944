import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type DataConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, ReplayError, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { dataConverterFor, failureConverterPath, KeyRing, type CodecKey } from '../../src/codec';
import { createCodecServer, type CodecServer } from '../../src/codec/server';
import { loadWorkerConfig } from '../../src/config';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { createServices, paymentTokens, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { contactWorkflow, noteSignal, refuseContactWorkflow, renameUpdate, stageQuery, type Contact, type ContactActivities } from '../fixtures/codec-workflows';

// The payload's wire format, written out rather than imported: stored histories carry these names,
// so changing one is a breaking change the test must notice.
const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_METADATA = 'encryption-key-id';

// End to end on a real server: with the codec on, the history the server stores (read raw, below
// every SDK decoding) holds no address, name or token in clear text; the same run without the codec
// shows them, which proves the scan would catch a leak.

const exec = promisify(execFile);
const TOKEN = randomBytes(32).toString('base64url');
const k1: CodecKey = { id: 'k1', key: randomBytes(32) };
const k2: CodecKey = { id: 'k2', key: randomBytes(32) };
const dataConverter = dataConverterFor({ keyRing: new KeyRing([k1]) })!;

let env: TestWorkflowEnvironment;
let codecClient: Client;
let fixtureBundle: WorkflowBundleWithSourceMap;
let codecServer: CodecServer;
let codecUrl: string;
const refusals: { route: unknown; status: unknown }[] = [];

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error };

beforeAll(async () => {
  [env, fixtureBundle] = await Promise.all([
    createDevServerEnv(),
    bundleWorkflowCode({ workflowsPath: resolve(__dirname, '..', 'fixtures', 'codec-workflows.ts'), failureConverterPath, logger: quietLogger }),
  ]);
  codecClient = new Client({ connection: env.connection, dataConverter });
  codecServer = createCodecServer({
    codec: dataConverter.payloadCodecs![0]!,
    token: TOKEN,
    allowedOrigins: ['http://localhost:8233'],
    namespace: 'default',
    logger: { info: () => undefined, warn: (_msg, meta) => refusals.push({ route: meta?.route, status: meta?.status }), error: () => undefined },
  });
  codecUrl = await codecServer.listen(0);
});
afterAll(async () => {
  await codecServer?.stop();
  await env?.teardown();
});

/** The workflow's history exactly as the server stores it: every page, as protobuf bytes. */
async function rawHistory(workflowId: string): Promise<Buffer> {
  const pages: Uint8Array[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await env.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    pages.push(temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse.encode(page).finish());
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return Buffer.concat(pages);
}

/** The secrets among `secrets` that appear in the bytes (as UTF-8, the way JSON payloads carry them). */
function clearTextIn(history: Buffer, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => history.includes(Buffer.from(secret, 'utf8')));
}

function newContact(): Contact {
  const id = randomBytes(4).toString('hex');
  return { email: `ada.lovelace.${id}@example.com`, name: `Ada Lovelace ${id}`, paymentToken: `tok_visa_${id}` };
}

const contactActivities: ContactActivities = {
  greetContact: async (contact) => `Hello ${contact.name}, we will write to ${contact.email}`,
  mailContact: async (email) => {
    throw ApplicationFailure.nonRetryable(`Mailbox ${email} does not exist`, 'MailBounced');
  },
};

/** Runs `contactWorkflow` to completion through `client`, with a worker using `converter`. */
async function runContactWorkflow(client: Client, converter: DataConverter | undefined, contact: Contact) {
  const taskQueue = uniqueTaskQueue('codec');
  const workflowId = `contact-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: fixtureBundle,
    activities: contactActivities,
    ...(converter ? { dataConverter: converter } : {}),
  });
  const result = await worker.runUntil(async () => {
    const handle = await client.workflow.start(contactWorkflow, {
      taskQueue,
      workflowId,
      args: [contact],
      memo: { contactEmail: contact.email },
      staticSummary: `Contact ${contact.name}`,
      staticDetails: `Write to ${contact.email}`,
    });
    await handle.signal(noteSignal, { note: `Call ${contact.name} back` });
    const renamed = await handle.executeUpdate(renameUpdate, { args: [`${contact.name} King`] });
    return { renamed, final: await handle.result() };
  });
  return { workflowId, ...result };
}

const secretsOf = (contact: Contact) => [contact.email, contact.name, contact.paymentToken, `${contact.name} King`];

describe('payload encryption on a real server: test workflow', () => {
  it('stores address, name and token in clear text without the codec (the scan finds leaks)', async () => {
    const contact = newContact();
    const { workflowId } = await runContactWorkflow(env.client, undefined, contact);
    expect(clearTextIn(await rawHistory(workflowId), secretsOf(contact))).toEqual(secretsOf(contact));
  });

  it('round-trips input, activity, failure, signal and update payloads through the codec', async () => {
    const contact = newContact();
    const { renamed, final } = await runContactWorkflow(codecClient, dataConverter, contact);
    expect(renamed).toBe(`Renamed ${contact.name} to ${contact.name} King`);
    expect(final).toEqual({
      greeting: `Hello ${contact.name}, we will write to ${contact.email}`,
      bounce: `Mailbox ${contact.email} does not exist`,
      note: `Call ${contact.name} back`,
      renamedTo: `${contact.name} King`,
    });
  });

  it('stores no address, name or token in clear text with the codec', async () => {
    const contact = newContact();
    const { workflowId } = await runContactWorkflow(codecClient, dataConverter, contact);
    const history = await rawHistory(workflowId);
    expect(clearTextIn(history, [...secretsOf(contact), 'Mailbox', 'Call Ada'])).toEqual([]);
    expect(history.includes(Buffer.from(ENCRYPTED_ENCODING))).toBe(true);
    expect(history.includes(Buffer.from('json/plain'))).toBe(false);

    const description = await codecClient.workflow.getHandle(workflowId).describe();
    expect(await description.memo).toEqual({ contactEmail: contact.email });
    expect(await description.staticSummary()).toBe(`Contact ${contact.name}`);
  });

  it('encrypts the message of a failure thrown by workflow code, and the client still reads it', async () => {
    const contact = newContact();
    const taskQueue = uniqueTaskQueue('codec');
    const workflowId = `refuse-${randomUUID()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: fixtureBundle, activities: contactActivities, dataConverter });
    const error = await worker.runUntil(codecClient.workflow.execute(refuseContactWorkflow, { taskQueue, workflowId, args: [contact] }).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause?.message).toBe(`Refusing ${contact.name} <${contact.email}>`);
    expect((cause as ApplicationFailure).type).toBe('InvalidInput');
    expect(clearTextIn(await rawHistory(workflowId), [...secretsOf(contact), 'Refusing'])).toEqual([]);
  });

  it('replays a recorded encrypted history with the same data converter, and after a key rotation', async () => {
    const { workflowId } = await runContactWorkflow(codecClient, dataConverter, newContact());
    const history = await codecClient.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: fixtureBundle, dataConverter, replayName: 'codec-replay' }, history);
    const rotated = dataConverterFor({ keyRing: new KeyRing([k2, k1]) })!;
    await Worker.runReplayHistory({ workflowBundle: fixtureBundle, dataConverter: rotated, replayName: 'codec-replay-rotated' }, history);
  });

  it('cannot replay an encrypted history without its key', async () => {
    const { workflowId } = await runContactWorkflow(codecClient, dataConverter, newContact());
    const history = await codecClient.workflow.getHandle(workflowId).fetchHistory();
    const withoutK1 = dataConverterFor({ keyRing: new KeyRing([k2]) })!;
    const error = await Worker.runReplayHistory({ workflowBundle: fixtureBundle, dataConverter: withoutK1, replayName: 'codec-replay-nokey' }, history).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ReplayError);
  });

  it('keeps workflows started under k1 running after k2 becomes the active key', async () => {
    const contact = newContact();
    const taskQueue = uniqueTaskQueue('codec');
    const workflowId = `rotate-${randomUUID()}`;
    // No workflow cache: the next worker must rebuild the workflow from the k1 history.
    const before = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: fixtureBundle,
      activities: contactActivities,
      dataConverter,
      maxCachedWorkflows: 0,
    });
    await before.runUntil(async () => {
      const handle = await codecClient.workflow.start(contactWorkflow, { taskQueue, workflowId, args: [contact] });
      while ((await handle.query(stageQuery)) !== 'waiting') await new Promise((r) => setTimeout(r, 50));
    });

    const rotated = dataConverterFor({ keyRing: new KeyRing([k2, k1]) })!;
    const rotatedClient = new Client({ connection: env.connection, dataConverter: rotated });
    const after = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: fixtureBundle, activities: contactActivities, dataConverter: rotated });
    const handle = rotatedClient.workflow.getHandle<typeof contactWorkflow>(workflowId);
    const final = await after.runUntil(async () => {
      await handle.signal(noteSignal, { note: 'written under k2' });
      await handle.executeUpdate(renameUpdate, { args: ['renamed under k2'] });
      return handle.result();
    });
    expect(final).toEqual({
      greeting: `Hello ${contact.name}, we will write to ${contact.email}`,
      bounce: `Mailbox ${contact.email} does not exist`,
      note: 'written under k2',
      renamedTo: 'renamed under k2',
    });

    const keyIdOf = (payloads: { metadata?: Record<string, Uint8Array> | null }[] | null | undefined) =>
      Buffer.from(payloads?.[0]?.metadata?.[KEY_ID_METADATA] ?? []).toString();
    const { events } = await handle.fetchHistory();
    expect(keyIdOf(events?.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes?.input?.payloads)).toBe('k1');
    expect(keyIdOf(events?.find((e) => e.workflowExecutionSignaledEventAttributes)?.workflowExecutionSignaledEventAttributes?.input?.payloads)).toBe('k2');
    expect(keyIdOf(events?.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes?.result?.payloads)).toBe('k2');
  });
});

describe('strict mode: with keys set, unencrypted payloads are refused', () => {
  it('a worker with keys refuses a saga started in plain text by a client without keys: no activity runs', async () => {
    const taskQueue = uniqueTaskQueue('strict');
    const workflowId = `contact-plain-${randomUUID()}`;
    let greeted = 0;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: fixtureBundle,
      activities: { ...contactActivities, greetContact: async (contact: Contact) => `${++greeted} ${contact.name}` },
      dataConverter,
    });
    const failedTask = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(contactWorkflow, { taskQueue, workflowId, args: [newContact()] });
      for (let i = 0; i < 100; i++) {
        const { events } = await handle.fetchHistory();
        const failed = events?.find((e) => e.workflowTaskFailedEventAttributes);
        if (failed) {
          await handle.terminate('refused in the test');
          return { failed, events: events! };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the worker never failed the plain-text workflow task');
    });
    // The failure itself is encrypted, like every failure message with the codec on.
    const encodedAttributes = failedTask.failed.workflowTaskFailedEventAttributes?.failure?.encodedAttributes;
    const [attributes] = await dataConverter.payloadCodecs![0]!.decode([encodedAttributes as Payload]);
    expect(defaultPayloadConverter.fromPayload<{ message: string }>(attributes!).message).toMatch(/unencrypted payload/);
    expect(failedTask.events.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(greeted).toBe(0);
  });

  it('a client with keys refuses to read a plain-text result', async () => {
    const { workflowId } = await runContactWorkflow(env.client, undefined, newContact());
    await expect(codecClient.workflow.getHandle(workflowId).result()).rejects.toThrow(/unencrypted payload/);
  });
});

describe('codec server with a real client of the protocol', () => {
  const temporalCli = resolve(__dirname, '..', '..', '.temporal', 'cli', 'temporal');
  const show = (workflowId: string, extra: string[]) =>
    exec(temporalCli, ['workflow', 'show', '--address', env.address, '--namespace', 'default', '--workflow-id', workflowId, '--output', 'json', ...extra], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() },
    });

  // JSON output keeps payloads as protobuf JSON: their data stays base64, decoded or not.
  const payloadText = (output: string) => [...output.matchAll(/"data": "([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');

  it('lets the temporal CLI show decoded payloads with the token, and only with it', async () => {
    const contact = newContact();
    const { workflowId } = await runContactWorkflow(codecClient, dataConverter, contact);

    const decoded = payloadText((await show(workflowId, ['--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${TOKEN}`])).stdout);
    expect(decoded).toContain(contact.email);
    expect(decoded).toContain(`Call ${contact.name} back`);

    // Without the token the CLI retries the refused decode until its command timeout, then fails.
    refusals.length = 0;
    const refused = await show(workflowId, ['--codec-endpoint', codecUrl, '--command-timeout', '2s']).then(
      (r) => ({ failed: false, output: r.stdout + r.stderr }),
      (e: { stdout?: string; stderr?: string }) => ({ failed: true, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(refused.failed).toBe(true);
    expect(payloadText(refused.output)).not.toContain(contact.email);
    expect(refusals).toContainEqual({ route: 'decode', status: 401 });
  });
});

describe('payload encryption on a real server: the sagas', () => {
  let services: Services;
  let sagaBundle: WorkflowBundleWithSourceMap;
  let bundleDir: string;
  let worker: Worker;
  let run: Promise<void>;
  const taskQueue = uniqueTaskQueue('codec-sagas');

  beforeAll(async () => {
    [services, sagaBundle] = await Promise.all([
      createServices({ databaseUrl: 'sqlite::memory:' }),
      bundleWorkflowCode({ workflowsPath: resolve(__dirname, '..', '..', 'src', 'workflows.ts'), failureConverterPath, logger: quietLogger }),
    ]);
    bundleDir = mkdtempSync(join(tmpdir(), 'saga-bundle-'));
    writeFileSync(join(bundleDir, 'workflows.js'), sagaBundle.code);
    const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: join(bundleDir, 'workflows.js'), DATABASE_URL: 'sqlite::memory:' });
    worker = await createSagaWorker({ connection: env.nativeConnection, config, services, overrides: { dataConverter } });
    run = worker.run();
  });
  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await run;
    await services?.close();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  it('runs an order saga without an address, name or payment token in clear text, and replays it', async () => {
    const id = randomBytes(4).toString('hex');
    const input = {
      orderId: `o-codec-${id}`,
      customerId: `c-${id}`,
      email: `charles.babbage.${id}@example.com`,
      items: [{ sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 }],
      payment: { token: paymentTokens.approved },
      shippingAddress: { name: `Charles Babbage ${id}`, line1: `${id} Difference Engine Lane`, city: 'Marylebone', postalCode: 'W1U 6AA', country: 'GB' },
    };
    const handle = await startOrder(codecClient, input, { taskQueue });
    await handle.result();

    const history = await rawHistory(handle.workflowId);
    expect(clearTextIn(history, [input.email, input.shippingAddress.name, input.shippingAddress.line1, 'Marylebone', paymentTokens.approved])).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: sagaBundle, dataConverter, replayName: 'codec-order' }, await handle.fetchHistory());
  });

  it('runs a registration saga without the address, the name or the verification code in clear text, and replays it', async () => {
    const id = randomBytes(4).toString('hex');
    const input = { email: `mary.somerville.${id}@example.com`, name: `Mary Somerville ${id}`, verificationTimeout: '1h' };
    const handle = await startRegistration(codecClient, input, { taskQueue });
    let code: string | undefined;
    for (let i = 0; i < 200 && !code; i++) {
      const state = await handle.query(verificationStateQuery);
      if (state.phase === 'waiting') code = await services.mail.latestVerificationCode(input.email);
      if (!code) await new Promise((r) => setTimeout(r, 50));
    }
    expect(code).toBeDefined();
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code! }] })).toMatchObject({ accepted: true });
    expect(await handle.result()).toMatchObject({ status: 'ACTIVE' });

    const history = await rawHistory(handle.workflowId);
    expect(clearTextIn(history, [input.email, input.name, code!])).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: sagaBundle, dataConverter, replayName: 'codec-registration' }, await handle.fetchHistory());
  });
});
