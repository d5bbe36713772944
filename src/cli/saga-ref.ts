import { isGrpcServiceError, ServiceError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
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

/** How {@link resolveSaga} reads a reference. */
export interface SagaTarget {
  /** Take the reference as an exact workflow id (`-w`), not as an order id or an e-mail address. @default false */
  exact?: boolean;
  /** The run to describe (`-r`); the latest run when absent. */
  runId?: string;
}

const GRPC_INVALID_ARGUMENT = 3;

// The server answers a run id that is not a UUID with INVALID_ARGUMENT rather than NOT_FOUND; for the
// user both mean that no such run exists.
function isMissingRun(err: unknown, runId: string | undefined): boolean {
  if (err instanceof WorkflowNotFoundError) return true;
  return runId !== undefined && err instanceof ServiceError && isGrpcServiceError(err.cause) && err.cause.code === GRPC_INVALID_ARGUMENT;
}

/**
 * Finds the saga a reference names, or throws a not-found error naming every id tried (never the
 * e-mail address itself). `idSecret`: as in `registrationWorkflowId`.
 */
export async function resolveSaga(client: Client, ref: string, idSecret?: string, target: SagaTarget = {}): Promise<ResolvedSaga> {
  const trimmed = ref.trim();
  if (target.exact && trimmed === '') throw new UsageError('the workflow id is empty');
  const candidates = target.exact ? [trimmed] : candidateWorkflowIds(ref, idSecret);
  for (const workflowId of candidates) {
    try {
      return { workflowId, description: await client.workflow.getHandle(workflowId, target.runId).describe() };
    } catch (err) {
      if (!isMissingRun(err, target.runId)) throw err;
    }
  }
  const what = trimmed.includes('@') ? 'that e-mail address' : `"${trimmed}"`;
  const run = target.runId ? ` with run id ${target.runId}` : '';
  throw new CliError(`No saga found for ${what}${run} (looked for workflow id ${candidates.join(' and ')})`, ExitCode.NOT_FOUND);
}
