import { describe, expect, it } from 'vitest';
import { closedUnsettled, closedUnsettledQuery, reconcileWorkflowId } from '../../src/reconciler/contract';
import { decide, outcomeAfterForward, reconcilePlans } from '../../src/reconciler/plans';
import type { EffectRow } from '../../src/reconciler/contract';

// The reconciler's pure decisions: which closed sagas it takes, and what it undoes of one.

const order = reconcilePlans.orderSaga!;
const did = (service: string, step: string): EffectRow => ({ service, step, op: 'try', writtenBy: 'try' });
const undid = (service: string, step: string): EffectRow => ({ service, step, op: 'cancel', writtenBy: 'cancel' });

describe('which closed sagas the reconciler takes', () => {
  it.each([
    ['TERMINATED', 'RUNNING', true],
    ['TIMED_OUT', 'COMPENSATING', true],
    ['FAILED', 'RUNNING', true],
    ['TERMINATED', undefined, true],
    ['TERMINATED', 'COMPENSATION_FAILED', true],
    ['TIMED_OUT', 'COMPENSATION_FAILED', true],
    ['FAILED', 'COMPENSATION_FAILED', false],
    ['TERMINATED', 'COMPENSATED', false],
    ['COMPLETED', 'COMPLETED', false],
    ['CANCELED', 'CANCELLED', false],
    ['TERMINATED', 'FORWARD_FAILED', false],
    ['RUNNING', 'RUNNING', false],
    ['CONTINUED_AS_NEW', 'RUNNING', false],
  ] as const)('workflow %s with SagaStatus %s: %s', (workflowStatus, sagaStatus, taken) => {
    expect(closedUnsettled(workflowStatus, sagaStatus)).toBe(taken);
  });

  it('lists them through visibility on one task queue, quotes doubled', () => {
    expect(closedUnsettledQuery('SagaStatus', "it's")).toBe(
      "ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew' AND TaskQueue = 'it''s' AND " +
        "(SagaStatus IN ('RUNNING', 'COMPENSATING') OR (SagaStatus = 'COMPENSATION_FAILED' AND ExecutionStatus IN ('Terminated', 'TimedOut')))",
    );
  });

  it('reconciles each saga run under one workflow id', () => {
    expect(reconcileWorkflowId('order-o-1', 'run-1')).toBe('reconcile/order-o-1/run-1');
  });
});

describe("what the reconciler undoes of an order", () => {
  it('runs every compensation, last first, and reports as undone only the steps that stood', () => {
    const decision = decide(order, [did('inventory', 'reserveStock'), did('payments', 'authorizePayment')], []);
    expect(decision.outcome).toBe('UNDONE');
    expect(decision.compensate.map((s) => s.compensation)).toEqual(['cancelShipment', 'refundPayment', 'voidPayment', 'releaseStock']);
    expect(decision.undone).toEqual(['authorizePayment', 'reserveStock']);
  });

  it('counts a step its saga already compensated as not standing', () => {
    const decision = decide(order, [did('inventory', 'reserveStock'), undid('inventory', 'reserveStock'), did('payments', 'authorizePayment')], []);
    expect(decision.undone).toEqual(['authorizePayment']);
  });

  it('undoes nothing once the shipment, its pivot, stands', () => {
    const rows = ['reserveStock', 'authorizePayment', 'capturePayment'].map((s) => did(s === 'reserveStock' ? 'inventory' : 'payments', s));
    const decision = decide(order, [...rows, did('shipping', 'createShipment')], ['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment', 'sendOrderConfirmation']);
    expect(decision).toEqual({ outcome: 'KEPT_AFTER_PIVOT', compensate: [], undone: [], kept: ['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment'], finishForward: [] });
  });

  it('finds nothing standing when no step took effect', () => {
    expect(decide(order, [], []).outcome).toBe('NOTHING_STOOD');
  });

  it('keeps an activated registration, and deletes a pending one', () => {
    const registration = reconcilePlans.registrationSaga!;
    expect(decide(registration, [did('users', 'createUser'), did('users', 'activateUser')], ['createUser', 'activateUser', 'sendWelcomeEmail']).outcome).toBe('KEPT_AFTER_PIVOT');
    expect(decide(registration, [did('users', 'createUser')], ['createUser'])).toMatchObject({ outcome: 'UNDONE', undone: ['createUser'], finishForward: [] });
  });
});

describe('what the reconciler finishes forward after a standing pivot', () => {
  const shipped = [did('inventory', 'reserveStock'), did('payments', 'authorizePayment'), did('payments', 'capturePayment'), did('shipping', 'createShipment')];

  it("names each saga's steps after its pivot by the activity the saga runs them with", () => {
    expect(reconcilePlans.orderSaga!.forward).toEqual([{ step: 'sendConfirmation', activity: 'sendOrderConfirmation' }]);
    expect(reconcilePlans.registrationSaga!.forward).toEqual([{ step: 'sendWelcome', activity: 'sendWelcomeEmail' }]);
  });

  it('sends the confirmation of a shipped order whose mail never completed', () => {
    const decision = decide(order, shipped, ['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment']);
    expect(decision).toMatchObject({ outcome: 'FINISHED_FORWARD', compensate: [], undone: [], finishForward: [{ step: 'sendConfirmation', activity: 'sendOrderConfirmation' }] });
  });

  it('runs again a mail whose call was scheduled or failed but did not complete: the mail service sends once per key', () => {
    // `completed` holds only completed calls: a call in flight or failed when the saga ended is absent.
    expect(decide(order, shipped, ['createShipment']).finishForward.map((s) => s.step)).toEqual(['sendConfirmation']);
  });

  it('sends nothing when the confirmation completed in the saga', () => {
    expect(decide(order, shipped, ['createShipment', 'sendOrderConfirmation'])).toMatchObject({ outcome: 'KEPT_AFTER_PIVOT', finishForward: [] });
  });

  it('welcomes an activated user whose welcome mail never completed', () => {
    const decision = decide(reconcilePlans.registrationSaga!, [did('users', 'createUser'), did('users', 'activateUser')], ['createUser', 'activateUser']);
    expect(decision).toMatchObject({ outcome: 'FINISHED_FORWARD', kept: ['createUser', 'activateUser'], finishForward: [{ step: 'sendWelcome' }] });
  });

  it('finishes nothing forward before the pivot, even when the mail completed', () => {
    expect(decide(order, shipped.slice(0, 3), ['sendOrderConfirmation'])).toMatchObject({ outcome: 'UNDONE', finishForward: [] });
  });

  it('ends FINISHED_FORWARD when a step went through, KEPT_AFTER_PIVOT when every one gave up, and leaves other outcomes alone', () => {
    expect(outcomeAfterForward('FINISHED_FORWARD', ['sendConfirmation'])).toBe('FINISHED_FORWARD');
    expect(outcomeAfterForward('FINISHED_FORWARD', [])).toBe('KEPT_AFTER_PIVOT');
    expect(outcomeAfterForward('KEPT_AFTER_PIVOT', [])).toBe('KEPT_AFTER_PIVOT');
    expect(outcomeAfterForward('UNDONE', [])).toBe('UNDONE');
  });
});
