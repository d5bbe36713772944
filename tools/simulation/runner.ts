// Runs one schedule: the pure saga engine, hosted the way the Temporal wrapper hosts it (a body scope
// the cancellation reaches only while the pivot is ahead, unwinding out of reach of cancellation,
// the operator's loop), against the real barrier on an in-memory or SQLite database. Every call is a
// pending answer the schedule delivers in an order of its choosing; cancellation, resets with late
// deliveries, continue-as-new and the operator come at the ticks it names. Deterministic: the same
// schedule gives the same run.

import { AsyncLocalStorage } from 'node:async_hooks';
import Database from 'better-sqlite3';
import { SagaEngine, sagaIdOf, SagaStatus, type ErrorKind, type StepSpec, type TccParticipantSpec } from '@saga-temporal/saga/core';
import { barrierDecisionsTable, barrierSchema, cancelStep, compensationStep, confirmStep, forwardStep, type BarrierDatabase } from '@saga-temporal/barrier';
import { sqliteBarrierDatabase } from '@saga-temporal/barrier/sqlite';
import { checkLaws, type AppliedEffect, type SagaOutcome, type WorkflowEnd } from './laws';
import { memoryBarrierDatabase } from './memory-barrier';
import type { CallOutcome, SagaShape, Schedule, StageShape, StepShape, TccShape, UndoOutcome } from './schedule';

/** The identity of a run, as a workflow sees it: what a saga id is derived from. */
export interface RunIdentity {
  runId: string;
  firstExecutionRunId: string;
  originalExecutionRunId: string;
}

/** Options of {@link runSchedule}. */
export interface RunOptions {
  /** The saga id rule under test. @default the package's rule */
  sagaIdOf?: (run: RunIdentity) => string;
  /** Ticks after which a saga of the schedule that has not ended counts as stuck. @default 2000 */
  maxTicks?: number;
}

/** What one schedule did and which laws it broke (none: it passed). */
export interface ScheduleResult {
  outcomes: SagaOutcome[];
  effects: AppliedEffect[];
  broken: string[];
  ticks: number;
}

/** A business failure inside the simulation. */
class SimFailure extends Error {
  override readonly name = 'SimFailure';
  constructor(
    message: string,
    readonly type: string,
  ) {
    super(message);
  }
}

/** A call cut short by the cancellation of its scope. */
class SimCancellation extends Error {
  override readonly name = 'SimCancellation';
}

// A cancellation scope: cancellable scopes pass a cancellation on to their children, a shield does not.
class Scope {
  private cancelled = false;
  private readonly children = new Set<Scope>();
  private readonly listeners: (() => void)[] = [];
  readonly calls = new Set<Pending>();

  constructor(
    parent: Scope | undefined,
    readonly shield = false,
  ) {
    parent?.children.add(this);
    // A scope opened inside a cancelled one is cancelled from the start, as in a workflow.
    this.cancelled = !shield && (parent?.consideredCancelled ?? false);
  }

  get consideredCancelled(): boolean {
    return this.cancelled && !this.shield;
  }

  onCancel(listener: () => void): void {
    this.listeners.push(listener);
  }

  cancel(world: World): void {
    if (this.shield || this.cancelled) return;
    this.cancelled = true;
    for (const listener of this.listeners) listener();
    for (const call of this.calls) world.cancelCall(call);
    for (const child of this.children) if (!child.shield) child.cancel(world);
  }
}

interface Pending {
  run: number;
  label: string;
  scope: Scope;
  deliver: () => Promise<void>;
  cancel: (appliedAnyway: boolean) => Promise<void>;
  /** The call's effect alone, answering nobody: what a call of a run a reset abandoned may still do. */
  effect: () => Promise<unknown>;
}

const scopes = new AsyncLocalStorage<Scope>();

/** Everything the schedule's sagas share: the barrier, the effects, the pending answers, the clock. */
class World {
  tick = 0;
  readonly effects: AppliedEffect[] = [];
  readonly pending: Pending[] = [];
  readonly fixed = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private choice = 0;
  private late = 0;
  private operatorChoice = 0;
  currentRun = 0;

  constructor(
    readonly schedule: Schedule,
    readonly db: BarrierDatabase,
    /** Ends the open transaction as the database itself would on some errors. */
    readonly abortTransaction: () => void,
  ) {}

  next(): number {
    return this.schedule.choices[this.choice++] ?? 0;
  }

