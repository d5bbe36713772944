import type { Duration, RetryPolicy } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { checkOptions, compensationRetry, mailOptions, stepOptions } from './policies';

// How long each saga may need to end by itself, from its own deadlines: the forward steps' budgets and
// the compensations' retry budgets. A workflow timeout shorter than that could end a saga that would
// still have unwound itself, leaving its effects to the reconciler; the starters refuse one.

/** The longest a retry policy can keep an activity going: every backoff interval plus every attempt at its full timeout. */
export function retryBudgetMs(policy: RetryPolicy, attemptTimeout: Duration): number {
  const attempts = policy.maximumAttempts ?? 1;
  const initial = msToNumber(policy.initialInterval ?? '1 second');
  const max = msToNumber(policy.maximumInterval ?? initial * 100);
  const coefficient = policy.backoffCoefficient ?? 2;
  let waits = 0;
  for (let i = 0; i < attempts - 1; i++) waits += Math.min(initial * coefficient ** i, max);
  return waits + attempts * msToNumber(attemptTimeout);
}

const forwardStepMs = () => msToNumber(stepOptions.scheduleToCloseTimeout!);
const mailMs = () => retryBudgetMs(mailOptions.retry!, mailOptions.startToCloseTimeout!);
const compensationMs = () => retryBudgetMs(compensationRetry, stepOptions.startToCloseTimeout!);

/**
 * The order's own deadlines: the longer of completing (three forward stages, then the confirmation
 * mail) and failing at the shipment then undoing four steps one after another.
 */
export function orderDeadlineMs(): number {
  return Math.max(3 * forwardStepMs() + mailMs(), 3 * forwardStepMs() + 4 * compensationMs());
}

/**
 * The registration's own deadlines for a verification wait of `verificationTimeoutMs`: account and
 * code, the wait, a last code check, then the failure mail and the account's deletion (the longer path
 * than activation and the welcome mail).
 */
export function registrationDeadlineMs(verificationTimeoutMs: number): number {
  const check = msToNumber(checkOptions.scheduleToCloseTimeout!);
  return Math.max(2 * forwardStepMs() + verificationTimeoutMs + check + mailMs() + compensationMs(), 2 * forwardStepMs() + verificationTimeoutMs + check + forwardStepMs() + mailMs());
}

/** Thrown by the starters, before contacting the server, for a workflow timeout shorter than the saga's own deadlines. */
export class WorkflowTimeoutTooShortError extends Error {
  override readonly name = 'WorkflowTimeoutTooShortError';
  constructor(
    readonly saga: string,
    readonly option: 'workflowExecutionTimeout' | 'workflowRunTimeout',
    readonly givenMs: number,
    readonly minimumMs: number,
  ) {
    super(`${option} of ${givenMs} ms is shorter than the ${saga}'s own deadlines (${minimumMs} ms): the timeout could end it before it unwound itself; give at least that, or none`);
  }
}

/** The workflow timeouts a saga may be started with. @default none: the saga ends by its own deadlines */
export interface WorkflowTimeouts {
  workflowExecutionTimeout?: Duration;
  workflowRunTimeout?: Duration;
}

/** Refuses ({@link WorkflowTimeoutTooShortError}) a workflow timeout below `minimumMs`; returns the timeouts to pass to the start. */
export function timeoutsAtLeast(saga: string, minimumMs: number, timeouts: WorkflowTimeouts): WorkflowTimeouts {
  for (const option of ['workflowExecutionTimeout', 'workflowRunTimeout'] as const) {
    const given = timeouts[option];
    if (given === undefined) continue;
    const givenMs = msToNumber(given);
    if (givenMs < minimumMs) throw new WorkflowTimeoutTooShortError(saga, option, givenMs, minimumMs);
  }
  return {
    ...(timeouts.workflowExecutionTimeout === undefined ? {} : { workflowExecutionTimeout: timeouts.workflowExecutionTimeout }),
    ...(timeouts.workflowRunTimeout === undefined ? {} : { workflowRunTimeout: timeouts.workflowRunTimeout }),
  };
}
