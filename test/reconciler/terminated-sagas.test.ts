import { describe, expect, it } from 'vitest';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { audit } from '../../src/services';
import { reconcileWorkflowId, type ReconcileResult, type ReconcileSweepResult } from '../../src/reconciler/contract';
import { readTermination, terminateSaga } from '../../src/reconciler/terminate';
import { startsRunning } from '../../src/shared/start-options';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder, sampleRegistration } from '../support/samples';
import { waitUntil } from '../fixtures/saga-harness';

// Sagas ended from outside their code (terminated, timed out) get no chance to unwind: the reconciler
// undoes what they left standing, under their own keys, and keeps what a pivot made final.

/** A step held at its start until the test lets it go; calls made after that are the "late" ones. */
class Gate {
  entered!: () => void;
  readonly reached = new Promise<void>((resolve) => (this.entered = resolve));
  release!: () => void;
  readonly released = new Promise<void>((resolve) => (this.release = resolve));
  lateOutcome!: (outcome: unknown) => void;
  /** How the first call let go after the release ended. */
  readonly late = new Promise<unknown>((resolve) => (this.lateOutcome = resolve));
}

const gates = new Map<string, Gate>();

/** Orders whose saga's refund the provider refuses outright, so the saga waits in COMPENSATION_FAILED at once. */
const refusedRefunds = new Set<string>();
/** Orders whose refund the provider refuses to the reconciler as well. */
const refusedToReconciler = new Set<string>();

function gate(step: string, id: string): Gate {
  const g = new Gate();
  gates.set(`${step}/${id}`, g);
  return g;
}

type Real = Parameters<NonNullable<Parameters<typeof useSagaTestbed>[0]>['activities'] & object>[0];

function gated(real: Real): Real {
  const wrap = <K extends 'capturePayment' | 'createShipment' | 'sendOrderConfirmation'>(name: K): Real[K] =>
    (async (input: { orderId: string }) => {
      const g = gates.get(`${name}/${input.orderId}`);
      if (g) {
        g.entered();
        await g.released;
        const call = (real[name] as (i: unknown) => Promise<unknown>)(input);
        call.then(
          (value) => g.lateOutcome({ ok: true, value }),
          (err: unknown) => g.lateOutcome({ ok: false, type: (err as { type?: string }).type }),
        );
        return call;
      }
      return (real[name] as (i: unknown) => Promise<unknown>)(input);
    }) as Real[K];
  async function refundPayment(input: { orderId: string }) {
    if (refusedRefunds.has(input.orderId)) throw ApplicationFailure.nonRetryable('the provider refuses this refund', 'RefundRefused');
    return real.refundPayment(input);
  }
  async function undoStep(input: Parameters<Real['undoStep']>[0]) {
    if (input.compensation === 'refundPayment' && input.orderId && refusedToReconciler.has(input.orderId)) throw ApplicationFailure.nonRetryable('the provider refuses this refund', 'RefundRefused');
    return real.undoStep(input);
  }
  return { ...real, undoStep, capturePayment: wrap('capturePayment'), createShipment: wrap('createShipment'), sendOrderConfirmation: wrap('sendOrderConfirmation'), refundPayment };
}

const testbed = useSagaTestbed({ server: 'dev-server', activities: (real) => gated(real) });

