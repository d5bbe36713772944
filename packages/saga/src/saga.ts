// The saga as workflow code: the pure engine wired to Temporal's cancellation scopes, search
// attributes, query and update handlers, and failure types. Sandbox-safe: only @temporalio/workflow
// and @temporalio/common.

import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  TemporalFailure,
  type ActivityOptions,
  type Duration,
  type RetryPolicy,
} from '@temporalio/common';
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { SagaMetrics } from './metrics';
import { DEFAULT_SAGA_STATUS_ATTRIBUTE, type SagaHandlerNames } from './handler-names';
import { sagaHandlerDefinitions, type SagaHandlerDefinitions } from './saga-handlers';
import { SagaStatusKey, sagaStatusKey, type SagaStatusAttributeKey } from './search-attributes';
import { SagaEngine, type CompensationSpec, type ErrorKind, type OptionalResult, type StepSpec, type TccParticipantSpec } from './engine';
import { SagaStatus, type ErrorRecord, type RetryCompensationInput, type SagaState } from './types';

/**
 * Options a step's `run` or a compensation's `run` receives for its call: the Web UI `summary`, and
 * for compensations their retry policy and timeouts. Pass them on to `executeWithOptions`.
 */
export type CallOptions = Partial<ActivityOptions>;

/** A compensation: what undoes a step. It must be safe to run when the step never happened. */
export type CompensationDefinition = CompensationSpec<CallOptions>;

/** A step: a forward action, optionally with the compensation that undoes it. */
export type StepDefinition<T> = StepSpec<T, CallOptions>;

/** A participant of a try-confirm-cancel stage: `try` reserves, `confirm` makes it final, `cancel` releases it. */
export type TccParticipant<T> = TccParticipantSpec<T, CallOptions>;

/** The results of the tries of a `tcc` stage, in the order of its participants. */
export type TccResults<T extends readonly TccParticipant<unknown>[]> = { -readonly [K in keyof T]: T[K] extends TccParticipant<infer R> ? R : never };

/** The results of a `parallel` stage, in the order of its definitions. */
export type StepResults<T extends readonly StepDefinition<unknown>[]> = { -readonly [K in keyof T]: T[K] extends StepDefinition<infer R> ? R : never };

/** Anything with the proxy's `executeWithOptions`: an activity from `proxyActivities`. */
export interface ActivityWithOptions<A extends unknown[], R> {
  executeWithOptions(options: ActivityOptions, args: A): Promise<R>;
}

/**
 * Adapts an activity and its arguments into a step runner that passes the saga's call options
 * (summary, compensation retry policy) on to the activity.
 *
 * @example run: activity(acts.capturePayment, { orderId })
 */
export function activity<A extends unknown[], R>(fn: ActivityWithOptions<A, R>, ...args: A): (opts: CallOptions) => Promise<R> {
  return (opts) => fn.executeWithOptions(opts, args);
}

/** What the saga does once a compensation has exhausted its retries. */
export type CompensationFailureMode = 'fail' | 'await-operator';

