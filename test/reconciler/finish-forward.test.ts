import { describe, expect, it } from 'vitest';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type WorkflowHandle } from '@temporalio/client';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import { audit } from '../../src/services';
import { createReconcilerActivities } from '../../src/reconciler/activities';
import { reconcileWorkflowId, type ReconcileResult } from '../../src/reconciler/contract';
import { terminateSaga } from '../../src/reconciler/terminate';
import { runCli } from '../../src/cli';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder, sampleRegistration } from '../support/samples';

// A saga terminated after its pivot keeps what it did, and the reconciler finishes what came after the
// pivot: the confirmation and welcome e-mails, sent once under the saga's own keys, from the saga's
// input read inside the activity, so no address or name enters the reconciler's history.

/** A mail step held until the test lets it go; `sendFirst` holds it after the mail went out instead of before. */
class Gate {
  entered!: () => void;
  readonly reached = new Promise<void>((resolve) => (this.entered = resolve));
  release!: () => void;
  readonly released = new Promise<void>((resolve) => (this.release = resolve));
  lateOutcome!: (outcome: unknown) => void;
  /** How the held call ended after the release. */
  readonly late = new Promise<unknown>((resolve) => (this.lateOutcome = resolve));
  constructor(readonly sendFirst = false) {}
}

const gates = new Map<string, Gate>();

function gate(id: string, sendFirst = false): Gate {
  const g = new Gate(sendFirst);
  gates.set(id, g);
  return g;
}

type Real = Parameters<NonNullable<Parameters<typeof useSagaTestbed>[0]>['activities'] & object>[0];
type Mail = (input: { orderId?: string; userId?: string }) => Promise<{ messageId: string }>;

function gated(real: Real): Real {
  const wrap = (fn: Mail): Mail => async (input) => {
    const g = gates.get(input.orderId ?? input.userId ?? '');
    if (!g) return fn(input);
    const settle = (call: Promise<{ messageId: string }>) => {
      call.then(
        (value) => g.lateOutcome({ ok: true, value }),
        (err: unknown) => g.lateOutcome({ ok: false, type: (err as { type?: string }).type }),
      );
      return call;
    };
    if (g.sendFirst) {
      const sent = await fn(input);
      g.entered();
      await g.released;
      return settle(Promise.resolve(sent));
    }
    g.entered();
    await g.released;
    return settle(fn(input));
  };
  return { ...real, sendOrderConfirmation: wrap(real.sendOrderConfirmation as Mail) as Real['sendOrderConfirmation'], sendWelcomeEmail: wrap(real.sendWelcomeEmail as Mail) as Real['sendWelcomeEmail'] };
}

const testbed = useSagaTestbed({ server: 'dev-server', activities: (real) => gated(real) });

function reconcile(workflowId: string, runId: string, id = reconcileWorkflowId(workflowId, runId)): Promise<ReconcileResult> {
  return testbed.env.client.workflow.execute('reconcileSaga', {
    taskQueue: testbed.taskQueue,
    workflowId: id,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    args: [{ workflowId, runId }],
  });
}

/** Everything a history holds, payloads read as text (this testbed's payloads are plain JSON, their data in base64). */
function historyText(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): string {
  return JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    return key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value;
  });
}

async function historyOf(workflowId: string, runId?: string): Promise<string> {
  return historyText(await testbed.env.client.workflow.getHandle(workflowId, runId).fetchHistory());
}

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const env = { NODE_ENV: 'test', TEMPORAL_ADDRESS: testbed.env.address, TEMPORAL_TASK_QUEUE: testbed.taskQueue };
  const code = await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (out += t), env });
  return { code, out };
}

async function confirmations(email: string) {
  return testbed.services.mail.outbox({ to: email, kind: 'order-confirmation' });
}

/** An order to its own address, held at its confirmation e-mail, then terminated. */
async function orderTerminatedAtItsMail(options: { sendFirst?: boolean; email?: string } = {}) {
  const input = sampleOrder();
  input.email = options.email ?? `ada.${input.orderId}@example.com`;
  const held = gate(input.orderId, options.sendFirst);
  const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
  await held.reached;
  const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });
  return { input, held, workflowId: handle.workflowId, runId };
}