  nextLate(): boolean {
    return this.schedule.lateDeliveries[this.late++] ?? false;
  }

  nextOperator(): 'retry' | 'skip' | 'mark' {
    // Once the schedule's choices are spent, the operator repairs by hand: a retry may never succeed.
    return this.schedule.operator[this.operatorChoice++] ?? 'skip';
  }

  attempt(key: string): number {
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    return n;
  }

  // A call waits for the schedule to deliver its answer; started in a cancelled scope it fails at once.
  call<T>(run: number, label: string, answer: () => Promise<T>, effectIfCancelled: () => Promise<unknown>): Promise<T> {
    const scope = scopes.getStore()!;
    // A run that a reset replaced schedules nothing more: its workflow is gone.
    if (run !== this.currentRun) return new Promise<T>(() => undefined);
    if (isCancelled(scope)) return Promise.reject(new SimCancellation(`${label} cancelled before it started`));
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        run,
        label,
        scope,
        deliver: () => answer().then(resolve, reject),
        cancel: async (appliedAnyway) => {
          // The worker may have done the work before the cancellation reached it: the effect stands, the answer is lost.
          if (appliedAnyway) await effectIfCancelled().catch(() => undefined);
          reject(new SimCancellation(`${label} cancelled`));
        },
        effect: effectIfCancelled,
      };
      scope.calls.add(pending);
      this.pending.push(pending);
    });
  }

  cancelCall(call: Pending): void {
    const i = this.pending.indexOf(call);
    if (i < 0) return;
    this.pending.splice(i, 1);
    call.scope.calls.delete(call);
    void call.cancel(this.next() % 2 === 1);
  }

  async deliver(index: number): Promise<void> {
    const [call] = this.pending.splice(index, 1);
    call!.scope.calls.delete(call!);
    await call!.deliver();
  }

  // Runs `fn` in one barrier transaction and keeps the effects it applied once the transaction committed.
  async apply<T>(fn: (tx: Parameters<Parameters<BarrierDatabase['transaction']>[0]>[0], applied: AppliedEffect[]) => Promise<T>): Promise<T> {
    const applied: AppliedEffect[] = [];
    const result = await this.db.transaction((tx) => fn(tx, applied));
    this.effects.push(...applied);
    return result;
  }
}

