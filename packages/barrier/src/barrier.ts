import { ApplicationFailure } from '@temporalio/common';
import { BarrierFailureType, BarrierOutcomeKind, BarrierPhase, type BarrierDatabase, type BarrierOutcome, type BarrierSql } from './types';

// Local names for the package's types and failure, so the barrier's body reads the same as it did
// inside the services it came from. The rows' creation time is for people reading the table only.
const timestamp = () => new Date().toISOString();
const businessFailure = (type: BarrierFailureType, message: string, details: unknown) => ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
const FailureType = BarrierFailureType;
type Queryable = BarrierSql;
type Db = BarrierDatabase;
const Outcome = BarrierOutcomeKind;
const report = (tx: Queryable, service: string, phase: BarrierPhase, outcome: BarrierOutcomeKind) => tx.observe?.({ service, phase, outcome });

// The barrier makes a step and its compensation safe to deliver any number of times, in any order.
// It must run inside the transaction that makes the business change: the barrier row and the change
// commit together or not at all.
//
// Concurrency relies only on the primary key: a second transaction inserting the same (service, key,
// op) waits for the first to finish (PostgreSQL) or cannot run at the same time at all (SQLite), and
// then sees its row. On PostgreSQL that needs READ COMMITTED, which `Db.transaction` asks for
// explicitly: under a snapshot isolation the waiting insert would fail with a serialization error. A compensation claims the forward row before its own, so a forward call and its
// compensation racing each other are ordered by that one row. When the forward row exists already,
// both lock it (an UPDATE that changes nothing) before they look for the compensation's row: a repeated
// forward call then waits for a compensation still open on its key, and sees its row once it commits.

interface BarrierRow {
  written_by: 'try' | 'cancel';
  result: string | null;
}

const claim = 'INSERT INTO barriers (service, idem_key, op, written_by, result, created_at) VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING';
const read = 'SELECT written_by, result FROM barriers WHERE service = ? AND idem_key = ? AND op = ?';
const record = 'UPDATE barriers SET result = ? WHERE service = ? AND idem_key = ? AND op = ?';
const lock = 'UPDATE barriers SET written_by = written_by WHERE service = ? AND idem_key = ? AND op = ?';

// Whether the step's compensation has run (or found nothing to undo), after waiting for one still open.
async function compensated(tx: Queryable, service: string, key: string): Promise<boolean> {
  await tx.run(lock, [service, key, 'try']);
  return (await tx.get<BarrierRow>(read, [service, key, 'cancel'])) !== undefined;
}

async function storedResult<T>(tx: Queryable, service: string, key: string, op: 'try' | 'cancel'): Promise<BarrierRow & { value: T }> {
  const row = await tx.get<BarrierRow>(read, [service, key, op]);
  if (!row) throw new Error(`Barrier row ${service}/${key}/${op} vanished inside its transaction`);
  return { ...row, value: (row.result === null ? null : JSON.parse(row.result)) as T };
}

/**
 * Runs the forward step `apply` once per key. A repeated call returns the first call's result; a call
 * after the step's compensation, whether the step had run before it or not, is refused with
 * `StepAlreadyCompensated` and changes nothing.
 */
export async function forwardStep<T>(tx: Queryable, service: string, key: string, apply: () => Promise<T>): Promise<T> {
  const fresh = await tx.run(claim, [service, key, 'try', 'try', timestamp()]);
  if (fresh === 0) {
    const stored = await storedResult<T>(tx, service, key, 'try');
    // A step that ran and was undone must not answer with its first result: the caller (a run reset
    // to before the step) would go on as if the effect stood, and build on what no longer exists.
    const ranBefore = stored.written_by === 'try';
    if (!ranBefore || (await compensated(tx, service, key))) {
      report(tx, service, BarrierPhase.forward, Outcome.refusedLate);
      throw businessFailure(
        FailureType.StepAlreadyCompensated,
        ranBefore ? `${service} step ${key} was compensated after it ran; refusing to apply it again` : `${service} step ${key} was compensated before it ran; refusing to apply it now`,
        { service, key },
      );
    }
    report(tx, service, BarrierPhase.forward, Outcome.duplicate);
    return stored.value;
  }
  const result = await apply();
  await tx.run(record, [JSON.stringify(result), service, key, 'try']);
  report(tx, service, BarrierPhase.forward, Outcome.applied);
  return result;
}