/** Options of a {@link Saga}. */
export interface SagaOptions {
  /** Start all compensations at once instead of one stage at a time, last first. Steps of one `parallel` stage are always compensated together. @default false */
  parallelCompensation?: boolean;
  /** After a compensation fails, go on with the earlier ones; `false` stops unwinding at the failing stage. @default true */
  continueOnCompensationFailure?: boolean;
  /** Retry policy of compensations; fields left out keep the default. @default unlimited attempts, 1 s initial interval, backoff 2, 5 min maximum interval */
  compensationRetry?: RetryPolicy;
  /** Timeout of one compensation attempt. @default '1 minute' */
  compensationStartToCloseTimeout?: Duration;
  /** Total time a compensation may take, retries included; unset, only `compensationRetry` bounds it. @default unlimited */
  compensationScheduleToCloseTimeout?: Duration;
  /** What to do once a compensation has exhausted its retries: fail the workflow, or wait for an operator's `retryCompensation`, `skipCompensation` or `markCompensated` update. @default 'fail' */
  onCompensationFailure?: CompensationFailureMode;
  /** Called each time the saga reaches `COMPENSATION_FAILED` (e.g. to alert an operator); its own failure is recorded in the state, never thrown. @default none */
  onCompensationFailed?: (state: SagaState) => Promise<void>;
  /**
   * Called once when the saga's status is final (`COMPLETED`, `COMPENSATED`, `CANCELLED`,
   * `FORWARD_FAILED`, or `COMPENSATION_FAILED` in `'fail'` mode), before `run` returns or throws, and
   * out of reach of a cancellation; e.g. a child saga telling its parent how it ended
   * (`reportToParent`). Its own failure is recorded in the state, never thrown. @default none
   */
  onSettled?: (state: SagaState) => Promise<void>;
  /** Record saga metrics (`sagaMetricNames`) through the workflow's metric meter; the worker decides where they go. @default true */
  metrics?: boolean;
  /** Keyword search attribute the saga writes its status to (it must be registered on the namespace); `false` writes none. @default 'SagaStatus' */
  searchAttribute?: string | false;
  /** Names of the state query and the operator updates; names left out keep their default. @default { state: 'sagaState', retryCompensation: 'retryCompensation', markCompensated: 'markCompensated', skipCompensation: 'skipCompensation', retryStep: 'retryStep' } */
  names?: Partial<SagaHandlerNames>;
}

/** The default retry policy of compensations: a compensation must eventually succeed. */
export const defaultCompensationRetry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  maximumAttempts: Number.POSITIVE_INFINITY,
};

export { markCompensatedUpdate, retryCompensationStepsUpdate, retryCompensationUpdate, retryStepUpdate, sagaStateQuery, skipCompensationUpdate } from './saga-handlers';

type OperatorAction = { kind: 'retry'; steps?: string[] } | { kind: 'skip'; step: string; reason: string } | { kind: 'markCompensated'; reason: string };

// How a round of compensations (or an operator's action) left the saga: every compensation done; a
// compensation failed in it, so the saga (re-)entered COMPENSATION_FAILED; or nothing ran and it still
// waits for the failures it had (a skip that left others).
type RoundOutcome = 'compensated' | 'failed' | 'waiting';

const roundOutcome = (compensated: boolean): RoundOutcome => (compensated ? 'compensated' : 'failed');

/** Reduces a failure to its root cause: the first `ApplicationFailure` in the cause chain, else the innermost error. */
export function describeFailure(err: unknown): ErrorRecord {
  let root: unknown = err;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    root = e;
    if (e instanceof ApplicationFailure) break;
  }
  const record: ErrorRecord = { message: root instanceof Error ? root.message : String(root) };
  const type = root instanceof ApplicationFailure ? (root.type ?? root.name) : root instanceof Error ? root.name : undefined;
  if (type) record.type = type;
  if (err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) record.retryState = err.retryState;
  return record;
}

// Only Temporal failures are business outcomes. Any other error is a bug in workflow code: it is
// rethrown untouched so the workflow task fails and retries until a fix is deployed, as the SDK
// intends, instead of compensating a saga that did nothing wrong. A cancellation is the saga's own
// only when the scope the saga runs in is cancelled (the workflow was): a step cut short by an inner
// scope (`CancellationScope.withTimeout`, or one the body cancels) is a failure like any other.
function classify(err: unknown): ErrorKind {
  if (isCancellation(err)) return CancellationScope.current().consideredCancelled ? 'cancellation' : 'failure';
  return err instanceof TemporalFailure ? 'failure' : 'bug';
}

/** Failure types the saga itself throws, besides the root failure's own type. */
export const SagaFailureType = {
  /** An inner cancellation scope (`withTimeout`, or one the body cancelled) cut a step short; the saga was unwound. */
  StepCancelled: 'StepCancelled',
  /** The workflow was cancelled and a compensation exhausted its retries: something is left done. */
  CompensationFailed: 'CompensationFailed',
  /** The body failed after the pivot: nothing was undone, the saga is `FORWARD_FAILED` and needs an operator to finish it. */
  FailedAfterPivot: 'FailedAfterPivot',
} as const;

// A step promise the body drops must not fail the workflow task as an unhandled rejection: `run()`
// waits for such a step and unwinds for its failure. Whoever awaits the promise still gets the error.
function tracked<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

