import { Context } from '@temporalio/activity';
import { wrapActivities } from './wrap';

/** How often a running activity heartbeats. */
export const HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * Wraps each activity so that it heartbeats every {@link HEARTBEAT_INTERVAL_MS} while it runs. With a
 * heartbeat timeout on the activity options, a step whose worker died is retried elsewhere once the
 * heartbeats stop (seconds), not once its start-to-close timeout passes; a step that is merely slow (a
 * database under load) keeps its attempt. The SDK throttles what reaches the server.
 *
 * No heartbeat at the start: the server counts the heartbeat timeout from the attempt's start, so a
 * first heartbeat adds nothing to crash detection, and the SDK sends a first heartbeat at once (only
 * later ones are throttled): one more round trip and one more history-state write on the server for
 * every step, most of which end well within the first second. `npm run bench -- --levers
 * heartbeat-at-start` measures that cost.
 */
export function withHeartbeats<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T, everyMs = HEARTBEAT_INTERVAL_MS): T {
  return wrapActivities(activities, (_name, fn) => async (input) => {
    const context = Context.current();
    const timer = setInterval(() => context.heartbeat(), everyMs);
    try {
      return await fn(input);
    } finally {
      clearInterval(timer);
    }
  });
}