async function waitForClose(handle: WorkflowHandle): Promise<string> {
  for (;;) {
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') return status.name;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function reconcile(workflowId: string, runId: string, dryRun = false): Promise<ReconcileResult> {
  return testbed.env.client.workflow.execute('reconcileSaga', {
    taskQueue: testbed.taskQueue,
    workflowId: dryRun ? `${reconcileWorkflowId(workflowId, runId)}/dry-run` : reconcileWorkflowId(workflowId, runId),
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    args: [{ workflowId, runId, dryRun }],
  });
}

async function books(orderId: string) {
  const { services } = testbed;
  return {
    reservations: (await services.inventory.reservations(orderId)).map((r) => r.status),
    payment: (await services.payments.get(orderId))?.status,
    shipment: (await services.shipping.get(orderId))?.status,
  };
}

async function expectBooksAgree(): Promise<void> {
  expect((await audit(testbed.services)).problems).toEqual([]);
}

describe('an order terminated mid-way', () => {
  it('after authorization: voids the payment and releases the stock, and the capture that arrives late is refused', async () => {
    const input = sampleOrder();
    const held = gate('capturePayment', input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await held.reached;
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'UNDONE', undone: ['authorizePayment', 'reserveStock'], kept: [], needsOperator: [] });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'voided', shipment: undefined });
    held.release();
    expect(await held.late).toEqual({ ok: false, type: 'StepAlreadyCompensated' });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'voided', shipment: undefined });
    await expectBooksAgree();
  });

  it('after capture: refunds, voids nothing captured twice, and releases the stock', async () => {
    const input = sampleOrder();
    const held = gate('createShipment', input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await held.reached;
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'UNDONE', undone: ['capturePayment', 'authorizePayment', 'reserveStock'], needsOperator: [] });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'refunded', shipment: undefined });
    held.release();
    expect(await held.late).toEqual({ ok: false, type: 'StepAlreadyCompensated' });
    expect((await books(input.orderId)).shipment).toBeUndefined();
    await expectBooksAgree();
  });

  it('after the pivot: keeps the shipment, the capture and the stock, undoes nothing, and sends the confirmation', async () => {
    const input = sampleOrder();
    const held = gate('sendOrderConfirmation', input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await held.reached;
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'FINISHED_FORWARD', undone: [], kept: ['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment'], finished: ['sendConfirmation'] });
    expect(await books(input.orderId)).toEqual({ reservations: ['held'], payment: 'captured', shipment: 'created' });
    held.release();
    await expectBooksAgree();
  });
});

describe('an order terminated while it waits for an operator in COMPENSATION_FAILED', () => {
  it('runs the compensations of what still stands, last first, under the saga keys: the refund the saga could not make', async () => {
    const input = sampleOrder({ shippingAddress: { name: 'Research Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' } });
    refusedRefunds.add(input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitUntil(async () => (await handle.query(sagaStateQuery)).status === SagaStatus.COMPENSATION_FAILED, 30_000);
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'captured', shipment: undefined });
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'refund settled out of band is not possible: let the reconciler retry' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'UNDONE', undone: ['capturePayment'], kept: [], needsOperator: [] });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'refunded', shipment: undefined });
    await expectBooksAgree();
  });

  it('hands the saga to an operator when the refund is refused to the reconciler too, and leaves the payment captured', async () => {
    const input = sampleOrder({ shippingAddress: { name: 'Research Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' } });
    refusedRefunds.add(input.orderId);
    refusedToReconciler.add(input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitUntil(async () => (await handle.query(sagaStateQuery)).status === SagaStatus.COMPENSATION_FAILED, 30_000);
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result.outcome).toBe('NEEDS_OPERATOR');
    expect(result.needsOperator).toEqual([expect.stringMatching(/^refundPayment of capturePayment gave up: .*refuses this refund/)]);
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'captured', shipment: undefined });
  });
});

describe('a registration terminated while waiting for its code', () => {
  it('deletes the pending account', async () => {
    const input = sampleRegistration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    while (!(await testbed.services.mail.latestVerificationCode(input.email))) await new Promise((r) => setTimeout(r, 100));
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'UNDONE', undone: ['createUser'] });
    expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
  });
});

describe('an order whose execution timeout fires', () => {
  it('is undone like a terminated one', async () => {
    const input = sampleOrder();
    const held = gate('capturePayment', input.orderId);
    // Started by hand: the order's starter refuses a timeout this short.
    const handle = await testbed.env.client.workflow.start('orderSaga', {
      taskQueue: testbed.taskQueue,
      workflowId: `order-${input.orderId}`,
      args: [input],
      workflowExecutionTimeout: '8 seconds',
      typedSearchAttributes: startsRunning,
    });
    await held.reached;
    expect(await waitForClose(handle)).toBe('TIMED_OUT');

    const result = await reconcile(handle.workflowId, handle.firstExecutionRunId);

    expect(result).toMatchObject({ outcome: 'UNDONE', undone: ['authorizePayment', 'reserveStock'] });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'voided', shipment: undefined });
    held.release();
    await expectBooksAgree();
  });
});

