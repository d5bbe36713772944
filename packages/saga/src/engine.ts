// The deterministic core of a saga: step records, the compensation stack and the status machine.
// No Temporal imports: what differs between the workflow sandbox and a unit test (how a failure is
// described, which errors are cancellations, what options a call gets) is passed in as `EngineConfig`.

import { CompensationStack, unwind } from './compensation-stack';
import { Ledger, WorkKind } from './ledger';
import {
  SagaStatus,
  StepStatus,
  type CompensationFailure,
  type CompensationRecord,
  type ErrorRecord,
  type PivotRecord,
  type SagaState,
  type SkippedCompensation,
  type StepRecord,
} from './types';

/** A compensation as the engine sees it: a name, a Web UI summary and a runner. */
export interface CompensationSpec<O> {
  /** Name of the compensation, e.g. `refundPayment`. */
  name: string;
  /** Web UI summary of the compensating call. @default `Undo <step name>` */
  summary?: string;
  /** Undoes the step; receives the call options for the compensation. Must be safe if the step never happened. */
  run: (opts: O) => Promise<unknown>;
}

/** A step as the engine sees it. `O` is what a call receives (activity options in a workflow). */
export interface StepSpec<T, O> {
  /** Name of the step, unique within the saga. */
  name: string;
  /** Web UI summary of the forward call. */
  summary?: string;
  /** Performs the step. */
  run: (opts: O) => Promise<T>;
  /** Undoes the step; registered before `run` is called. */
  compensate?: CompensationSpec<O>;
  /** Makes this step the saga's point of no return: once it is done, earlier compensations are dropped and later steps recover forward. @default false */
  pivot?: boolean;
}

/** A participant of a try-confirm-cancel stage as the engine sees it. */
export interface TccParticipantSpec<T, O> {
  /** Name of the participant, unique within the saga like a step's. */
  name: string;
  /** Web UI summary of the try. */
  summary?: string;
  /** Reserves: the participant's forward action. */
  try: (opts: O) => Promise<T>;
  /** Makes the reservation final once every try of the stage succeeded; retried like a compensation. */
  confirm: CompensationSpec<O>;
  /** Releases the reservation when a try of the stage failed; must be a no-op when its try never landed. */
  cancel: CompensationSpec<O>;
  /** Undoes the confirmed participant should the saga unwind later. @default none: once confirmed, it stays */
  compensate?: CompensationSpec<O>;
}

/** How an error thrown by a step is to be treated. */
export type ErrorKind = 'cancellation' | 'failure' | 'bug';

/** A group of calls the host can cancel together: a cancellation scope in a workflow. */
export interface StageScope {
  /** Runs `fn` inside the scope: calls it starts are cancelled by {@link StageScope.cancel}. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Cancels what runs inside the scope. */
  cancel(): void;
}

/** What the engine needs from its host. */
export interface EngineConfig<O> {
  /** Compensate all at once instead of one group at a time. */
  parallelCompensation: boolean;
  /** Go on with earlier compensations after one fails. */
  continueOnCompensationFailure: boolean;
  /** Call options of a forward step. */
  stepOptions: (summary: string | undefined) => O;
  /** Call options of a compensation. */
  compensationOptions: (summary: string) => O;
  /** Reduces an error to its root cause. */
  describeError: (err: unknown) => ErrorRecord;
  /** Sorts errors: cancellations propagate, failures are recorded, bugs propagate untouched. */
  classify: (err: unknown) => ErrorKind;
  /** Called on every saga status change, the first `RUNNING` included. */
  onStatus: (status: SagaStatus) => void;
  /** A fresh scope for the steps of one `parallel` stage, cancelled when one of them fails. @default none: the siblings run to their end */
  stageScope?: () => StageScope;
  /** Runs a step after the pivot out of reach of the saga's cancellation. @default runs it as is */
  forwardScope?: <T>(fn: () => Promise<T>) => Promise<T>;
  /**
   * Called when a step after the pivot, or a confirm, failed (its retries spent); resolves when it is to
   * run again. A confirm held so is given up once the saga unwinds: the host should stop waiting then
   * too ({@link SagaEngine.unwinding}). @default none: the failure is thrown
   */
  awaitForwardRepair?: (step: StepRecord) => Promise<void>;
}

/** Outcome of a non-critical step. */
export type OptionalResult<T> = { ok: true; value: T } | { ok: false; error: string; type?: string };

