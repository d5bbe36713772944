import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { orderWorkflowId } from '../order/start';
import { registrationWorkflowId } from '../registration/start';
import { emailSchema } from '../shared/validation';
import { CliError, ExitCode, UsageError } from './errors';

/** A saga found from what the user typed. */
export interface ResolvedSaga {
  workflowId: string;
  description: WorkflowExecutionDescription;
}

const SAGA_PREFIX = /^(order|registration)-/;

/**
 * The workflow ids a reference may mean, most specific first: an e-mail address names its
 * registration, a workflow id of a saga names itself (and, failing that, an order whose id happens to
 * start with `order-`), anything else is an order id. `idSecret`: as in `registrationWorkflowId`.
 */
export function candidateWorkflowIds(ref: string, idSecret?: string): string[] {
  const trimmed = ref.trim();
  if (trimmed.includes('@')) {
    const email = emailSchema.safeParse(trimmed);
    if (!email.success) throw new UsageError(`"${trimmed}" is not an e-mail address`);
    return [registrationWorkflowId(email.data, idSecret)];
  }
  if (trimmed === '') throw new UsageError('the saga id is empty');
  return SAGA_PREFIX.test(trimmed) ? [trimmed, orderWorkflowId(trimmed)] : [orderWorkflowId(trimmed)];
}

/** Finds the saga a reference names, or throws a not-found error naming every id tried. `idSecret`: as in `registrationWorkflowId`. */
export async function resolveSaga(client: Client, ref: string, idSecret?: string): Promise<ResolvedSaga> {
  const candidates = candidateWorkflowIds(ref, idSecret);
  for (const workflowId of candidates) {
    try {
      return { workflowId, description: await client.workflow.getHandle(workflowId).describe() };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  throw new CliError(`No saga found for "${ref.trim()}" (looked for workflow id ${candidates.join(' and ')})`, ExitCode.NOT_FOUND);
}