/**
 * Runs the compensation `undo` once per key, and only if the forward step ran. When the forward step
 * never ran, records that (so it is refused should it arrive later) and returns `nothingToUndo`. A
 * repeated compensation returns the first one's result.
 */
export async function compensationStep<T>(tx: Queryable, service: string, key: string, nothingToUndo: T, undo: () => Promise<T>): Promise<T> {
  const { value, outcome } = await compensate(tx, service, key, nothingToUndo, undo);
  report(tx, service, BarrierPhase.compensation, outcome);
  return value;
}

// The compensation's work, and what the barrier decided, for `compensationStep` and `cancelStep` to report each under its own phase.
async function compensate<T>(tx: Queryable, service: string, key: string, nothingToUndo: T, undo: () => Promise<T>): Promise<{ value: T; outcome: BarrierOutcomeKind }> {
  const now = timestamp();
  const blockedForward = await tx.run(claim, [service, key, 'try', 'cancel', now]);
  if (blockedForward === 0) await tx.run(lock, [service, key, 'try']);
  const fresh = await tx.run(claim, [service, key, 'cancel', 'cancel', now]);
  if (fresh === 0) return { value: (await storedResult<T>(tx, service, key, 'cancel')).value, outcome: Outcome.duplicate };
  const value = blockedForward === 1 ? nothingToUndo : await undo();
  await tx.run(record, [JSON.stringify(value), service, key, 'cancel']);
  return { value, outcome: blockedForward === 1 ? Outcome.nothingToUndo : Outcome.applied };
}

// Try-confirm-cancel. The try is `forwardStep`. Confirm and cancel first claim the participant's one
// decision row, so they are ordered by it and the second of them is refused; the cancel then goes
// through `compensationStep`, which makes a cancel before its try a recorded no-op and refuses the late try.

type Decision = 'confirm' | 'cancel';

const claimDecision = 'INSERT INTO barrier_decisions (service, idem_key, decision, result, created_at) VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING';
const readDecision = 'SELECT decision, result FROM barrier_decisions WHERE service = ? AND idem_key = ?';
const recordDecision = 'UPDATE barrier_decisions SET result = ? WHERE service = ? AND idem_key = ?';

function phaseRefused(tx: Queryable, service: string, key: string, phase: Decision, outcome: BarrierOutcomeKind, reason: string): never {
  report(tx, service, phase, outcome);
  throw businessFailure(FailureType.TccPhaseRefused, `${service} ${phase} of ${key} refused: ${reason}`, { service, key, phase });
}

// Claims the decision for `phase`; when it is taken already, returns the first result of the same
// phase (a duplicate, for the caller to report) or refuses the other one.
async function decide<T>(tx: Queryable, service: string, key: string, phase: Decision): Promise<{ fresh: true } | { fresh: false; value: T }> {
  if ((await tx.run(claimDecision, [service, key, phase, timestamp()])) === 1) return { fresh: true };
  const row = await tx.get<{ decision: Decision; result: string | null }>(readDecision, [service, key]);
  if (!row) throw new Error(`Barrier decision ${service}/${key} vanished inside its transaction`);
  if (row.decision !== phase) {
    const cancelled = row.decision === 'cancel';
    phaseRefused(tx, service, key, phase, cancelled ? Outcome.refusedAfterCancel : Outcome.refusedAfterConfirm, `it was ${cancelled ? 'cancelled' : 'confirmed'} before`);
  }
  return { fresh: false, value: (row.result === null ? null : JSON.parse(row.result)) as T };
}

/**
 * Confirms a try once per key. A repeated confirm returns the first one's result; a confirm after the
 * cancel or after a compensation of the key, or of a try that never ran, is refused with
 * `TccPhaseRefused` and changes nothing.
 */
export async function confirmStep<T>(tx: Queryable, service: string, key: string, confirm: () => Promise<T>): Promise<T> {
  const decided = await decide<T>(tx, service, key, 'confirm');
  const tried = await tx.get<BarrierRow>(read, [service, key, 'try']);
  if (tried?.written_by !== 'try') phaseRefused(tx, service, key, 'confirm', Outcome.refusedNotTried, 'its try never ran');
  // A compensation (`compensationStep`) claims no decision: its row in `barriers` is what says the
  // participant was undone, and a confirm, first or repeated, must not report it as standing.
  if (await compensated(tx, service, key)) phaseRefused(tx, service, key, 'confirm', Outcome.refusedAfterCancel, 'it was compensated before');
  if (!decided.fresh) {
    report(tx, service, BarrierPhase.confirm, Outcome.duplicate);
    return decided.value;
  }
  const result = await confirm();
  await tx.run(recordDecision, [JSON.stringify(result), service, key]);
  report(tx, service, BarrierPhase.confirm, Outcome.applied);
  return result;
}