/** The short record a failed saga reports as its failure's first detail. */
export interface SagaFailureDetails {
  /** Saga status when the workflow failed. */
  status: SagaStatus;
  /** The step whose failure made the saga unwind, if a step failed. */
  failedStep?: string;
  /** Steps whose compensation succeeded, in the order they finished. */
  compensated: string[];
  /** Compensations that exhausted their retries and were not undone since. */
  compensationFailures: CompensationFailure[];
  /** Failed compensations an operator skipped (the step undone by hand), in the order of the steps; absent when there is none. */
  skippedCompensations?: SkippedCompensation[];
  /** Steps whose effects stand by design although the saga unwound (confirmed participants without a compensation); absent when there is none. */
  standing?: string[];
}

/** Thrown when a saga is used against its contract: a step name used twice, or a step started outside `run()` or after the saga stopped running. */
export class SagaUsageError extends Error {
  override readonly name = 'SagaUsageError';
  constructor(
    message: string,
    readonly step: string,
  ) {
    super(message);
  }
}

/** Thrown when an operator's repair request does not fit the saga: an unknown step, a compensation that did not fail, a blank reason. */
export class SagaRepairRefusedError extends Error {
  override readonly name = 'SagaRepairRefusedError';
}

const sagaTransitions: Record<SagaStatus, readonly SagaStatus[]> = {
  [SagaStatus.RUNNING]: [SagaStatus.COMPLETED, SagaStatus.COMPENSATING, SagaStatus.FORWARD_FAILED],
  [SagaStatus.COMPENSATING]: [SagaStatus.COMPENSATED, SagaStatus.COMPENSATION_FAILED, SagaStatus.CANCELLED],
  [SagaStatus.COMPENSATION_FAILED]: [SagaStatus.COMPENSATING, SagaStatus.COMPENSATED, SagaStatus.CANCELLED],
  [SagaStatus.COMPLETED]: [],
  [SagaStatus.COMPENSATED]: [],
  [SagaStatus.CANCELLED]: [],
  [SagaStatus.FORWARD_FAILED]: [],
};

/** Whether a saga may go from one status to another. */
export function canChangeSagaStatus(from: SagaStatus, to: SagaStatus): boolean {
  return sagaTransitions[from].includes(to);
}

const stepTransitions: Record<StepStatus, readonly StepStatus[]> = {
  [StepStatus.PENDING]: [StepStatus.RUNNING],
  [StepStatus.RUNNING]: [StepStatus.DONE, StepStatus.FAILED],
  [StepStatus.DONE]: [StepStatus.COMPENSATING, StepStatus.SKIPPED],
  // A step after the pivot runs again after a failure instead of being compensated.
  [StepStatus.FAILED]: [StepStatus.COMPENSATING, StepStatus.SKIPPED, StepStatus.RUNNING],
  [StepStatus.SKIPPED]: [StepStatus.COMPENSATING],
  [StepStatus.COMPENSATING]: [StepStatus.COMPENSATED, StepStatus.COMPENSATION_FAILED],
  // An operator may skip a failed compensation: the step was undone by hand.
  [StepStatus.COMPENSATION_FAILED]: [StepStatus.COMPENSATING, StepStatus.COMPENSATED],
  [StepStatus.COMPENSATED]: [],
};

/** Whether a step may go from one status to another. */
export function canChangeStepStatus(from: StepStatus, to: StepStatus): boolean {
  return stepTransitions[from].includes(to);
}

interface Entry<O> {
  record: StepRecord & { compensation: CompensationRecord };
  spec: CompensationSpec<O>;
}

// Workflow time inside the sandbox, where `Date` is deterministic; wall time in unit tests.
const now = (): string => new Date().toISOString();

function copyError(error: ErrorRecord): ErrorRecord {
  return { ...error };
}

function copyRecord(record: StepRecord): StepRecord {
  const copy: StepRecord = { ...record };
  if (record.error) copy.error = copyError(record.error);
  if (record.confirmation) {
    copy.confirmation = { ...record.confirmation };
    if (record.confirmation.error) copy.confirmation.error = copyError(record.confirmation.error);
  }
  if (record.compensation) {
    copy.compensation = { ...record.compensation };
    if (record.compensation.error) copy.compensation.error = copyError(record.compensation.error);
    if (record.compensation.operator) copy.compensation.operator = { ...record.compensation.operator };
  }
  return copy;
}

/** Where the saga is, as the ledger sees it; the status is derived from this and the step records. */
type Phase = 'forward' | 'completed' | 'unwinding' | 'forward-failed';

/** What made a saga unwind: a failure, or the cancellation of its workflow. */
export type UnwindCause = 'failure' | 'cancellation';

