import { describe, expect, it } from 'vitest';
import { renderStatus, type StatusView } from '../../src/cli/status-screen';

// How `saga-client status` shows a reconciliation that ran after the pivot of a terminated saga.

function terminatedOrder(reconciled: NonNullable<StatusView['termination']>['reconciled']): StatusView {
  return {
    workflowId: 'order-o-1',
    type: 'orderSaga',
    workflowStatus: 'TERMINATED',
    sagaStatus: 'RUNNING',
    summary: undefined,
    state: undefined,
    termination: { reason: 'stuck', identity: 'ops@host', ...(reconciled ? { reconciled } : {}) },
    uiUrl: 'http://localhost:8233',
  };
}

describe('status of a saga reconciled after its pivot', () => {
  it('names the steps finished forward', () => {
    const text = renderStatus(terminatedOrder({ outcome: 'FINISHED_FORWARD', undone: [], needsOperator: [], finished: ['sendConfirmation'] }), { now: 0 });
    expect(text).toContain('Reconciled: FINISHED_FORWARD, nothing undone; finished sendConfirmation');
  });

  it('names an optional step that gave up, without asking for an operator', () => {
    const text = renderStatus(terminatedOrder({ outcome: 'KEPT_AFTER_PIVOT', undone: [], needsOperator: [], forwardGaveUp: ['sendConfirmation'] }), { now: 0 });
    expect(text).toContain('Reconciled: KEPT_AFTER_PIVOT, nothing undone; gave up sendConfirmation (optional)');
    expect(text).not.toContain('needs an operator');
  });

  it('reads a result of an earlier reconciler, which had neither field', () => {
    expect(renderStatus(terminatedOrder({ outcome: 'KEPT_AFTER_PIVOT', undone: [], needsOperator: [] }), { now: 0 })).toContain('Reconciled: KEPT_AFTER_PIVOT, nothing undone\n');
  });
});