function isCancelled(scope: Scope | undefined): boolean {
  return scope?.consideredCancelled ?? false;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

// The services a simulated saga calls, each through the barrier under the saga's key for the step.
function services(world: World, sagaId: string, run: number) {
  const key = (step: string) => `${sagaId}/${step}`;
  const effect = (step: string, kind: AppliedEffect['kind']) => (applied: AppliedEffect[]) => async () => {
    applied.push({ saga: sagaId, step, kind });
    return step;
  };
  const forward = (step: string) => world.apply((tx, applied) => forwardStep(tx, 'sim', key(step), effect(step, 'forward')(applied)));
  const barrierFailure = (err: unknown) => {
    const type = (err as { type?: string }).type;
    throw type ? new SimFailure((err as Error).message, type) : err;
  };
  // An operator who retries a held step has fixed its cause first: it then behaves as `ok`.
  const forwardCall = (step: string, planned: CallOutcome) =>
    world.call(
      run,
      `do ${step}`,
      async () => {
        const outcome = world.fixed.has(key(step)) ? 'ok' : planned;
        if (outcome === 'fail') throw new SimFailure(`${step} declined`, 'Declined');
        if (outcome === 'db-abort') {
          await world
            .apply((tx) =>
              forwardStep(tx, 'sim', key(step), async () => {
                world.abortTransaction();
                throw new SimFailure(`${step}: the database ended the transaction`, 'Declined');
              }),
            )
            .catch(barrierFailure);
        }
        await forward(step).catch(barrierFailure);
        if (outcome === 'lost-reply') throw new SimFailure(`${step} timed out after its effect`, 'TimeoutFailure');
        if (outcome === 'duplicate') await forward(step).catch(barrierFailure);
        return step;
      },
      async () => (planned === 'fail' || planned === 'db-abort' ? undefined : forward(step)),
    );
  const undoCall = (step: string, outcome: UndoOutcome, label: string, body: () => Promise<unknown>) =>
    world.call(
      run,
      `${label} ${step}`,
      async () => {
        const attempt = world.attempt(`${label}/${key(step)}`);
        if (!world.fixed.has(key(step)) && (outcome === 'fail' || (outcome === 'fail-once' && attempt === 1))) throw new SimFailure(`${label} of ${step} exhausted its retries`, 'ProviderDown');
        return body().catch(barrierFailure);
      },
      body,
    );
  return {
    keyOf: key,
    forwardCall,
    undo: (step: string, outcome: UndoOutcome) => undoCall(step, outcome, 'undo', () => world.apply((tx, applied) => compensationStep(tx, 'sim', key(step), null, effect(step, 'undo')(applied)))),
    cancel: (step: string, outcome: UndoOutcome) => undoCall(step, outcome, 'cancel', () => world.apply((tx, applied) => cancelStep(tx, 'sim', key(step), null, effect(step, 'cancel')(applied)))),
    confirm: (step: string, outcome: 'ok' | 'fail-once') => undoCall(step, outcome, 'confirm', () => world.apply((tx, applied) => confirmStep(tx, 'sim', key(step), effect(step, 'confirm')(applied)))),
    timer: () => world.call(run, 'timer', async () => undefined, async () => undefined),
    // The operator undoes by hand what stands, through the service's own path, so the barrier records
    // it: a later run of the saga (a reset) then finds the step undone instead of standing.
    byHand: (step: string) => world.apply((tx, applied) => compensationStep(tx, 'sim', key(step), null, effect(step, 'by-hand')(applied))),
  };
}

type Services = ReturnType<typeof services>;

function stepSpec(svc: Services, shape: StepShape, pivot = false): StepSpec<unknown, object> {
  const spec: StepSpec<unknown, object> = { name: shape.name, run: () => svc.forwardCall(shape.name, shape.outcome) };
  if (shape.undo !== undefined) {
    const undo = shape.undo;
    spec.compensate = { name: `undo-${shape.name}`, run: () => svc.undo(shape.name, undo) };
  }
  if (pivot) spec.pivot = true;
  return spec;
}

function participant(svc: Services, p: TccShape): TccParticipantSpec<unknown, object> {
  const spec: TccParticipantSpec<unknown, object> = {
    name: p.name,
    try: () => svc.forwardCall(p.name, p.try),
    confirm: { name: `confirm-${p.name}`, run: () => svc.confirm(p.name, p.confirm) },
    cancel: { name: `cancel-${p.name}`, run: () => svc.cancel(p.name, p.cancel) },
  };
  if (p.undo !== undefined) {
    const undo = p.undo;
    spec.compensate = { name: `undo-${p.name}`, run: () => svc.undo(p.name, undo) };
  }
  return spec;
}

// One run of one saga, hosted as the Temporal wrapper hosts the engine.
class SimulatedRun {
  readonly engine: SagaEngine<object>;
  searchAttribute: SagaStatus = SagaStatus.RUNNING;
  end: WorkflowEnd = { kind: 'open' };
  readonly root = new Scope(undefined);
  private readonly holds: { step: string; release: () => void }[] = [];
  private operatorWaiting: ((action: 'retry' | 'skip' | 'mark') => void) | undefined;

  constructor(
    private readonly world: World,
    readonly id: number,
    private readonly shape: SagaShape,
    private readonly svc: Services,
  ) {
    const classify = (err: unknown): ErrorKind => {
      if (err instanceof SimCancellation) return isCancelled(scopes.getStore()) ? 'cancellation' : 'failure';
      return err instanceof SimFailure ? 'failure' : 'bug';
    };
    this.engine = new SagaEngine<object>({
      parallelCompensation: shape.parallelCompensation,
      continueOnCompensationFailure: shape.continueOnCompensationFailure,
      stepOptions: () => ({}),
      compensationOptions: () => ({}),
      describeError: (err) => (err instanceof SimFailure ? { message: err.message, type: err.type } : { message: String(err), type: err instanceof Error ? err.name : 'Error' }),
      classify,
      onStatus: (status) => void (this.searchAttribute = status),
      stageScope: () => {
        const scope = new Scope(scopes.getStore());
        return { run: (fn) => scopes.run(scope, fn), cancel: () => scope.cancel(world) };
      },
      forwardScope: (fn) => scopes.run(new Scope(scopes.getStore(), true), fn),
      awaitForwardRepair: (record) => new Promise<void>((release) => this.holds.push({ step: record.name, release })),
    });
  }

  /** Whether something waits for an operator: a held step or confirm, or a saga in COMPENSATION_FAILED. */
  get waitsForOperator(): boolean {
    return this.holds.length > 0 || this.operatorWaiting !== undefined;
  }

  /** The operator acts: releases a held step, or answers the saga waiting in COMPENSATION_FAILED. */
  operate(): void {
    const hold = this.holds.shift();
    if (hold) {
      this.world.fixed.add(this.svc.keyOf(hold.step));
      hold.release();
      return;
    }
    const answer = this.operatorWaiting;
    this.operatorWaiting = undefined;
    answer?.(this.world.nextOperator());
  }

  /** Drops the holds of confirms the engine gave up when it began to unwind, as the wrapper's condition does. */
  forgetAbandonedHolds(): void {
    if (this.engine.unwinding) this.holds.length = 0;
  }

  async run(): Promise<void> {
    const shield = new Scope(this.root, true);
    const body = new Scope(shield);
    this.root.onCancel(() => {
      if (this.engine.pivot) {
        this.engine.ignoreCancellation('after the pivot');
        return;
      }
      body.cancel(this.world);
    });
    this.end = await scopes.run(this.root, async () => {
      this.engine.start();
      try {
        await scopes.run(body, () => this.body());
        const settled = await this.engine.settleAbandoned();
        if ('failure' in settled) throw settled.failure;
      } catch (err) {
        if (!(err instanceof SimFailure) && !(err instanceof SimCancellation)) throw err;
        return scopes.run(shield, () => this.unwind(err));
      }
      this.engine.complete();
      return { kind: 'completed' };
    });
  }

  private async body(): Promise<void> {
    for (const stage of this.shape.stages) await this.stage(stage);
  }

  private async stage(stage: StageShape): Promise<void> {
    const go = async (p: Promise<unknown>, awaited: boolean) => {
      if (awaited) await p;
      else p.catch(() => undefined);
    };
    switch (stage.kind) {
      case 'step':
        return go(this.engine.step(stepSpec(this.svc, stage.step, stage.pivot)), stage.awaited);
      case 'parallel':
        return go(
          this.engine.parallel(stage.steps.map((s) => stepSpec(this.svc, s))),
          stage.awaited,
        );
      case 'tcc':
        return go(
          this.engine.tcc(stage.participants.map((p) => participant(this.svc, p))),
          stage.awaited,
        );
      case 'optional':
        return go(this.engine.optionalStep(stepSpec(this.svc, stage.step)), stage.awaited);
      case 'wait':
        await this.svc.timer();
        return;
      case 'throw':
        throw new SimFailure('the body failed', 'BodyFailed');
    }
  }

  private async unwind(err: unknown): Promise<WorkflowEnd> {
    const cancelled = err instanceof SimCancellation && this.root.consideredCancelled;
    if (this.engine.pivot) {
      await this.engine.failForward(err);
      return { kind: 'failed', type: 'FailedAfterPivot', details: this.engine.failureDetails() };
    }
    this.engine.recordFailure(err);
    let compensated = await this.engine.compensate(cancelled ? 'cancellation' : 'failure');
    while (!compensated && this.shape.onCompensationFailure === 'await-operator') {
      const action = await new Promise<'retry' | 'skip' | 'mark'>((answer) => (this.operatorWaiting = answer));
      const failed = this.engine.failedSteps;
      if (action === 'retry') {
        for (const step of failed) this.world.fixed.add(this.svc.keyOf(step));
        compensated = await this.engine.retryCompensations();
      } else if (action === 'skip') {
        await this.svc.byHand(failed[0]!);
        this.engine.skipCompensation(failed[0]!, 'undone by hand');
        compensated = this.engine.failedSteps.length === 0 && (!this.engine.compensationsLeft || (await this.engine.compensate()));
      } else {
        for (const step of [...failed, ...this.notAttempted()]) await this.svc.byHand(step);
        this.engine.markCompensated('undone by hand');
        compensated = true;
      }
    }
    const details = this.engine.failureDetails();
    if (cancelled && details.status === SagaStatus.CANCELLED) return { kind: 'cancelled' };
    return { kind: 'failed', type: cancelled ? 'CompensationFailed' : 'SagaFailed', details };
  }

  private notAttempted(): string[] {
    return this.engine.state.steps.filter((s) => s.compensation?.status === 'skipped' && s.compensation.operator === undefined).map((s) => s.name);
  }
}

function openDatabase(kind: Schedule['barrier']): { db: BarrierDatabase; abort: () => void } {
  if (kind === 'memory') return { db: memoryBarrierDatabase(), abort: () => undefined };
  const connection = new Database(':memory:');
  for (const ddl of [...barrierSchema, barrierDecisionsTable]) connection.exec(ddl);
  return { db: sqliteBarrierDatabase(connection), abort: () => connection.exec('ROLLBACK') };
}


/** Runs one schedule to its end and checks the laws. */
export async function runSchedule(schedule: Schedule, options: RunOptions = {}): Promise<ScheduleResult> {
  const idOf = options.sagaIdOf ?? sagaIdOf;
  const maxTicks = options.maxTicks ?? 2000;
  const { db, abort } = openDatabase(schedule.barrier);
  const world = new World(schedule, db, abort);
  const outcomes: SagaOutcome[] = [];
  const crashes: string[] = [];
  let runs = 0;
  const chainFirst = 'run-0';
  for (const [index, shape] of schedule.chain.entries()) {
    const original = `run-${runs}`;
    let identity: RunIdentity = { runId: original, firstExecutionRunId: chainFirst, originalExecutionRunId: original };
    const sagaId = idOf(identity);
    const resets = index === 0 ? [...schedule.resets].sort((a, b) => a - b) : [];
    const cancelAt = index === 0 ? schedule.cancelAt : undefined;
    let lastSagaId = sagaId;
    const firstRun = runs;
    let current = startRun(world, runs++, shape, sagaId);
    let done = current.finished;
    const budget = world.tick + maxTicks;
    for (;;) {
      await settle();
      current.run.forgetAbandonedHolds();
      if (world.tick++ > budget) break;
      // A run a reset started knows nothing of the calls its abandoned run had in flight; cancelled
      // before it reaches them, it could not undo their effects. The simulation cancels only runs no
      // reset replaced (a saga cancelled, then reset, is explored); docs/reliability.md says so.
      if (cancelAt === world.tick && current.run.id === firstRun) {
        current.run.root.cancel(world);
        continue;
      }
      // A run reset to its start re-runs the body, and a body whose first undone step is refused stops
      // there: what the abandoned run did after that step and had not undone yet is out of its reach.
      // So a reset comes while the saga goes forward or once it has closed, never while it unwinds,
      // and a saga left in COMPENSATION_FAILED is not reset (docs/reliability.md says so).
      const unwinding = current.run.engine.unwinding && !done.settled;
      const leftFailed = done.settled && current.run.engine.status === SagaStatus.COMPENSATION_FAILED;
      if (resets[0] !== undefined && leftFailed) resets.length = 0;
      if (resets[0] !== undefined && resets[0] <= world.tick && !unwinding) {
        resets.shift();
        // The old run is gone: its answers reach nobody, though a call it left may still take effect late.
        for (const call of world.pending.filter((c) => c.run === current.run.id)) {
          world.pending.splice(world.pending.indexOf(call), 1);
          if (world.nextLate()) world.pending.push({ ...call, deliver: () => call.effect().then(() => undefined, () => undefined) });
        }
        identity = { ...identity, runId: `run-${runs}` };
        lastSagaId = idOf(identity);
        current = startRun(world, runs++, shape, lastSagaId);
        done = current.finished;
        continue;
      }
      if (world.pending.length > 0) {
        await world.deliver(world.next() % world.pending.length);
        continue;
      }
      if (!done.settled && current.run.waitsForOperator) {
        current.run.operate();
        continue;
      }
      if (done.settled && resets.length > 0) {
        // A reset of a closed saga: the reset comes now.
        resets[0] = world.tick;
        continue;
      }
      break;
    }
    // An error that is no business failure is a bug of the engine or its host: a law of its own.
    if (done.error) crashes.push(`saga ${lastSagaId}: the engine threw ${done.error instanceof Error ? `${done.error.name}: ${done.error.message}` : String(done.error)}`);
    outcomes.push({ saga: lastSagaId, shape, state: current.run.engine.state, searchAttribute: current.run.searchAttribute, end: current.run.end });
  }
  return { outcomes, effects: world.effects, broken: [...crashes, ...checkLaws(outcomes, world.effects)], ticks: world.tick };
}

function startRun(world: World, id: number, shape: SagaShape, sagaId: string) {
  world.currentRun = id;
  const svc = services(world, sagaId, id);
  const run = new SimulatedRun(world, id, shape, svc);
  const finished: { settled: boolean; error?: unknown } = { settled: false };
  run.run().then(
    () => void (finished.settled = true),
    (error: unknown) => {
      finished.settled = true;
      finished.error = error;
    },
  );
  return { run, finished };
}