/**
 * Runs steps, keeps their records, their compensations and the ledger of outstanding work, and
 * unwinds. The saga's status is never set from outside: it is derived from the phase (going forward,
 * completed, unwinding, failed after the pivot) and the records (what is undone, what failed, what is
 * left), each time one of them changes. The host decides *when* to complete or unwind; the engine
 * guarantees *what* is undone, in which order, and that no outstanding work is forgotten.
 */
export class SagaEngine<O> {
  private current: SagaStatus = SagaStatus.RUNNING;
  private phase: Phase = 'forward';
  private cause: UnwindCause = 'failure';
  private started = false;
  private roundRunning = false;
  private operatorMarked = false;
  private nextGroup = 0;
  private readonly records: StepRecord[] = [];
  private readonly names = new Set<string>();
  private readonly stack = new CompensationStack<Entry<O>>();
  private readonly ledger = new Ledger();
  private readonly failedStepOf = new WeakMap<object, string>();
  private readonly errorOf = new Map<StepRecord, unknown>();
  private readonly optional = new WeakSet<StepRecord>();
  private readonly compensatedOrder: string[] = [];
  private readonly standing: string[] = [];
  private failure: SagaState['failure'];
  private operatorNote: string | undefined;
  private hookFailure: ErrorRecord | undefined;
  private cancellationIgnored: SagaState['cancellationIgnored'];
  private readonly entryOf = new Map<StepRecord, Entry<O>>();
  private readonly finalEntries = new WeakSet<Entry<O>>();
  private pivotDeclared: string | undefined;
  private pivotReached: PivotRecord | undefined;
  private startUnwinding!: () => void;
  private readonly unwindingStarted = new Promise<void>((resolve) => (this.startUnwinding = resolve));

  constructor(private readonly config: EngineConfig<O>) {}

  /** The saga status, derived from the ledger and the records. */
  get status(): SagaStatus {
    return this.current;
  }

  /** Whether the saga has begun to unwind: from then on no step starts, and held confirms are given up. */
  get unwinding(): boolean {
    return this.phase === 'unwinding';
  }

  /** Opens the saga for steps and reports `RUNNING`. */
  start(): void {
    this.started = true;
    this.config.onStatus(this.current);
  }

  /** The pivot, once a pivot step has succeeded. */
  get pivot(): PivotRecord | undefined {
    return this.pivotReached && { ...this.pivotReached };
  }

  /** Runs one step; its compensation is on the stack before it starts. After the pivot it recovers forward instead. */
  async step<T>(spec: StepSpec<T, O>): Promise<T> {
    const group = this.nextGroup++;
    const [record] = this.register([spec], group);
    if (record!.recovery) return this.forward(record!, spec);
    const value = await this.execute(record!, spec);
    if (spec.pivot) this.reachPivot(record!);
    return value;
  }

  /**
   * Runs steps concurrently as one compensation group. When one fails (a failure, not a cancellation
   * or a bug), the others are cancelled through the host's stage scope; once all have settled, the
   * first failure is thrown.
   */
  async parallel(specs: readonly StepSpec<unknown, O>[]): Promise<unknown[]> {
    const group = this.nextGroup++;
    const records = this.register(specs, group);
    return this.ledger.track({ kind: WorkKind.stage, name: specs.map((s) => s.name).join('+') }, this.runStage(records, specs));
  }

  private async runStage(records: StepRecord[], specs: readonly StepSpec<unknown, O>[]): Promise<unknown[]> {
    if (this.pivotReached) return Promise.all(specs.map((spec, i) => this.forward(records[i]!, spec)));
    const scope = this.config.stageScope?.();
    const failures: unknown[] = [];
    const runAll = () =>
      Promise.all(
        specs.map((spec, i) =>
          this.execute(records[i]!, spec).catch((err: unknown) => {
            if (failures.length === 0 && this.config.classify(err) === 'failure') scope?.cancel();
            failures.push(err);
            return undefined;
          }),
        ),
      );
    const results = await (scope ? scope.run(runAll) : runAll());
    if (failures.length > 0) throw failures[0];
    return results;
  }