describe('an order terminated after its shipment', () => {
  it('before its confirmation e-mail: sends it once, however often the reconciler runs and even when the held call arrives late', async () => {
    const { input, held, workflowId, runId } = await orderTerminatedAtItsMail();
    expect(await confirmations(input.email)).toHaveLength(0);

    const result = await reconcile(workflowId, runId);

    expect(result).toMatchObject({ outcome: 'FINISHED_FORWARD', undone: [], kept: ['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment'], finished: ['sendConfirmation'], forwardGaveUp: [], needsOperator: [] });
    const sent = await confirmations(input.email);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ status: 'sent', subject: `Your order ${input.orderId} is confirmed` });

    // The same run again: refused by its workflow id; and a reconciliation under another id sends nothing new.
    await expect(reconcile(workflowId, runId)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    const again = await reconcile(workflowId, runId, `${reconcileWorkflowId(workflowId, runId)}/again`);
    expect(again).toMatchObject({ outcome: 'FINISHED_FORWARD', finished: ['sendConfirmation'] });
    held.release();
    expect(await held.late).toEqual({ ok: true, value: { messageId: sent[0]!.messageId } });
    expect(await confirmations(input.email)).toHaveLength(1);
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
    expect((await audit(testbed.services)).problems).toEqual([]);
  });

  it("keeps the address and the name out of the reconciler's history, which the saga's own history holds", async () => {
    const { input, held, workflowId, runId } = await orderTerminatedAtItsMail();
    await reconcile(workflowId, runId);
    held.release();

    expect(await historyOf(workflowId, runId)).toContain(input.email);
    const reconciler = await historyOf(reconcileWorkflowId(workflowId, runId));
    expect(reconciler).toContain('finishForward');
    expect(reconciler).not.toContain(input.email);
    expect(reconciler).not.toContain(input.shippingAddress.name);
  });

  it('after its confirmation e-mail went out: sends no second one', async () => {
    const { input, held, workflowId, runId } = await orderTerminatedAtItsMail({ sendFirst: true });
    const sent = await confirmations(input.email);
    expect(sent).toHaveLength(1);

    const result = await reconcile(workflowId, runId);

    // The call was still running when the saga ended, so its history does not show it done: the
    // reconciler asks again under the saga's key, and the mail service answers with the first message.
    expect(result).toMatchObject({ outcome: 'FINISHED_FORWARD', finished: ['sendConfirmation'], needsOperator: [] });
    expect(await confirmations(input.email)).toEqual(sent);
    held.release();
    expect(await held.late).toEqual({ ok: true, value: { messageId: sent[0]!.messageId } });
    expect(await confirmations(input.email)).toEqual(sent);
  });

  it('whose confirmation bounces: still ends kept, reports the step given up, and hands nothing to an operator', async () => {
    const { input, held, workflowId, runId } = await orderTerminatedAtItsMail({ email: `nobody.${Date.now().toString(36)}@bounce.test` });

    const result = await reconcile(workflowId, runId);

    expect(result).toMatchObject({ outcome: 'KEPT_AFTER_PIVOT', undone: [], finished: [], forwardGaveUp: ['sendConfirmation'], needsOperator: [] });
    expect(await testbed.services.mail.outbox({ to: input.email })).toMatchObject([{ kind: 'order-confirmation', status: 'bounced' }]);
    // The bounce's failure names the address in its details: they stay out of the reconciler's history.
    const reconciler = await historyOf(reconcileWorkflowId(workflowId, runId));
    expect(reconciler).toContain('MailBounced');
    expect(reconciler).not.toContain(input.email);
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
    held.release();
  });
});

describe('the history the reconciler reads', () => {
  it("counts the confirmation of a completed order as done, and not that of one terminated before it", async () => {
    const reads = createReconcilerActivities({ client: testbed.env.client, ...testbed.services });
    const done = sampleOrder();
    const handle = await startOrder(testbed.env.client, done, { taskQueue: testbed.taskQueue });
    const { runId: doneRunId } = await handle.describe();
    await handle.result();
    const { workflowId, runId, held } = await orderTerminatedAtItsMail();

    expect((await reads.inspectSaga({ workflowId: handle.workflowId, runId: doneRunId })).completed).toContain('sendOrderConfirmation');
    const terminated = await reads.inspectSaga({ workflowId, runId });
    expect(terminated.completed).toContain('createShipment');
    expect(terminated.completed).not.toContain('sendOrderConfirmation');
    held.release();
  });
});

describe('a registration terminated after activation', () => {
  it('before its welcome e-mail: sends it once, and no address or name enters the reconciler', async () => {
    const input = sampleRegistration();
    const held = gate(input.userId);
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    let code: string | undefined;
    while (!(code = await testbed.services.mail.latestVerificationCode(input.email))) await new Promise((r) => setTimeout(r, 100));
    // The mail is in the outbox a moment before the registration, its send recorded, waits for the code.
    await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).toBe('waiting');
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] })).toMatchObject({ accepted: true, outcome: 'verified' });
    await held.reached;
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });
    const welcomes = () => testbed.services.mail.outbox({ to: input.email, kind: 'welcome' });
    expect(await welcomes()).toHaveLength(0);

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'FINISHED_FORWARD', undone: [], kept: ['createUser', 'activateUser'], finished: ['sendWelcome'], needsOperator: [] });
    expect(await welcomes()).toMatchObject([{ status: 'sent', subject: 'Welcome aboard' }]);
    expect((await testbed.services.users.get(input.userId))?.status).toBe('active');
    expect(await historyOf(handle.workflowId, runId)).toContain(input.email);
    const reconciler = await historyOf(reconcileWorkflowId(handle.workflowId, runId));
    expect(reconciler).not.toContain(input.email);
    expect(reconciler).not.toContain(input.name);
    held.release();
    await held.late;
    expect(await welcomes()).toHaveLength(1);
  });
});

describe('saga-client reconcile and status', () => {
  it('say what was finished forward, or would be in a dry run', async () => {
    const { input, held, workflowId } = await orderTerminatedAtItsMail();
    while ((await testbed.env.client.workflow.count(`WorkflowId = '${workflowId}' AND ExecutionStatus = 'Terminated'`)).count === 0) await new Promise((r) => setTimeout(r, 200));
    const query = `WorkflowId = '${workflowId}'`;

    const dry = await cli('reconcile', '--dry-run', '--query', query);
    expect(dry.out).toMatch(/FINISHED_FORWARD +order-\S+ {2}orderSaga: nothing to undo; kept reserveStock, authorizePayment, capturePayment, createShipment; would finish sendConfirmation/);
    expect(await confirmations(input.email)).toHaveLength(0);

    const real = await cli('reconcile', '--query', query);
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/FINISHED_FORWARD +order-\S+ {2}orderSaga: nothing to undo; kept .*createShipment; finished sendConfirmation/);
    expect(await confirmations(input.email)).toHaveLength(1);
    expect((await cli('status', '-w', workflowId)).out).toContain('Reconciled: FINISHED_FORWARD, nothing undone; finished sendConfirmation');
    held.release();
  });
});