/**
 * Cancels a try once per key. A cancel before its try records itself, returns `nothingToUndo` and makes
 * the late try fail with `StepAlreadyCompensated`; a repeated cancel returns the first one's result; a
 * cancel after the confirm is refused with `TccPhaseRefused` and changes nothing.
 */
export async function cancelStep<T>(tx: Queryable, service: string, key: string, nothingToUndo: T, cancel: () => Promise<T>): Promise<T> {
  const decided = await decide<T>(tx, service, key, 'cancel');
  if (!decided.fresh) {
    report(tx, service, BarrierPhase.cancel, Outcome.duplicate);
    return decided.value;
  }
  const { value, outcome } = await compensate(tx, service, key, nothingToUndo, cancel);
  await tx.run(recordDecision, [JSON.stringify(value), service, key]);
  report(tx, service, BarrierPhase.cancel, outcome);
  return value;
}

const refusals: ReadonlySet<BarrierOutcomeKind> = new Set([Outcome.refusedLate, Outcome.refusedAfterCancel, Outcome.refusedAfterConfirm, Outcome.refusedNotTried]);
const refusalTypes: ReadonlySet<unknown> = new Set(Object.values(BarrierFailureType));

/**
 * Collects the outcomes the barrier reports inside one transaction (pass {@link observe} as the
 * transaction's `observe`) and hands them to `onOutcome` once the transaction has ended: every one of
 * them after a commit; after a rollback, only the barrier's refusal that caused it (a refusal changes
 * nothing, so it stands), and nothing for a transaction rolled back for any other reason. An
 * exception thrown by `onOutcome` is ignored: the transaction's result stands.
 *
 * @example
 * // Inside a database layer's transaction(fn), around the run of `fn`:
 * const outcomes = new BarrierOutcomes((o) => counter.add(1, { ...o }));
 * try {
 *   const result = await runInTransaction((tx) => { outcomes.restart(); return fn({ ...tx, observe: outcomes.observe }); });
 *   outcomes.committed();
 *   return result;
 * } catch (err) {
 *   outcomes.rolledBack(err);
 *   throw err;
 * }
 */
export class BarrierOutcomes {
  private pending: BarrierOutcome[] = [];

  constructor(private readonly onOutcome: (outcome: BarrierOutcome) => void) {}

  /** The hook to pass as the transaction's `observe`. */
  readonly observe = (outcome: BarrierOutcome): void => {
    this.pending.push(outcome);
  };

  /** Forgets what was collected: the transaction's body is about to run (again, after a retried deadlock). */
  restart(): void {
    this.pending = [];
  }

  /** The transaction committed: reports every outcome collected. */
  committed(): void {
    for (const outcome of this.pending.splice(0)) this.deliver(outcome);
  }

  /** The transaction rolled back with `error`: reports the barrier's refusal that caused it, if it was one. */
  rolledBack(error: unknown): void {
    const last = this.pending.at(-1);
    this.pending = [];
    if (last && refusals.has(last.outcome) && refusalTypes.has((error as { type?: unknown } | null)?.type)) this.deliver(last);
  }

  private deliver(outcome: BarrierOutcome): void {
    try {
      this.onOutcome(outcome);
    } catch {
      // An observer (a metric, a span) must never turn a committed change into a failed call.
    }
  }
}

/**
 * Counts calls per key outside any business transaction (its own commit), for behaviour that depends
 * on how often a step was tried, such as the `tok_flaky` payment token. Returns the count including this call.
 */
export async function countAttempt(db: Db, service: string, key: string): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.run('INSERT INTO attempts (service, idem_key, attempts) VALUES (?, ?, 1) ON CONFLICT (service, idem_key) DO UPDATE SET attempts = attempts.attempts + 1', [
      service,
      key,
    ]);
    const row = await tx.get<{ attempts: number }>('SELECT attempts FROM attempts WHERE service = ? AND idem_key = ?', [service, key]);
    return row?.attempts ?? 1;
  });
}