  /**
   * Runs a try-confirm-cancel stage: every try at once, as one `parallel` stage whose compensations are
   * the cancels (so a failed try cancels every participant whose try started, then the saga unwinds);
   * once all tries succeeded, every confirm at once, out of reach of cancellation. From then on a
   * participant is undone by its `compensate`, if it has one, never by its cancel. A saga that began
   * to unwind before the confirms started confirms nothing (its cancels run); one that began while
   * they ran waits for them, so a participant is never both confirmed and cancelled.
   */
  async tcc(participants: readonly TccParticipantSpec<unknown, O>[]): Promise<unknown[]> {
    const stage = participants.map(({ name, summary, try: run, cancel }) => (summary === undefined ? { name, run, compensate: cancel } : { name, summary, run, compensate: cancel }));
    const run = async () => {
      const results = await this.parallel(stage);
      if (this.phase !== 'forward') return results;
      const records = participants.map(({ name }) => this.records.find((r) => r.name === name)!);
      await this.shielded(() => Promise.all(participants.map((p, i) => this.ledger.track({ kind: WorkKind.confirm, name: p.name }, this.confirm(records[i]!, p)))));
      return results;
    };
    return this.ledger.track({ kind: WorkKind.stage, name: `tcc ${participants.map((p) => p.name).join('+')}` }, run());
  }

  /** Runs a non-critical step: a failure is recorded and returned, the saga goes on. Cancellations and bugs still propagate. */
  async optionalStep<T>(spec: StepSpec<T, O>): Promise<OptionalResult<T>> {
    const group = this.nextGroup++;
    const [record] = this.register([spec], group);
    this.optional.add(record!);
    const run = () => this.execute(record!, spec, false);
    const outcome = async (): Promise<OptionalResult<T>> => {
      try {
        // After the pivot an optional step keeps its meaning (its failure is returned), but a cancellation no longer cuts it short.
        return { ok: true, value: await (record!.recovery ? this.shielded(run) : run()) };
      } catch (err) {
        if (this.config.classify(err) !== 'failure') throw err;
        const { message, type } = this.config.describeError(err);
        return type === undefined ? { ok: false, error: message } : { ok: false, error: message, type };
      }
    };
    return this.ledger.track({ kind: WorkKind.stage, name: spec.name }, outcome());
  }

  /**
   * Keeps work the host started for the saga (a child saga's commit, say) in the ledger until it
   * settles, so that completing or unwinding waits for it. Returns `promise`.
   */
  track<T>(name: string, promise: Promise<T>): Promise<T> {
    return this.ledger.track({ kind: WorkKind.host, name }, promise);
  }

  /** Records what made the saga unwind; the failing step is found by the error (or one it wraps). */
  recordFailure(err: unknown): void {
    const { message, type } = this.config.describeError(err);
    const step = this.stepOf(err);
    this.failure = { ...(step === undefined ? {} : { step }), message, ...(type === undefined ? {} : { type }) };
  }

  /** The step whose failure `err` is, walking its `cause` chain. */
  stepOf(err: unknown): string | undefined {
    for (let e: unknown = err; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
      const step = this.failedStepOf.get(e);
      if (step !== undefined) return step;
    }
    return undefined;
  }

  /**
   * Waits for the work still outstanding when the saga's body returned (a forgotten `await`, a race
   * over steps, a stage whose confirms had not run) and returns its names with the first failure
   * among it, which the saga must unwind for. Work started by work it waits for is waited for too.
   */
  async settleAbandoned(): Promise<{ steps: string[]; failure?: unknown }> {
    const { names, failure } = await this.ledger.settle();
    if (failure) return { steps: names, failure: failure.error };
    // A step that failed before the body returned, unawaited or caught, still failed: the saga did not
    // do what it had to, so it unwinds for it. Only an optional step's failure is the body's to keep.
    const failed = this.records.find((r) => r.status === StepStatus.FAILED && !this.optional.has(r) && this.errorOf.has(r));
    return failed ? { steps: names, failure: this.errorOf.get(failed) } : { steps: names };
  }

  /**
   * The body returned and nothing is outstanding: the saga is `COMPLETED`. Throws if work is still
   * open or a compensation has run, which would make `COMPLETED` a lie.
   */
  complete(): void {
    if (this.ledger.has()) throw new Error(`The saga cannot complete with work outstanding: ${this.ledger.outstanding.map((w) => `${w.kind} ${w.name}`).join(', ')}`);
    if (this.phase !== 'forward' || this.compensatedOrder.length > 0) throw new Error(`The saga cannot complete: it is ${this.current}`);
    this.phase = 'completed';
    this.refresh();
  }

  /**
   * The body failed after the pivot: nothing is undone, the saga ends `FORWARD_FAILED`. Waits for the
   * work still outstanding first (a step after the pivot may be held for an operator).
   */
  async failForward(err: unknown): Promise<void> {
    if (!this.pivotReached) throw new Error('Only a saga that passed its pivot fails forward; this one unwinds');
    this.recordFailure(err);
    await this.ledger.settle();
    this.phase = 'forward-failed';
    this.refresh();
  }