describe('the reconciler', () => {
  it('leaves a saga whose terminator kept its effects, and the termination says who and why', async () => {
    const input = sampleOrder();
    const held = gate('capturePayment', input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await held.reached;
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'refunding by phone', keepEffectsBy: 'grace' });

    const result = await reconcile(handle.workflowId, runId);

    expect(result).toMatchObject({ outcome: 'LEFT_TO_OPERATOR', undone: [], keptBy: { by: 'grace', reason: 'refunding by phone' } });
    expect(await books(input.orderId)).toEqual({ reservations: ['held'], payment: 'authorized', shipment: undefined });
    expect(await readTermination(testbed.env.client, handle.workflowId)).toMatchObject({ kept: { by: 'grace', reason: 'refunding by phone' } });
    held.release();
  });

  it('undoes nothing twice: a second reconciliation of the same run is refused, and a sweep skips it', async () => {
    const input = sampleOrder();
    const held = gate('capturePayment', input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await held.reached;
    const { runId } = await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });

    // Two at once: one runs, the other is refused or attaches to it.
    const [first, second] = await Promise.allSettled([reconcile(handle.workflowId, runId), reconcile(handle.workflowId, runId)]);
    const results = [first, second].filter((r) => r.status === 'fulfilled');
    expect(results).toHaveLength(1);
    expect([first, second].find((r) => r.status === 'rejected')?.reason).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    await expect(reconcile(handle.workflowId, runId)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

    const sweep: ReconcileSweepResult = await testbed.env.client.workflow.execute('reconcileSweep', {
      taskQueue: testbed.taskQueue,
      workflowId: `sweep-${input.orderId}`,
      args: [{ query: `WorkflowId = '${handle.workflowId}'` }],
    });
    expect(sweep).toMatchObject({ found: 0, results: [] });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'voided', shipment: undefined });
    held.release();
    await expectBooksAgree();
  });

  it('finds a terminated saga through visibility; a dry run reports it and changes nothing', async () => {
    const input = sampleOrder();
    const held = gate('createShipment', input.orderId);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await held.reached;
    await terminateSaga(testbed.env.client, handle.workflowId, { reason: 'stuck in a test' });
    const query = `WorkflowId = '${handle.workflowId}'`;
    // Visibility is eventually consistent: wait until the list sees the termination.
    while ((await testbed.env.client.workflow.count(`${query} AND ExecutionStatus = 'Terminated' AND ${SagaStatusKey.name} = '${SagaStatus.RUNNING}'`)).count === 0) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const barrierRows = async () => (await testbed.services.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM barriers'))?.n;
    const rowsBefore = await barrierRows();

    const dry: ReconcileSweepResult = await testbed.env.client.workflow.execute('reconcileSweep', {
      taskQueue: testbed.taskQueue,
      workflowId: `sweep-dry-${input.orderId}`,
      args: [{ query, dryRun: true }],
    });
    expect(dry).toMatchObject({ found: 1, results: [{ outcome: 'UNDONE', undone: ['capturePayment', 'authorizePayment', 'reserveStock'], dryRun: true }] });
    expect(await barrierRows()).toBe(rowsBefore);
    expect(await books(input.orderId)).toEqual({ reservations: ['held'], payment: 'captured', shipment: undefined });

    const real: ReconcileSweepResult = await testbed.env.client.workflow.execute('reconcileSweep', {
      taskQueue: testbed.taskQueue,
      workflowId: `sweep-${input.orderId}`,
      args: [{ query }],
    });
    expect(real).toMatchObject({ found: 1, results: [{ outcome: 'UNDONE', dryRun: false }] });
    expect(await books(input.orderId)).toEqual({ reservations: ['released'], payment: 'refunded', shipment: undefined });
    held.release();
    await expectBooksAgree();
  });
});
