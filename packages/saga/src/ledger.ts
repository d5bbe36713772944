// The ledger of outstanding work: everything a saga has started and not yet settled — forward steps,
// whole stages, confirms, compensations, and the host's own work (a child's decision, an operator's
// request). Body return, unwinding and repair all wait on it, so no kind of work can be forgotten by
// one of them while another waits for it. Pure TypeScript with no Temporal imports.

/** The kinds of work the ledger keeps. */
export const WorkKind = {
  /** One forward call of a step (a stage's steps are one entry each). */
  step: 'step',
  /** A whole stage (`parallel`, `tcc`, an optional step): settles when everything it started has. */
  stage: 'stage',
  /** The confirm of a try-confirm-cancel participant. */
  confirm: 'confirm',
  /** One compensation (or cancel) call. */
  compensation: 'compensation',
  /** Work the host started on the saga's behalf: a child saga's commit, an operator's request. */
  host: 'host',
} as const;

export type WorkKind = (typeof WorkKind)[keyof typeof WorkKind];

/** One entry of the ledger, as the state query shows it. */
export interface OutstandingWork {
  /** What kind of work it is. */
  kind: WorkKind;
  /** The step, participant or request it belongs to. */
  name: string;
}

interface Entry extends OutstandingWork {
  // A failure of this work must unwind the saga when nobody awaited it; an optional step's does not.
  fatal: boolean;
}

/** Work started and not settled, and a way to wait for all of it, work started while waiting included. */
export class Ledger {
  private readonly open = new Map<Promise<unknown>, Entry>();

  /** Keeps `promise` until it settles and returns it; `fatal: false` marks work whose failure is the caller's alone. */
  track<T>(work: OutstandingWork, promise: Promise<T>, fatal = true): Promise<T> {
    this.open.set(promise, { ...work, fatal });
    const settled = () => void this.open.delete(promise);
    promise.then(settled, settled);
    return promise;
  }

  /** The open work, oldest first. */
  get outstanding(): OutstandingWork[] {
    return [...this.open.values()].map(({ kind, name }) => ({ kind, name }));
  }

  /** Whether work of one of `kinds` (any kind when left out) is open. */
  has(kinds?: readonly WorkKind[]): boolean {
    return this.pick(kinds).length > 0;
  }

  /**
   * Waits until no work of `kinds` (any kind when left out) is open, including work started while it
   * waits, and returns the names of the work it waited for and the first failure of fatal work.
   */
  async settle(kinds?: readonly WorkKind[]): Promise<{ names: string[]; failure?: { error: unknown } }> {
    const names: string[] = [];
    let failure: { error: unknown } | undefined;
    for (let open = this.pick(kinds); open.length > 0; open = this.pick(kinds)) {
      for (const [, { name }] of open) if (!names.includes(name)) names.push(name);
      const results = await Promise.allSettled(open.map(([promise]) => promise));
      results.forEach((result, i) => {
        if (result.status === 'rejected' && open[i]![1].fatal && !failure) failure = { error: result.reason };
      });
    }
    return failure ? { names, failure } : { names };
  }

  private pick(kinds?: readonly WorkKind[]): [Promise<unknown>, Entry][] {
    return [...this.open.entries()].filter(([, { kind }]) => !kinds || kinds.includes(kind));
  }
}