  /**
   * Waits for work in flight (forward steps, stages, confirms), then runs every compensation not yet
   * done, in the configured order. Returns whether everything is compensated. The status reads
   * `COMPENSATING` while it runs, then `COMPENSATION_FAILED` when a compensation failed, else
   * `CANCELLED` (the cause was a cancellation) or `COMPENSATED`.
   */
  async compensate(cause?: UnwindCause): Promise<boolean> {
    if (this.phase === 'forward') {
      this.phase = 'unwinding';
      if (cause) this.cause = cause;
      this.startUnwinding();
    } else if (this.phase !== 'unwinding') {
      throw new Error(`The saga cannot unwind: it is ${this.current}`);
    } else if (this.current === SagaStatus.COMPENSATED || this.current === SagaStatus.CANCELLED) {
      return true;
    }
    return this.round(async () => {
      // A step still in flight may yet succeed, and a confirm may yet commit: its compensation must
      // not race its forward action, nor a cancel its confirm.
      await this.ledger.settle([WorkKind.step, WorkKind.stage, WorkKind.confirm]);
      const groups = this.stack.groups((entry) => !this.finalEntries.has(entry) && entry.record.compensation.status !== StepStatus.DONE);
      const { skipped } = await this.unwindGroups(groups);
      for (const { record } of skipped) {
        if (record.compensation.status !== StepStatus.PENDING) continue;
        record.compensation.status = StepStatus.SKIPPED;
        this.moveStep(record, StepStatus.SKIPPED);
      }
    });
  }

  /**
   * Runs again, at an operator's request, the failed compensations of `steps` (every failed one when
   * `undefined`), in the configured order, and records the request on each. When failures remain,
   * whether retried or left out, the status goes back to `COMPENSATION_FAILED` and the result is
   * `false`; otherwise what unwinding had not reached yet runs too, as in {@link SagaEngine.compensate}.
   */
  async retryCompensations(steps?: readonly string[]): Promise<boolean> {
    if (steps !== undefined) this.checkRetry({ steps });
    const wanted = steps && new Set(steps);
    const chosen = (record: StepRecord) => record.compensation?.status === StepStatus.FAILED && (!wanted || wanted.has(record.name));
    const at = now();
    for (const record of this.records) if (chosen(record)) record.compensation!.operator = { action: 'retry', at };
    if (!wanted) return this.compensate();
    const done = await this.round(async () => {
      await this.unwindGroups(this.stack.groups((entry) => !this.finalEntries.has(entry) && chosen(entry.record)));
    });
    return this.failedSteps.length > 0 || !this.compensationsLeft ? done : this.compensate();
  }

  /**
   * Records that an operator did the failed compensation of `step` by hand: it shows as skipped with
   * the reason and the workflow time, leaves the compensation failures, and never runs again. When it
   * was the last failure and nothing is left to undo, the saga is compensated (or cancelled); when
   * something is left, the status reads `COMPENSATING` until the host runs it ({@link SagaEngine.compensate}).
   */
  skipCompensation(step: string, reason: string): void {
    this.checkSkip({ step, reason });
    const record = this.records.find((r) => r.name === step)!;
    const c = record.compensation!;
    c.status = StepStatus.SKIPPED;
    c.operator = { action: 'skip', at: now(), reason: reason.trim() };
    this.moveStep(record, StepStatus.COMPENSATED);
    this.finalEntries.add(this.entryOf.get(record)!);
    this.refresh();
  }

  /** Records an operator's word that everything left was undone by hand, with how: the saga is compensated (or cancelled). */
  markCompensated(note: string): void {
    if (this.phase !== 'unwinding') throw new SagaRepairRefusedError(`Only an unwinding saga can be declared compensated; it is ${this.current}`);
    this.operatorNote = note;
    this.operatorMarked = true;
    this.refresh();
  }

  /** Records that a cancellation arrived after the pivot and was not delivered: the saga goes on forward. */
  ignoreCancellation(reason: string): void {
    this.cancellationIgnored ??= { at: now(), reason };
  }

  /** Steps whose compensation failed and has since neither succeeded nor been skipped, in registration order. */
  get failedSteps(): string[] {
    return this.records.filter((r) => r.compensation?.status === StepStatus.FAILED).map((r) => r.name);
  }

  /** Whether some compensation has yet to run or succeed (one unwinding stopped before, or one that failed). */
  get compensationsLeft(): boolean {
    return this.stack.groups((entry) => !this.finalEntries.has(entry) && entry.record.compensation.status !== StepStatus.DONE).length > 0;
  }

