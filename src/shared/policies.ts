import type { ActivityOptions, RetryPolicy } from '@temporalio/common';
import { businessFailureTypes } from './failures';

// Activity options shared by the sagas. Business refusals are non-retryable failures already; listing
// their types here as well keeps a refusal from being retried even if an adapter forgets the flag.
// Every activity heartbeats each second while it runs (`src/activities/heartbeat.ts`): the heartbeat
// timeout is what bounds the recovery of a step whose worker died, far below its start-to-close timeout.
// Compensations inherit it from the proxy their saga's steps use.

/** Silence after which a running step's worker is taken for dead and the step retried elsewhere. */
export const HEARTBEAT_TIMEOUT = '10 seconds';

/** Forward steps: retried with backoff for about five minutes, business refusals never. */
export const stepOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [...businessFailureTypes],
  },
};

/** Reads and checks that must answer fast (a verification code check). */
export const checkOptions: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  scheduleToCloseTimeout: '1 minute',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '5 seconds', nonRetryableErrorTypes: [...businessFailureTypes] },
};

/** Non-critical e-mail: a few attempts over about a minute, then the saga goes on without it. */
export const mailOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds', maximumAttempts: 5, nonRetryableErrorTypes: [...businessFailureTypes] },
};

/**
 * Compensations must eventually succeed, so they retry far longer than forward steps: with these
 * numbers about a day (12 backoff doublings to an hour, then hourly) before the saga gives up and
 * reports `COMPENSATION_FAILED` for an operator.
 */
export const compensationRetry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 hour',
  maximumAttempts: 36,
};

/**
 * Recording how a saga ended (the order's outcome in the outbox): it runs after the unwind and must
 * eventually succeed, or other systems never learn of the order, so it retries as long as a compensation.
 */
export const outcomeOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { ...compensationRetry, nonRetryableErrorTypes: [...businessFailureTypes] },
};