// Histories recorded before parallel stages cancelled their siblings waited for every sibling: they
// replay so. Asked only when a stage fails, so a saga that completes pays nothing for it.
const PARALLEL_STAGE_PATCH = 'saga-cancel-parallel-stage-on-failure';

// Sagas that passed their pivot before the saga went only forward after it were cut short by a
// cancellation, and unwound (undoing nothing) on a failure; their histories replay so. Asked only on
// those paths, so a saga that never meets them records no marker.
const FORWARD_ONLY_AFTER_PIVOT_PATCH = 'saga-forward-only-after-pivot';

function cancellableStage() {
  const scope = new CancellationScope();
  return {
    run: <T>(fn: () => Promise<T>) => scope.run(fn),
    cancel: () => {
      if (patched(PARALLEL_STAGE_PATCH)) scope.cancel();
    },
  };
}

function statusAttribute(name: string | false | undefined): SagaStatusAttributeKey | undefined {
  if (name === false) return undefined;
  return name === undefined || name === DEFAULT_SAGA_STATUS_ATTRIBUTE ? SagaStatusKey : sagaStatusKey(name);
}

// A starter that sets `SagaStatus=RUNNING` in the start request (as the app's starters do) saves the
// first upsert: one command, one history event and one visibility write per saga. RUNNING is only
// ever the first status, and the start attributes are part of the history, so replay decides alike;
// histories of sagas started without the attribute still upsert it, as they were recorded.
function reportStatus(key: SagaStatusAttributeKey | undefined, status: SagaStatus): void {
  if (!key) return;
  if (status === SagaStatus.RUNNING && workflowInfo().typedSearchAttributes.get(key) === SagaStatus.RUNNING) return;
  upsertSearchAttributes([{ key, value: status }]);
}

/**
 * A saga: steps whose compensations are registered before they run and undone last-first when a
 * later step fails or the workflow is cancelled. Create one per workflow run and put the steps in
 * {@link Saga.run}, which also exposes the state query, the operator updates and the `SagaStatus`
 * search attribute.
 *
 * @example
 * ```ts
 * const saga = new Saga({ compensationRetry: { maximumAttempts: 50 } });
 * return saga.run(async () => {
 *   await saga.step({
 *     name: 'capturePayment',
 *     summary: `Capture payment for order ${orderId}`,
 *     run: activity(acts.capturePayment, { orderId }),
 *     compensate: { name: 'refundPayment', summary: `Refund payment for order ${orderId}`, run: activity(acts.refundPayment, { orderId }) },
 *   });
 *   return saga.step({ name: 'createShipment', run: activity(acts.createShipment, { orderId }) });
 * });
 * ```
 */
export class Saga {
  private readonly engine: SagaEngine<CallOptions>;
  private readonly failureMode: CompensationFailureMode;
  private readonly onCompensationFailed: ((state: SagaState) => Promise<void>) | undefined;
  private readonly onSettled: ((state: SagaState) => Promise<void>) | undefined;
  private awaitingOperator = false;
  private requested: OperatorAction | undefined;
  private resolving: OperatorAction['kind'] | undefined;
  private actionsTaken = 0;
  private actionsAnswered = 0;
  private readonly handlers: SagaHandlerDefinitions;
  private readonly stuckSteps = new Set<string>();
  private stepRetryRound = 0;
  private stepRestarts = 0;