  /**
   * Throws {@link SagaRepairRefusedError} unless `input` (a `retryCompensation` argument as received)
   * names only steps whose compensation failed, each once; no argument, or no `steps`, means every one.
   */
  checkRetry(input: unknown): void {
    if (input === undefined || input === null) return;
    if (typeof input !== 'object' || Array.isArray(input)) throw new SagaRepairRefusedError('retryCompensation takes { steps?: string[] }');
    const { steps } = input as { steps?: unknown };
    if (steps === undefined) return;
    if (!Array.isArray(steps) || steps.some((s) => typeof s !== 'string')) throw new SagaRepairRefusedError('steps must be a list of step names');
    if (steps.length === 0) throw new SagaRepairRefusedError('steps is empty: name at least one step, or leave steps out to retry every failed compensation');
    const seen = new Set<string>();
    for (const step of steps as string[]) {
      if (seen.has(step)) throw new SagaRepairRefusedError(`step "${step}" is named twice`);
      seen.add(step);
      this.assertCompensationFailed(step, 'retried');
    }
  }

  /** Throws {@link SagaRepairRefusedError} unless `input` (a `skipCompensation` argument as received) names a step whose compensation failed and gives a reason. */
  checkSkip(input: unknown): void {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SagaRepairRefusedError('skipCompensation takes { step: string; reason: string }');
    const { step, reason } = input as { step?: unknown; reason?: unknown };
    if (typeof step !== 'string' || step.trim() === '') throw new SagaRepairRefusedError('skipCompensation needs the step whose compensation was done by hand');
    this.assertCompensationFailed(step, 'skipped');
    if (typeof reason !== 'string' || reason.trim() === '') throw new SagaRepairRefusedError('skipCompensation needs a reason: what was repaired by hand, and how');
  }

  private assertCompensationFailed(step: string, verb: string): void {
    const failed = this.failedSteps;
    const open = failed.length > 0 ? `failed: ${failed.join(', ')}` : 'none failed';
    const record = this.records.find((r) => r.name === step);
    if (!record) throw new SagaRepairRefusedError(`the saga has no step "${step}" (compensations ${open})`);
    if (!record.compensation) throw new SagaRepairRefusedError(`step "${step}" has no compensation (compensations ${open})`);
    const c = record.compensation;
    if (c.status !== StepStatus.FAILED) {
      const was = c.operator?.action === 'skip' ? 'skipped by an operator' : c.status;
      throw new SagaRepairRefusedError(`the compensation of step "${step}" did not fail (it is ${was}); only a failed compensation can be ${verb} (compensations ${open})`);
    }
  }

  /** Keeps why the compensation-failed hook failed. */
  recordHookFailure(err: unknown): void {
    this.hookFailure = this.config.describeError(err);
  }

  /** The short record a failed saga reports. */
  failureDetails(): SagaFailureDetails {
    const failedStep = this.failure?.step;
    return {
      status: this.current,
      ...(failedStep === undefined ? {} : { failedStep }),
      compensated: [...this.compensatedOrder],
      compensationFailures: this.compensationFailures(),
      ...this.skippedCompensations(),
      ...(this.standing.length > 0 ? { standing: [...this.standing] } : {}),
    };
  }

  private skippedCompensations(): { skippedCompensations?: SkippedCompensation[] } {
    const skipped = this.records.flatMap((record) => {
      const c = record.compensation;
      if (c?.operator?.action !== 'skip') return [];
      return [{ step: record.name, compensation: c.name, reason: c.operator.reason ?? '', at: c.operator.at }];
    });
    return skipped.length > 0 ? { skippedCompensations: skipped } : {};
  }

  /** A deep copy of the saga's state. */
  get state(): SagaState {
    const state: SagaState = {
      status: this.current,
      steps: this.records.map(copyRecord),
      compensationFailures: this.compensationFailures(),
    };
    if (this.failure) state.failure = { ...this.failure };
    if (this.operatorNote !== undefined) state.operatorNote = this.operatorNote;
    if (this.hookFailure) state.hookFailure = copyError(this.hookFailure);
    if (this.pivotReached) state.pivot = { ...this.pivotReached };
    const outstanding = this.ledger.outstanding;
    if (outstanding.length > 0) state.outstanding = outstanding;
    if (this.standing.length > 0) state.standing = [...this.standing];
    if (this.cancellationIgnored) state.cancellationIgnored = { ...this.cancellationIgnored };
    return state;
  }

  private compensationFailures(): CompensationFailure[] {
    return this.records.flatMap((record) => {
      const c = record.compensation;
      if (c?.status !== StepStatus.FAILED) return [];
      const failure: CompensationFailure = { step: record.name, message: c.error?.message ?? 'compensation failed' };
      if (c.error?.type !== undefined) failure.type = c.error.type;
      return [failure];
    });
  }

