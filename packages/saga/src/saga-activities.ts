// Activities that know which saga scheduled them. An activity sees only its own run id, and a reset
// starts a new run: a key built on it would let a re-executed step take effect twice and leave a
// compensation with nothing to find. The saga id (saga-identity.ts) survives resets, yet every new
// saga under the same workflow id (a new start, continue-as-new, a cron run, a retry) gets its own.
// Sandbox-safe: only @temporalio/workflow.

import { proxyActivities, proxyLocalActivities, workflowInfo, type ActivityInterfaceFor, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import { sagaIdOf } from './saga-identity';
import { SAGA_ID_FIELD } from './types';

/**
 * The saga's identity within its workflow id: the run id the execution started with, kept by resets,
 * new for each run of continue-as-new, cron or a retry (see {@link sagaIdOf}).
 */
export function sagaId(): string {
  return sagaIdOf(workflowInfo());
}

type Callable = ((...args: unknown[]) => Promise<unknown>) & { executeWithOptions(options: ActivityOptions, args: unknown[]): Promise<unknown> };

// Only plain input objects get the field: an activity whose input is not an object has no key to build.
function withSagaId(args: unknown[]): unknown[] {
  const [input, ...rest] = args;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return args;
  return [{ ...input, [SAGA_ID_FIELD]: sagaId() }, ...rest];
}

/**
 * `proxyActivities`, except that every call adds the saga's identity ({@link SAGA_ID_FIELD}) to the
 * activity's input object, so the activity can key its effect on the saga rather than on the run.
 *
 * @example const acts = sagaActivities<Activities>({ startToCloseTimeout: '30 seconds' });
 */
export function sagaActivities<A extends object>(options: ActivityOptions): ActivityInterfaceFor<A> {
  return withSagaIds<A>(proxyActivities<A>(options) as unknown as Record<string, Callable>);
}

/**
 * {@link sagaActivities} for local activities: for short, cheap steps (a lookup, a computation, one
 * quick write), picked per step by passing one of these to `activity()`. A local activity runs in the
 * worker that runs the workflow, without its own task or history events (one marker per result); it
 * holds the workflow task while it runs, its attempts are retried inside that task (the Web UI shows
 * the marker, not the attempts), and a worker crash re-runs it from scratch. Not for steps that can
 * wait on locks or remote services, or whose retries last longer than a few seconds.
 *
 * @example const quick = sagaLocalActivities<Activities>({ startToCloseTimeout: '5 seconds' });
 */
export function sagaLocalActivities<A extends object>(options: LocalActivityOptions): ActivityInterfaceFor<A> {
  return withSagaIds<A>(proxyLocalActivities<A>(options) as unknown as Record<string, Callable>);
}

function withSagaIds<A extends object>(proxy: Record<string, Callable>): ActivityInterfaceFor<A> {
  return new Proxy({} as ActivityInterfaceFor<A>, {
    get(_target, name) {
      if (typeof name !== 'string') return undefined;
      const fn = proxy[name]!;
      const call = (...args: unknown[]) => fn(...withSagaId(args));
      call.executeWithOptions = (opts: ActivityOptions, args: unknown[]) => fn.executeWithOptions(opts, withSagaId(args));
      return call;
    },
  });
}
