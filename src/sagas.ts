import { createHmac } from 'node:crypto';
import { WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { DEVELOPMENT_ID_SECRET } from './config';
import { orderInputSchema, parseOrThrow, registrationInputSchema, type OrderInput, type RegistrationInput } from './schemas';
import { formatDuration, orderSummary } from './format';
import { SagaStatus } from '@saga-temporal/saga';
import { SagaStatusKey } from './search-attributes';
import type { orderSaga } from './workflows/order';
import type { registrationSaga } from './workflows/registration';

// Starting the sagas from Node: the one place that names workflow ids and start options, used by the
// CLI, the demo, the benchmarks and the tests alike. Input is validated here first, so bad input is
// refused before anything reaches the server. Each start request already carries `SagaStatus=RUNNING`:
// the saga is listed as running before its first workflow task, and skips the upsert it would need.

const startsRunning = [{ key: SagaStatusKey, value: SagaStatus.RUNNING }];

/** Where and how to start a saga. */
export interface StartOptions {
  /** @default "sagas" */
  taskQueue?: string;
  /** Key of the registration workflow id's hash (env `SAGA_ID_SECRET`). @default DEVELOPMENT_ID_SECRET */
  idSecret?: string;
}

/** `order-<orderId>`: one workflow per order, so a second start for the same order is refused. */
export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/**
 * `registration-<16 hex>`, an HMAC of the normalized address keyed by `idSecret`: one registration per
 * address at a time, and the address stays out of workflow ids, lists and URLs. Keyed, because an
 * unkeyed hash would let anyone who can list workflows test whether an address registered.
 * @default idSecret DEVELOPMENT_ID_SECRET
 */
export function registrationWorkflowId(email: string, idSecret: string = DEVELOPMENT_ID_SECRET): string {
  const normalized = email.trim().normalize('NFKC').toLowerCase();
  return `registration-${createHmac('sha256', idSecret).update(normalized).digest('hex').slice(0, 16)}`;
}

/** Validates the order and starts `orderSaga`; throws `InvalidInputError` before contacting the server. */
export async function startOrder(client: Client, input: OrderInput, options: StartOptions = {}): Promise<WorkflowHandle<typeof orderSaga>> {
  const valid = parseOrThrow(orderInputSchema, 'order', input);
  return client.workflow.start<typeof orderSaga>('orderSaga', {
    taskQueue: options.taskQueue ?? 'sagas',
    workflowId: orderWorkflowId(valid.orderId),
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    args: [valid],
    staticSummary: orderSummary(valid),
    typedSearchAttributes: startsRunning,
  });
}

/** Validates the registration and starts `registrationSaga`; throws `InvalidInputError` before contacting the server. */
export async function startRegistration(
  client: Client,
  input: RegistrationInput,
  options: StartOptions = {},
): Promise<WorkflowHandle<typeof registrationSaga>> {
  const valid = parseOrThrow(registrationInputSchema, 'registration', input);
  return client.workflow.start<typeof registrationSaga>('registrationSaga', {
    taskQueue: options.taskQueue ?? 'sagas',
    workflowId: registrationWorkflowId(valid.email, options.idSecret),
    // A failed or finished registration may be tried again; a running one may not be joined twice.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    args: [valid],
    staticSummary: `Registration: verify e-mail within ${formatDuration(valid.verificationTimeout)}`,
    typedSearchAttributes: startsRunning,
  });
}