  // The one place the status changes: derived from the phase and the records, reported when it differs.
  private refresh(): void {
    const status = this.derive();
    if (status === this.current) return;
    if (!canChangeSagaStatus(this.current, status)) throw new Error(`Saga status cannot go from ${this.current} to ${status}`);
    this.current = status;
    this.config.onStatus(status);
  }

  private derive(): SagaStatus {
    switch (this.phase) {
      case 'forward':
        return SagaStatus.RUNNING;
      case 'completed':
        return SagaStatus.COMPLETED;
      case 'forward-failed':
        return SagaStatus.FORWARD_FAILED;
      case 'unwinding': {
        const settled = this.cause === 'cancellation' ? SagaStatus.CANCELLED : SagaStatus.COMPENSATED;
        if (this.operatorMarked) return settled;
        if (this.roundRunning) return SagaStatus.COMPENSATING;
        if (this.failedSteps.length > 0) return SagaStatus.COMPENSATION_FAILED;
        return this.compensationsLeft ? SagaStatus.COMPENSATING : settled;
      }
    }
  }

  // One round of compensations: the status reads COMPENSATING while it runs, and is derived again
  // once it has ended. Returns whether nothing is left failed or undone.
  private async round(run: () => Promise<void>): Promise<boolean> {
    this.roundRunning = true;
    this.refresh();
    try {
      await run();
    } finally {
      this.roundRunning = false;
    }
    this.refresh();
    return this.failedSteps.length === 0 && !this.compensationsLeft;
  }

  private unwindGroups(groups: Entry<O>[][]) {
    return unwind(groups, { parallel: this.config.parallelCompensation, continueOnFailure: this.config.continueOnCompensationFailure }, (entry) =>
      this.ledger.track({ kind: WorkKind.compensation, name: entry.record.name }, this.runCompensation(entry), false),
    );
  }

  // Validates every spec before any record exists, so a bad stage leaves no trace; then pushes the
  // stage's compensations as one group *before* anything runs.
  private register(specs: readonly StepSpec<unknown, O>[], group: number): StepRecord[] {
    const batch = new Set<string>();
    for (const { name } of specs) {
      if (!this.started) throw new SagaUsageError(`Step "${name}" was started outside saga.run()`, name);
      if (this.phase !== 'forward') throw new SagaUsageError(`Step "${name}" was started after the saga stopped running (${this.current})`, name);
      if (this.names.has(name) || batch.has(name)) throw new SagaUsageError(`Step name "${name}" is used twice in this saga`, name);
      batch.add(name);
    }
    for (const { name, pivot, compensate } of specs) {
      if (pivot && specs.length > 1) throw new SagaUsageError(`Step "${name}" is a pivot inside a parallel stage; a pivot must be a step of its own`, name);
      if (pivot && this.pivotDeclared !== undefined) throw new SagaUsageError(`Step "${name}" is a second pivot; the saga already has "${this.pivotDeclared}"`, name);
      if (compensate && this.pivotReached) throw new SagaUsageError(`Step "${name}" has a compensation but runs after the pivot "${this.pivotReached.step}", after which nothing is undone`, name);
    }
    const entries: Entry<O>[] = [];
    const records = specs.map((spec) => {
      const record: StepRecord = { name: spec.name, status: StepStatus.PENDING, group, attempt: 0 };
      if (spec.summary !== undefined) record.summary = spec.summary;
      if (spec.pivot) {
        record.pivot = true;
        this.pivotDeclared = spec.name;
      }
      if (this.pivotReached) record.recovery = 'forward-recovery';
      if (spec.compensate) {
        const compensation: CompensationRecord = { name: spec.compensate.name, status: StepStatus.PENDING, attempt: 0 };
        record.compensation = compensation;
        const entry = { record: record as Entry<O>['record'], spec: spec.compensate };
        entries.push(entry);
        this.entryOf.set(record, entry);
      }
      this.names.add(spec.name);
      this.records.push(record);
      return record;
    });
    this.stack.push(entries);
    return records;
  }

  // The pivot succeeded: what came before is final, so its compensations leave the stack for good.
  // A pivot that succeeds while the saga unwinds (its reply came after another step's failure) is no
  // pivot: it is undone with the rest.
  private reachPivot(record: StepRecord): void {
    if (this.phase !== 'forward') return;
    this.pivotReached = { step: record.name, reachedAt: now() };
    this.stack.clear();
  }

  private shielded<T>(fn: () => Promise<T>): Promise<T> {
    return this.config.forwardScope ? this.config.forwardScope(fn) : fn();
  }