  constructor(options: SagaOptions = {}) {
    this.handlers = sagaHandlerDefinitions(options.names);
    const statusKey = statusAttribute(options.searchAttribute);
    this.failureMode = options.onCompensationFailure ?? 'fail';
    this.onCompensationFailed = options.onCompensationFailed;
    this.onSettled = options.onSettled;
    const compensationCall: CallOptions = {
      retry: { ...defaultCompensationRetry, ...options.compensationRetry },
      startToCloseTimeout: options.compensationStartToCloseTimeout ?? '1 minute',
      // Present even when undefined: call options are merged over the proxy's, and a total timeout
      // meant for forward steps must not cut a compensation's retries short.
      scheduleToCloseTimeout: options.compensationScheduleToCloseTimeout,
    };
    const metrics = options.metrics === false ? undefined : new SagaMetrics();
    this.engine = new SagaEngine<CallOptions>({
      parallelCompensation: options.parallelCompensation ?? false,
      continueOnCompensationFailure: options.continueOnCompensationFailure ?? true,
      // A step without a summary gets no `summary` key, so a summary set on the proxy still shows.
      stepOptions: (summary) => (summary === undefined ? {} : { summary }),
      compensationOptions: (summary) => ({ ...compensationCall, summary }),
      describeError: describeFailure,
      classify,
      onStatus: (status) => {
        metrics?.onStatus(status, this.engine.state, this.resolving);
        reportStatus(statusKey, status);
      },
      stageScope: cancellableStage,
      forwardScope: (fn) => CancellationScope.nonCancellable(fn),
      awaitForwardRepair: (step) => this.awaitStepRetry(step.name),
    });
  }

  /** Runs one step and returns its result; its compensation is registered before the step starts. */
  step<T>(def: StepDefinition<T>): Promise<T> {
    return tracked(this.engine.step(def));
  }

  /** Runs steps concurrently as one stage, compensated together; when one fails the others are cancelled, and once all have settled the first failure is thrown. */
  parallel<const T extends readonly StepDefinition<unknown>[]>(defs: T): Promise<StepResults<T>> {
    return tracked(this.engine.parallel(defs) as Promise<StepResults<T>>);
  }

  /**
   * Runs a try-confirm-cancel stage: all tries at once; when every try succeeded, all confirms (retried
   * until they succeed, held for `retryStep` if their retries run out, never cancelled); otherwise the
   * cancel of every participant whose try started, and the saga unwinds. Returns the tries' results.
   */
  tcc<const T extends readonly TccParticipant<unknown>[]>(participants: T): Promise<TccResults<T>> {
    return tracked(this.engine.tcc(participants) as Promise<TccResults<T>>);
  }

  /** Runs a non-critical step: its failure is returned and recorded, and does not unwind the saga. A cancellation still propagates. */
  optionalStep<T>(def: StepDefinition<T>): Promise<OptionalResult<T>> {
    return tracked(this.engine.optionalStep(def));
  }

  /** A deep copy of the saga's state. */
  get state(): SagaState {
    return this.engine.state;
  }

  /**
   * Runs the saga's body. On success the saga is `COMPLETED` and the body's result returned; steps the
   * body left in flight (a forgotten `await`) are waited for first, and one of them failing unwinds
   * the saga. On a failure it unwinds, then throws a non-retryable `ApplicationFailure` with the root
   * failure's type (`StepCancelled` for a step an inner cancellation scope cut short), the original
   * failure as cause and a {@link SagaFailureDetails} as first detail. On cancellation of the workflow
   * it unwinds, becomes `CANCELLED` and rethrows, so the workflow ends cancelled; if a compensation
   * failed it throws a `CompensationFailed` failure carrying the details instead. Unwinding (and the
   * operator wait) cannot be cancelled. Errors that are not Temporal failures are rethrown untouched.
   *
   * After the pivot the saga only goes forward: a cancellation arriving then no longer reaches the
   * body (it is recorded as `cancellationIgnored`), and a failure of the body ends the saga
   * `FORWARD_FAILED`, undoing nothing, with a `FailedAfterPivot` failure.
   */
  async run<T>(body: () => Promise<T>): Promise<T> {
    this.installHandlers();
    this.engine.start();
    let result: T;
    try {
      result = await this.inBodyScope(body);
      await this.settleAbandoned();
    } catch (err) {
      if (classify(err) === 'bug') throw err;
      return this.unwindAfter(err);
    }
    this.engine.complete();
    if (this.onSettled) await CancellationScope.nonCancellable(() => this.settled());
    return result;
  }

