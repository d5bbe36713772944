import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, WorkflowIdReusePolicy } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { dataConverterFor, KeyRing } from '../../src/codec';
import { loadWorkerConfig } from '../../src/config';
import { startOrder } from '../../src/order/start';
import { reconcileWorkflowId, type ReconcileResult } from '../../src/reconciler/contract';
import { terminateSaga } from '../../src/reconciler/terminate';
import { createServices, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { sampleOrder } from '../support/samples';

// The worker as it runs in production, with payload encryption on: the reconciler's activity decodes
// the terminated order's encrypted input itself and mails its confirmation, and the reconciler's own
// history, even decoded, holds no address or name. The mail service answers slowly, so the order can
// be terminated after its shipment while its confirmation is still under way.

const dataConverter = dataConverterFor({ keyRing: new KeyRing([{ id: 'k1', key: randomBytes(32) }]) })!;
const codec = dataConverter.payloadCodecs![0]!;
const taskQueue = uniqueTaskQueue('finish-forward-encrypted');

let env: TestWorkflowEnvironment;
let client: Client;
let services: Services;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  env = await createDevServerEnv();
  client = new Client({ connection: env.connection, dataConverter });
  services = await createServices({ databaseUrl: 'sqlite::memory:', faults: { mail: { latencyMs: 4000 } } });
  const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: 'sqlite::memory:' });
  worker = await createSagaWorker({ connection: env.nativeConnection, config, services, overrides: { dataConverter } });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
});

function isPayload(value: unknown): value is Payload {
  return typeof value === 'object' && value !== null && (value as Payload).data instanceof Uint8Array && typeof (value as Payload).metadata === 'object';
}

/** Every payload of a history as text, those the codec encrypted decoded (search attributes are not encrypted). */
async function decodedPayloadText(value: unknown): Promise<string> {
  const found: Payload[] = [];
  const walk = (v: unknown): void => {
    if (isPayload(v)) found.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) Object.values(v).forEach(walk);
  };
  walk(value);
  const encrypted = (p: Payload) => Buffer.from(p.metadata?.encoding ?? new Uint8Array()).toString('utf8') === 'binary/encrypted';
  const decoded = [...found.filter((p) => !encrypted(p)), ...(await codec.decode(found.filter(encrypted)))];
  return decoded.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
}

describe('finishing forward with payload encryption on', () => {
  it("decodes the saga's input inside the activity, mails the confirmation once, and keeps the address out of its own history", async () => {
    const input = sampleOrder();
    input.email = `ada.${input.orderId}@example.com`;
    const handle = await startOrder(client, input, { taskQueue });
    while ((await services.shipping.get(input.orderId))?.status !== 'created') await new Promise((r) => setTimeout(r, 50));
    const { runId } = await terminateSaga(client, handle.workflowId, { reason: 'stuck in a test' });
    const sagaHistory = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();

    const result: ReconcileResult = await client.workflow.execute('reconcileSaga', {
      taskQueue,
      workflowId: reconcileWorkflowId(handle.workflowId, runId),
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      args: [{ workflowId: handle.workflowId, runId }],
    });

    expect(result).toMatchObject({ outcome: 'FINISHED_FORWARD', undone: [], finished: ['sendConfirmation'], forwardGaveUp: [], needsOperator: [] });
    const sent = await services.mail.outbox({ to: input.email, kind: 'order-confirmation' });
    expect(sent).toMatchObject([{ status: 'sent', subject: `Your order ${input.orderId} is confirmed` }]);
    // The saga's own call, slowed like the reconciler's, ends under the same key: still one mail.
    await new Promise((r) => setTimeout(r, 5000));
    expect(await services.mail.outbox({ to: input.email, kind: 'order-confirmation' })).toEqual(sent);

    expect(await decodedPayloadText(sagaHistory)).toContain(input.email);
    const reconciler = await decodedPayloadText(await client.workflow.getHandle(reconcileWorkflowId(handle.workflowId, runId)).fetchHistory());
    expect(reconciler).toContain(input.orderId);
    expect(reconciler).not.toContain(input.email);
    expect(reconciler).not.toContain(input.shippingAddress.name);
  });
});
