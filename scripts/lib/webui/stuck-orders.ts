// Orders waiting in COMPENSATION_FAILED for an operator, made on purpose for the Web UI repair check:
// refunds fail (fault injection), each order cannot be shipped, and the refund's retry budget (about
// a day) is cut to its current attempt the way an operator's `temporal activity update-options`
// would, so the saga gives up within seconds and waits.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { SagaStatus, sagaStateQuery, type SagaState } from '@saga-temporal/saga';
import { startOrder } from '../../../src/order/start';
import type { Services } from '../../../src/services';
import { sampleOrder, UNDELIVERABLE_ADDRESS } from '../sample-order';

/** Where the orders run. */
export interface StuckOrdersOptions {
  client: Client;
  /** The services of the worker on `taskQueue`: their payment provider is made to refuse refunds. */
  services: Services;
  taskQueue: string;
  /** Order ids; one stuck order each. */
  orderIds: readonly string[];
  /** How long each order may take to reach COMPENSATION_FAILED. @default 120_000 */
  timeoutMs?: number;
}

/** The compensation that fails, and the step it undoes (what `retryCompensation` and `skipCompensation` name). */
export const FAILING_COMPENSATION = { activity: 'refundPayment', step: 'capturePayment' } as const;

function delay(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * Starts the orders with refunds failing and returns their handles once each waits in
 * COMPENSATION_FAILED; refunds work again when it returns, so a retry succeeds.
 */
export async function stuckOrders(opts: StuckOrdersOptions): Promise<WorkflowHandle[]> {
  const timeout = opts.timeoutMs ?? 120_000;
  opts.services.faults.set('payments', { failOperations: ['refund'] });
  try {
    const handles = await Promise.all(
      opts.orderIds.map((orderId) => startOrder(opts.client, sampleOrder(orderId, { customerId: 'c-repair', shippingAddress: UNDELIVERABLE_ADDRESS }), { taskQueue: opts.taskQueue })),
    );
    await Promise.all(handles.map((handle) => untilWaitingForOperator(opts.client, handle, timeout)));
    return handles;
  } finally {
    opts.services.faults.set('payments', undefined);
  }
}

async function untilWaitingForOperator(client: Client, handle: WorkflowHandle, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let capped = false;
  for (;;) {
    if (!capped) {
      const { raw } = await handle.describe();
      if (raw.pendingActivities?.some((a) => a.activityType?.name === FAILING_COMPENSATION.activity && (a.attempt ?? 0) >= 2)) {
        // The refund has failed once at least: no more attempts after the one under way.
        await client.workflowService.updateActivityOptions({
          namespace: client.options.namespace,
          execution: { workflowId: handle.workflowId },
          type: FAILING_COMPENSATION.activity,
          activityOptions: { retryPolicy: { maximumAttempts: 1 } },
          updateMask: { paths: ['retry_policy.maximum_attempts'] },
          identity: 'webui-repair-check',
        });
        capped = true;
      }
    }
    const state: SagaState | undefined = await handle.query(sagaStateQuery).catch(() => undefined);
    if (state?.status === SagaStatus.COMPENSATION_FAILED) return;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} did not reach ${SagaStatus.COMPENSATION_FAILED} within ${Math.round(timeoutMs / 1000)} s (it is ${state?.status ?? 'unknown'})`);
    await delay(500);
  }
}