  // The body runs in a scope of its own that the workflow's cancellation reaches only through here,
  // so that a cancellation after the pivot can be kept from it. Sagas that passed their pivot before
  // this was deployed were cut short by such a cancellation; their histories replay so.
  private inBodyScope<T>(body: () => Promise<T>): Promise<T> {
    const root = CancellationScope.current();
    return CancellationScope.nonCancellable(() => {
      const scope = new CancellationScope();
      root.cancelRequested.catch(() => {
        if (this.engine.pivot && patched(FORWARD_ONLY_AFTER_PIVOT_PATCH)) {
          this.engine.ignoreCancellation(`the saga had passed its pivot "${this.engine.pivot.step}": it finishes forward`);
          log.warn('A cancellation came after the pivot; the saga finishes forward', { pivot: this.engine.pivot.step });
          return;
        }
        scope.cancel();
      });
      return scope.run(body);
    });
  }

  // A step after the pivot spent its retries: the saga cannot go back, so it holds until an operator
  // has fixed the cause and asks for another run. Nothing else of the saga is touched meanwhile.
  private async awaitStepRetry(step: string): Promise<void> {
    const round = this.stepRetryRound;
    this.stuckSteps.add(step);
    log.warn('A step after the pivot failed; waiting for an operator to retry it', { step });
    // A confirm held so is given up when the saga unwinds: then nothing is waiting any more.
    await condition(() => this.stepRetryRound > round || this.engine.unwinding);
    this.stuckSteps.delete(step);
    if (this.stepRetryRound > round) this.stepRestarts += 1;
  }

  private async settleAbandoned(): Promise<void> {
    const settled = await this.engine.settleAbandoned();
    if (settled.steps.length > 0) log.warn('The saga body returned while steps were still running; waited for them', { steps: settled.steps });
    // A step that failed while nobody awaited it has settled before the body returned, and is no
    // longer running: its failure still unwinds the saga.
    if ('failure' in settled) throw settled.failure;
  }

  private async unwindAfter(err: unknown): Promise<never> {
    const cancelled = classify(err) === 'cancellation';
    if (this.engine.pivot && patched(FORWARD_ONLY_AFTER_PIVOT_PATCH)) return this.failForward(err);
    this.engine.recordFailure(err);
    await CancellationScope.nonCancellable(async () => {
      await this.compensateUntilSettled(cancelled);
      await this.settled();
      // Let the operator's update handlers answer before the workflow closes.
      await condition(allHandlersFinished);
    });
    const details = this.engine.failureDetails();
    if (cancelled) {
      if (details.status === SagaStatus.CANCELLED) throw err;
      const failed = details.compensationFailures.map((f) => `${f.step}: ${f.message}`).join('; ');
      throw ApplicationFailure.create({
        type: SagaFailureType.CompensationFailed,
        message: `The saga was cancelled and could not undo everything: ${failed}`,
        nonRetryable: true,
        cause: err instanceof Error ? err : undefined,
        details: [details],
      });
    }
    const { message, type } = describeFailure(err);
    const step = this.engine.stepOf(err);
    throw ApplicationFailure.create({
      type: isCancellation(err) ? SagaFailureType.StepCancelled : (type ?? 'SagaFailed'),
      message: step === undefined ? message : `${step} failed: ${message}`,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
      details: [details],
    });
  }

  // After the pivot nothing is undone: the saga reports what stands and that its body did not finish.
  private async failForward(err: unknown): Promise<never> {
    await CancellationScope.nonCancellable(async () => {
      await this.engine.failForward(err);
      await this.settled();
      await condition(allHandlersFinished);
    });
    const { message } = describeFailure(err);
    const step = this.engine.stepOf(err);
    throw ApplicationFailure.create({
      type: SagaFailureType.FailedAfterPivot,
      message: `The saga failed after its pivot "${this.engine.pivot?.step}"; nothing was undone: ${step === undefined ? message : `${step} failed: ${message}`}`,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
      details: [this.engine.failureDetails()],
    });
  }

  private async compensateUntilSettled(cancelled: boolean): Promise<void> {
    let outcome = roundOutcome(await this.engine.compensate(cancelled ? 'cancellation' : 'failure'));
    for (;;) {
      this.resolving = undefined;
      this.actionsAnswered = this.actionsTaken;
      if (outcome === 'compensated') return;
      // Open for the operator from the moment the status reads COMPENSATION_FAILED, before the alert.
      if (this.failureMode === 'await-operator') this.awaitingOperator = true;
      // Alerted on each entry into COMPENSATION_FAILED; a skip that leaves other failures enters nothing.
      if (outcome === 'failed') await this.alert();
      if (this.failureMode !== 'await-operator') return;
      outcome = await this.nextOperatorAction();
    }
  }

