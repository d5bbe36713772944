import { describe, expect, it } from 'vitest';
import { closedUnsettled, closedUnsettledQuery, reconcileWorkflowId } from '../../src/reconciler/contract';
import { decide, reconcilePlans } from '../../src/reconciler/plans';
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
    const decision = decide(order, [did('inventory', 'reserveStock'), did('payments', 'authorizePayment')]);
    expect(decision.outcome).toBe('UNDONE');
    expect(decision.compensate.map((s) => s.compensation)).toEqual(['cancelShipment', 'refundPayment', 'voidPayment', 'releaseStock']);
    expect(decision.undone).toEqual(['authorizePayment', 'reserveStock']);
  });

  it('counts a step its saga already compensated as not standing', () => {
    const decision = decide(order, [did('inventory', 'reserveStock'), undid('inventory', 'reserveStock'), did('payments', 'authorizePayment')]);
    expect(decision.undone).toEqual(['authorizePayment']);
  });

  it('undoes nothing once the shipment, its pivot, stands', () => {
    const rows = ['reserveStock', 'authorizePayment', 'capturePayment'].map((s) => did(s === 'reserveStock' ? 'inventory' : 'payments', s));
    const decision = decide(order, [...rows, did('shipping', 'createShipment')]);
    expect(decision).toEqual({ outcome: 'KEPT_AFTER_PIVOT', compensate: [], undone: [], kept: ['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment'] });
  });

  it('finds nothing standing when no step took effect', () => {
    expect(decide(order, []).outcome).toBe('NOTHING_STOOD');
  });

  it('keeps an activated registration, and deletes a pending one', () => {
    const registration = reconcilePlans.registrationSaga!;
    expect(decide(registration, [did('users', 'createUser'), did('users', 'activateUser')]).outcome).toBe('KEPT_AFTER_PIVOT');
    expect(decide(registration, [did('users', 'createUser')])).toMatchObject({ outcome: 'UNDONE', undone: ['createUser'] });
  });
});
