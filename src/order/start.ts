import { WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { orderDeadlineMs, timeoutsAtLeast } from '../shared/deadlines';
import { DEFAULT_TASK_QUEUE, startsRunning, type StartOptions } from '../shared/start-options';
import { parseOrThrow } from '../shared/validation';
import { orderInputSchema, orderSummary, type OrderInput } from './contract';
import type { orderSaga } from './workflow';

// Starting the order saga from Node: the one place that names its workflow id and start options, used
// by the CLI, the demo, the benchmarks and the tests alike. Input is validated here first, so bad
// input is refused before anything reaches the server.

/** `order-<orderId>`: one workflow per order, so a second start for the same order is refused. */
export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/**
 * Validates the order and starts `orderSaga`; throws `InvalidInputError`, or `WorkflowTimeoutTooShortError`
 * for a workflow timeout below the order's own deadlines (98 hours), before contacting the server.
 */
export async function startOrder(client: Client, input: OrderInput, options: StartOptions = {}): Promise<WorkflowHandle<typeof orderSaga>> {
  const valid = parseOrThrow(orderInputSchema, 'order', input);
  const timeouts = timeoutsAtLeast('order saga', orderDeadlineMs(), options);
  return client.workflow.start<typeof orderSaga>('orderSaga', {
    ...timeouts,
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId: orderWorkflowId(valid.orderId),
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    args: [valid],
    staticSummary: orderSummary(valid),
    typedSearchAttributes: startsRunning,
  });
}
