import type { ErrorRecord, SagaState, StepRecord } from '@saga-temporal/saga';
import type { VerificationState } from '../registration/contract';
import { table } from '../report/text';

// The status screen of one saga. Pure functions of their input and of the clock they are given, so
// the tests can pin them and `--watch` can compare frames to redraw only when something changed.
//
// Two counts of attempts meet here. The engine's `attempt` (the TRY column, `×N` beside a
// compensation) counts how often the saga started a step or a compensation: a retry-compensation
// starts a new one. Within one attempt the activity's retry policy tries again after each transient
// failure: those tries are the server's activity attempts, read from the workflow's description.

/** An activity in flight or waiting for its next try, as the server describes it. */
export interface ActivityTry {
  /** Activity type: the name of the step or of the compensation. */
  name: string;
  /** The server's attempt number of the activity: 1 for the first try, 2 after one failure, … */
  try: number;
  /** `running`: a worker holds it; `waiting`: scheduled, for its first try or the next after a failure. */
  state: 'running' | 'waiting' | 'cancelling' | 'paused';
  /** When the running try started, or when the waiting one is due (ISO 8601). */
  since?: string;
  /** Why the previous try failed. */
  lastFailure?: ErrorRecord;
  /** A step waiting for the carrier through the broker: how many times the carrier has been handed its command (0: queued). */
  carrierDeliveries?: number;
}

/** What the status screen shows about a workflow besides its saga state. */
export interface StatusView {
  workflowId: string;
  /** The run shown. */
  runId?: string;
  /** Workflow type, e.g. `orderSaga`. */
  type: string;
  /** Temporal's execution status (`RUNNING`, `COMPLETED`, `FAILED`, …). */
  workflowStatus: string;
  /** The `SagaStatus` search attribute, if the saga wrote one yet. */
  sagaStatus: string | undefined;
  /** The start summary shown in the Web UI. */
  summary: string | undefined;
  /** The saga's own state, when the query answered. */
  state: SagaState | undefined;
  /** Why the state is missing (no worker to answer the query, …). */
  stateUnavailable?: string;
  /** A registration's verification: whether it waits for a code, and until when; absent for an order. */
  verification?: VerificationState;
  /** Activities pending on the server: the tries of what is running now. @default [] */
  activities?: ActivityTry[];
  /** How a terminated saga was terminated, and what the reconciler made of it; absent unless terminated. */
  termination?: TerminationView;
  /** Link to the workflow in the Web UI. */
  uiUrl: string;
}

/** A terminated saga's termination: who, why, whether its effects were kept by hand, and its reconciliation. */
export interface TerminationView {
  reason: string;
  /** The identity of the client that terminated it. */
  identity: string;
  /** Set by `terminate --keep-effects`: the operator who took the effects over, and why. */
  kept?: { by: string; reason: string };
  /** The reconciliation's outcome, what it undid and what it finished forward after the pivot (or gave up), once it ran; absent before. */
  reconciled?: { outcome: string; undone: string[]; needsOperator: string[]; finished?: string[]; forwardGaveUp?: string[] };
}

/** How to draw the screen. */
export interface RenderOptions {
  /** The clock of the running steps' elapsed time, in ms since the epoch. @default Date.now() */
  now?: number;
  /** Table lines are cut to this many characters (other lines, such as links, are not). @default 100 */
  width?: number;
  /** The tries seen so far, for `--watch`; a one-shot screen shows what this view alone tells. */
  log?: CompensationLog;
}