  private async nextOperatorAction(): Promise<RoundOutcome> {
    await condition(() => this.requested !== undefined);
    const action = this.requested!;
    this.requested = undefined;
    this.awaitingOperator = false;
    this.resolving = action.kind;
    if (action.kind === 'retry') return roundOutcome(await this.engine.retryCompensations(action.steps));
    if (action.kind === 'markCompensated') {
      this.engine.markCompensated(action.reason);
      return 'compensated';
    }
    this.engine.skipCompensation(action.step, action.reason);
    log.info('An operator skipped a failed compensation', { step: action.step });
    if (this.engine.failedSteps.length > 0) return 'waiting';
    // The last failure is resolved: what unwinding had stopped before (continueOnCompensationFailure: false) runs now.
    return this.engine.compensationsLeft ? roundOutcome(await this.engine.compensate()) : 'compensated';
  }

  private alert(): Promise<void> {
    return this.runHook('onCompensationFailed', this.onCompensationFailed);
  }

  // A saga that sets no hook calls nothing here, so its commands (and recorded histories) stay as they were.
  private settled(): Promise<void> {
    return this.runHook('onSettled', this.onSettled);
  }

  // A hook's own failure is recorded in the state and logged, never thrown: the saga's outcome stands.
  private async runHook(name: string, hook: ((state: SagaState) => Promise<void>) | undefined): Promise<void> {
    if (!hook) return;
    try {
      await hook(this.state);
    } catch (err) {
      this.engine.recordHookFailure(err);
      log.warn(`${name} hook failed`, { error: describeFailure(err).message });
    }
  }

  private installHandlers(): void {
    setHandler(this.handlers.state, () => this.state);
    setHandler(
      this.handlers.retryStep,
      async () => {
        // Every waiting step runs again; the answer comes once all of them have restarted.
        const target = this.stepRestarts + this.stuckSteps.size;
        this.stepRetryRound += 1;
        await CancellationScope.nonCancellable(() => condition(() => this.stepRestarts >= target));
        return this.state;
      },
      {
        validator: () => {
          if (this.stuckSteps.size === 0) throw new Error('No step after the pivot is waiting for an operator; retryStep is accepted only then');
        },
      },
    );
    // Registered under the untyped definition: the argument is optional, and old callers send none.
    setHandler(this.handlers.retryCompensation, (input?: RetryCompensationInput) => this.request(input?.steps === undefined ? { kind: 'retry' } : { kind: 'retry', steps: [...input.steps] }), {
      validator: (input?: unknown) => {
        this.assertAwaitingOperator();
        this.engine.checkRetry(input);
      },
    });
    setHandler(this.handlers.skipCompensation, ({ step, reason }) => this.request({ kind: 'skip', step, reason: reason.trim() }), {
      validator: (input) => {
        this.assertAwaitingOperator();
        this.engine.checkSkip(input);
      },
    });
    setHandler(this.handlers.markCompensated, ({ reason }) => this.request({ kind: 'markCompensated', reason: reason.trim() }), {
      validator: (arg) => {
        this.assertAwaitingOperator();
        if (typeof arg?.reason !== 'string' || arg.reason.trim() === '') throw new Error('markCompensated needs a reason: what was repaired, and how');
      },
    });
  }

  private assertAwaitingOperator(): void {
    if (!this.awaitingOperator || this.requested !== undefined) {
      throw new Error(`The saga is not waiting for an operator (status ${this.engine.status}); only a saga waiting in ${SagaStatus.COMPENSATION_FAILED} accepts this update`);
    }
  }

  private async request(action: OperatorAction): Promise<SagaState> {
    this.requested = action;
    const ticket = ++this.actionsTaken;
    // Handlers run in the workflow's root scope: after a cancellation a plain wait would throw at once.
    await CancellationScope.nonCancellable(() => condition(() => this.actionsAnswered >= ticket));
    return this.state;
  }
}
