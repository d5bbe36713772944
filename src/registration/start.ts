import { createHmac } from 'node:crypto';
import { WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { DEVELOPMENT_ID_SECRET } from '../config';
import { formatDuration } from '../shared/format';
import { registrationDeadlineMs, timeoutsAtLeast } from '../shared/deadlines';
import { DEFAULT_TASK_QUEUE, startsRunning, type StartOptions } from '../shared/start-options';
import { parseOrThrow } from '../shared/validation';
import { registrationInputSchema, type RegistrationInput } from './contract';
import type { registrationSaga } from './workflow';

// Starting the registration saga from Node: the one place that names its workflow id and start
// options. Input is validated here first, so bad input is refused before anything reaches the server.

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

/**
 * Validates the registration and starts `registrationSaga`; throws `InvalidInputError`, or
 * `WorkflowTimeoutTooShortError` for a workflow timeout below its own deadlines (its verification wait
 * plus 24 h 40 min), before contacting the server.
 */
export async function startRegistration(
  client: Client,
  input: RegistrationInput,
  options: StartOptions = {},
): Promise<WorkflowHandle<typeof registrationSaga>> {
  const valid = parseOrThrow(registrationInputSchema, 'registration', input);
  const timeouts = timeoutsAtLeast('registration saga', registrationDeadlineMs(valid.verificationTimeout), options);
  return client.workflow.start<typeof registrationSaga>('registrationSaga', {
    ...timeouts,
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId: registrationWorkflowId(valid.email, options.idSecret),
    // A failed or finished registration may be tried again; a running one may not be joined twice.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    args: [valid],
    staticSummary: `Registration: verify e-mail within ${formatDuration(valid.verificationTimeout)}`,
    typedSearchAttributes: startsRunning,
  });
}