/** A duration for people: `850ms`, `4.2s`, `42s`, `3m05s`, `2h03m`. */
export function formatDuration(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  if (t < 1_000) return `${t}ms`;
  if (t < 10_000) return `${(Math.floor(t / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(t / 1_000);
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3_600)}h${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
}

/** The time of something that ran: its duration once ended, the time since it started while it runs. */
function elapsed(startedAt: string | undefined, endedAt: string | undefined, running: boolean, now: number): string | undefined {
  if (!startedAt) return undefined;
  const end = endedAt ? Date.parse(endedAt) : running ? now : undefined;
  return end === undefined ? undefined : formatDuration(end - Date.parse(startedAt));
}

function errorText(error: ErrorRecord | undefined): string {
  return error ? `${error.type ? `${error.type}: ` : ''}${error.message}` : '';
}

function compensationCell(step: StepRecord, now: number, settled: boolean): string {
  const c = step.compensation;
  if (!c) return '-';
  // A saga that completed, or passed its pivot, will never run a compensation that has not started:
  // "pending" would promise one.
  if (settled && c.status === 'pending') return `${c.name}: not needed`;
  const attempts = c.attempt > 1 ? ` ×${c.attempt}` : '';
  const time = elapsed(c.startedAt, c.endedAt, c.status === 'running', now);
  const operator = c.operator ? ` (operator ${c.operator.action})` : '';
  return `${c.name}: ${c.status}${attempts}${time ? ` ${time}` : ''}${operator}`;
}

function detailCell(step: StepRecord): string {
  if (step.compensation?.operator?.action === 'skip') return `Skipped by operator: ${step.compensation.operator.reason ?? ''}`;
  return errorText(step.error ?? step.compensation?.error) || (step.summary ?? '');
}

// The pivot and the steps that recover forward after it are named beside their status.
function statusCell(step: StepRecord): string {
  if (step.pivot) return `${step.status} (pivot)`;
  if (step.recovery) return `${step.status} (${step.recovery})`;
  return step.status;
}

function fit(text: string, width: number): string {
  return text
    .split('\n')
    .map((line) => (line.length > width ? `${line.slice(0, width - 1)}…` : line))
    .join('\n');
}

/** Narrower than this, the detail of each step goes on a line of its own under the step. */
const MIN_DETAIL_WIDTH = 30;
const DETAIL_INDENT = '    ';

/**
 * The steps of a saga as a table: one row per step, its compensation beside it, and the time each
 * took (or has been running, at `now`). Lines stay within `width`: the detail is shortened, or, when
 * too little of it would be left, written on an indented line under its step. `settled`: the saga
 * completed or passed its pivot, so a compensation not started will never run.
 * @default now Date.now(), width 100, settled false
 */
export function stepsTable(steps: readonly StepRecord[], now: number = Date.now(), width = 100, settled = false): string {
  if (steps.length === 0) return '(no steps yet)';
  const header = ['STEP', 'STAGE', 'STATUS', 'TRY', 'TIME', 'COMPENSATION'];
  const rows = steps.map((s) => [s.name, String(s.group), statusCell(s), String(s.attempt), elapsed(s.startedAt, s.endedAt, s.status === 'running', now) ?? '-', compensationCell(s, now, settled)]);
  const details = steps.map(detailCell);
  const fixed = table(header, rows);
  const fixedWidth = Math.max(...fixed.split('\n').map((line) => line.length));
  if (width - fixedWidth - 2 >= MIN_DETAIL_WIDTH) {
    return fit(
      table(
        [...header, 'DETAIL'],
        rows.map((r, i) => [...r, details[i] ?? '']),
      ),
      width,
    );
  }
  const [head = '', ...lines] = fixed.split('\n');
  return fit([head, ...lines.flatMap((line, i) => (details[i] ? [line, `${DETAIL_INDENT}${details[i].replace(/\s+/g, ' ')}`] : [line]))].join('\n'), width);
}

/** One try of a compensation, as the screen lists it. */
export interface CompensationTry {
  /** The step it undoes. */
  step: string;
  /** The compensation's name. */
  compensation: string;
  /** The engine's attempt. */
  attempt: number;
  /** The activity's try within the attempt, when known. */
  try?: number;
  /** `waiting`, `running`, `failed`, or how the attempt ended (`done`, `failed`, `skipped`, …). */
  state: string;
  /** Why it failed. */
  error?: ErrorRecord;
  /** When it started (running) or is due (waiting), ISO 8601. */
  since?: string;
  /** When it ended, ISO 8601, when known. */
  endedAt?: string;
}

/**
 * The tries of every compensation seen so far. `--watch` feeds it every frame, so tries that came and
 * went between two frames still leave a line; a try it never saw is inferred from the next one.
 */
export class CompensationLog {
  private readonly tries = new Map<string, CompensationTry>();

  /** Records what one view of the saga shows. */
  observe(steps: readonly StepRecord[], activities: readonly ActivityTry[] = []): void {
    const running = steps.filter((s) => s.compensation?.status === 'running').map((s) => s.compensation!.name);
    for (const step of steps) {
      const c = step.compensation;
      if (!c || c.attempt < 1) continue;
      // An engine attempt after the first means the earlier ones failed.
      for (let a = 1; a < c.attempt; a++) if (!this.ofAttempt(step.name, a).length) this.put({ step: step.name, compensation: c.name, attempt: a, state: 'failed' });
      const seen = this.ofAttempt(step.name, c.attempt);
      const last = seen.at(-1);
      // Activities are matched by name, which is unambiguous unless two running compensations share it.
      const activity = c.status === 'running' && running.filter((n) => n === c.name).length === 1 ? activities.find((a) => a.name === c.name) : undefined;
      if (activity) {
        for (let t = 1; t < activity.try; t++) {
          const earlier = this.tries.get(key(step.name, c.attempt, t));
          const failure = t === activity.try - 1 ? activity.lastFailure : undefined;
          if (!earlier || earlier.state !== 'failed' || (failure && !earlier.error)) {
            this.put({ ...(earlier ?? { step: step.name, compensation: c.name, attempt: c.attempt, try: t }), state: 'failed', ...(failure ? { error: failure } : {}) });
          }
        }
        this.put({ step: step.name, compensation: c.name, attempt: c.attempt, try: activity.try, state: activity.state, ...(activity.since ? { since: activity.since } : {}) });
      } else if (c.status === 'running') {
        if (!last) this.put({ step: step.name, compensation: c.name, attempt: c.attempt, state: 'running', ...(c.startedAt ? { since: c.startedAt } : {}) });
      } else if (c.status !== 'pending') {
        const ended = { state: c.status, ...(c.error ? { error: c.error } : {}), ...(c.endedAt ? { endedAt: c.endedAt } : {}) };
        // Tries other than the last failed, or there would have been no later one.
        for (const earlier of seen.slice(0, -1)) if (earlier.state !== 'failed') this.put({ ...earlier, state: 'failed' });
        this.put({ ...(last ?? { step: step.name, compensation: c.name, attempt: c.attempt, ...(c.startedAt ? { since: c.startedAt } : {}) }), ...ended });
      }
    }
  }

  /** Every try recorded, by step name, attempt and try. */
  entries(): CompensationTry[] {
    return [...this.tries.values()].sort((a, b) => a.step.localeCompare(b.step) || a.attempt - b.attempt || (a.try ?? 0) - (b.try ?? 0));
  }

  private ofAttempt(step: string, attempt: number): CompensationTry[] {
    return this.entries().filter((t) => t.step === step && t.attempt === attempt);
  }

  private put(entry: CompensationTry): void {
    // A try first seen without its number is the same try once the number is known.
    if (entry.try !== undefined) this.tries.delete(key(entry.step, entry.attempt, undefined));
    this.tries.set(key(entry.step, entry.attempt, entry.try), entry);
  }
}

function key(step: string, attempt: number, tryNumber: number | undefined): string {
  return `${step}\u0000${attempt}\u0000${tryNumber ?? '?'}`;
}

function tryTime(t: CompensationTry, now: number): string {
  if (t.endedAt && t.since) return formatDuration(Date.parse(t.endedAt) - Date.parse(t.since));
  if (t.state === 'running') return t.since ? formatDuration(now - Date.parse(t.since)) : '';
  if (t.state === 'waiting' && t.since) {
    const due = Date.parse(t.since) - now;
    return due > 0 ? `next in ${formatDuration(due)}` : 'due';
  }
  return '';
}

/**
 * The tries of the compensations as a table in the steps' `order`, or nothing while no try has failed
 * and none was repeated: the table is for when undoing does not go smoothly.
 * @default width 100
 */
export function compensationTriesTable(entries: readonly CompensationTry[], order: readonly string[], now: number, width = 100): string | undefined {
  if (!entries.some((t) => t.state === 'failed' || t.attempt > 1 || (t.try ?? 1) > 1)) return undefined;
  const position = (step: string) => order.indexOf(step);
  const rows = [...entries].sort((a, b) => position(a.step) - position(b.step) || a.attempt - b.attempt || (a.try ?? 0) - (b.try ?? 0));
  return fit(
    table(
      ['COMPENSATION', 'ATTEMPT', 'TRY', 'STATE', 'TIME', 'DETAIL'],
      rows.map((t) => [t.compensation, String(t.attempt), t.try === undefined ? '-' : String(t.try), t.state, tryTime(t, now) || '-', errorText(t.error)]),
    ),
    width,
  );
}

/** The line of a step whose command waits at the broker, with the carrier's deliveries of it. */
export function carrierLine(step: string, deliveries: number): string {
  if (deliveries === 0) return `${step}: waiting for the carrier; its command is queued at the broker, not delivered yet`;
  const redelivered = deliveries > 1 ? ', redelivered' : '';
  return `${step}: waiting for the carrier; its command was delivered ${deliveries} time${deliveries === 1 ? '' : 's'}${redelivered}`;
}

/** The full status screen of one saga. */
export function renderStatus(view: StatusView, options: RenderOptions = {}): string {
  const now = options.now ?? Date.now();
  const status = view.state?.status ?? view.sagaStatus ?? 'UNKNOWN';
  const lines = [`${view.workflowId}  ${view.type}  saga ${status}  (workflow ${view.workflowStatus})`];
  if (view.summary) lines.push(view.summary);
  const state = view.state;
  if (state?.failure) lines.push(`Failure: ${state.failure.step ? `${state.failure.step}: ` : ''}${state.failure.message}${state.failure.type ? ` (${state.failure.type})` : ''}`);
  for (const f of state?.compensationFailures ?? []) lines.push(`Compensation failed: ${f.step}: ${f.message}`);
  if (state?.operatorNote) lines.push(`Operator note: ${state.operatorNote}`);
  if (state?.pivot) lines.push(`Pivot: ${state.pivot.step} at ${state.pivot.reachedAt}; later steps recover forward`);
  const t = view.termination;
  if (t) {
    lines.push(`Terminated by ${t.identity || 'an unnamed client'}: ${t.reason}`);
    if (t.kept) lines.push(`Effects kept by hand: ${t.kept.by} decided (${t.kept.reason}); the reconciler leaves this saga`);
    else if (t.reconciled) {
      const undone = t.reconciled.undone.length ? `undone ${t.reconciled.undone.join(', ')}` : 'nothing undone';
      const operator = t.reconciled.needsOperator.length ? `; needs an operator: ${t.reconciled.needsOperator.join('; ')}` : '';
      const finished = t.reconciled.finished?.length ? `; finished ${t.reconciled.finished.join(', ')}` : '';
      const gaveUp = t.reconciled.forwardGaveUp?.length ? `; gave up ${t.reconciled.forwardGaveUp.join(', ')} (optional)` : '';
      lines.push(`Reconciled: ${t.reconciled.outcome}, ${undone}${finished}${gaveUp}${operator}`);
    } else lines.push('Not reconciled yet: the reconciler undoes what stands at its next sweep (or run reconcile now)');
  }
  const v = view.verification;
  if (v?.phase === 'waiting') {
    const until = v.deadline ? ` until ${v.deadline.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')} (in ${formatDuration(Date.parse(v.deadline) - now)})` : '';
    lines.push(`Waiting for the code from the verification e-mail${until}; ${v.attemptsLeft} attempt${v.attemptsLeft === 1 ? '' : 's'} left, ${v.sends} e-mail${v.sends === 1 ? '' : 's'} sent`);
  }
  lines.push('');
  const width = options.width ?? 100;
  const settled = state !== undefined && (state.status === 'COMPLETED' || state.status === 'FORWARD_FAILED' || state.pivot !== undefined);
  lines.push(state ? stepsTable(state.steps, now, width, settled) : `(steps unavailable: ${view.stateUnavailable ?? 'the saga did not answer'})`);
  for (const a of view.activities ?? []) if (a.carrierDeliveries !== undefined && a.state === 'running') lines.push(carrierLine(a.name, a.carrierDeliveries));
  if (state) {
    const log = options.log ?? new CompensationLog();
    if (!options.log) log.observe(state.steps, view.activities);
    const order = state.steps.map((s) => s.name);
    const tries = compensationTriesTable(log.entries(), order, now, width);
    if (tries) lines.push('', "Compensation attempts (attempt: the saga's; try: the activity's, within an attempt):", tries);
  }
  lines.push('');
  lines.push(`Web UI: ${view.uiUrl}`);
  return lines.join('\n');
}