  // A step after the pivot: run, and after each failure wait for the host's go-ahead and run again.
  // Cancellations and bugs still propagate; only business failures and spent retries are held.
  private async forward<T>(record: StepRecord, spec: StepSpec<T, O>): Promise<T> {
    const repair = this.config.awaitForwardRepair;
    return this.shielded(async () => {
      for (;;) {
        try {
          return await this.execute(record, spec);
        } catch (err) {
          if (!repair || this.config.classify(err) !== 'failure') throw err;
          await repair(copyRecord(record));
        }
      }
    });
  }

  // Confirms one participant, held for the host's go-ahead after each failure like a step after the
  // pivot; once confirmed its cancel is off the stack, replaced by its compensation if it has one.
  // A confirm that failed is given up once the saga unwinds: it took no effect, so its cancel runs.
  private async confirm(record: StepRecord, participant: TccParticipantSpec<unknown, O>): Promise<void> {
    const c: CompensationRecord = { name: participant.confirm.name, status: StepStatus.PENDING, attempt: 0 };
    record.confirmation = c;
    const repair = this.config.awaitForwardRepair;
    for (;;) {
      c.status = StepStatus.RUNNING;
      c.attempt += 1;
      c.startedAt = now();
      delete c.endedAt;
      try {
        await participant.confirm.run(this.config.compensationOptions(participant.confirm.summary ?? `Confirm ${record.name}`));
        c.status = StepStatus.DONE;
        delete c.error;
        break;
      } catch (err) {
        c.status = StepStatus.FAILED;
        c.error = this.config.describeError(err);
        if (!repair || this.config.classify(err) !== 'failure') throw err;
      } finally {
        c.endedAt = now();
      }
      const resumed = this.phase === 'forward' && (await Promise.race([repair(copyRecord(record)).then(() => this.phase === 'forward'), this.unwindingStarted.then(() => false)]));
      if (!resumed) {
        c.status = StepStatus.SKIPPED;
        return;
      }
    }
    const entry = this.entryOf.get(record)!;
    if (!participant.compensate) {
      this.finalEntries.add(entry);
      delete record.compensation;
      this.standing.push(record.name);
      return;
    }
    entry.spec = participant.compensate;
    entry.record.compensation = { name: participant.compensate.name, status: StepStatus.PENDING, attempt: 0 };
  }

  // The Web UI label of a call: the pivot and the steps after it say so.
  private callSummary(record: StepRecord, summary: string | undefined): string | undefined {
    if (record.pivot) return `Pivot: ${summary ?? record.name}`;
    if (record.recovery) return `Forward recovery: ${summary ?? record.name}`;
    return summary;
  }

  private execute<T>(record: StepRecord, spec: StepSpec<T, O>, fatal = true): Promise<T> {
    this.moveStep(record, StepStatus.RUNNING);
    record.attempt += 1;
    record.startedAt = now();
    delete record.error;
    const run = (async () => {
      try {
        const value = await spec.run(this.config.stepOptions(this.callSummary(record, spec.summary)));
        this.moveStep(record, StepStatus.DONE);
        return value;
      } catch (err) {
        record.error = this.config.describeError(err);
        this.errorOf.set(record, err);
        this.moveStep(record, StepStatus.FAILED);
        if (typeof err === 'object' && err !== null) this.failedStepOf.set(err, record.name);
        throw err;
      } finally {
        record.endedAt = now();
      }
    })();
    return this.ledger.track({ kind: WorkKind.step, name: record.name }, run, fatal);
  }

  private async runCompensation({ record, spec }: Entry<O>): Promise<boolean> {
    const c = record.compensation;
    this.moveStep(record, StepStatus.COMPENSATING);
    c.status = StepStatus.RUNNING;
    c.attempt += 1;
    c.startedAt = now();
    delete c.endedAt;
    try {
      await spec.run(this.config.compensationOptions(spec.summary ?? `Undo ${record.name}`));
      c.status = StepStatus.DONE;
      delete c.error;
      this.moveStep(record, StepStatus.COMPENSATED);
      this.compensatedOrder.push(record.name);
      return true;
    } catch (err) {
      c.status = StepStatus.FAILED;
      c.error = this.config.describeError(err);
      this.moveStep(record, StepStatus.COMPENSATION_FAILED);
      return false;
    } finally {
      c.endedAt = now();
    }
  }

  private moveStep(record: StepRecord, status: StepStatus): void {
    if (!canChangeStepStatus(record.status, status)) throw new Error(`Step "${record.name}" cannot go from ${record.status} to ${status}`);
    record.status = status;
  }
}
