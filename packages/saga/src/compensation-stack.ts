// The compensation stack and the order it unwinds in. Pure TypeScript with no Temporal imports: the
// same code runs in the workflow sandbox and in plain unit tests, where the ordering is proven.

/** How to unwind a {@link CompensationStack}. */
export interface UnwindOptions {
  /** Start every compensation at once instead of one group at a time, last group first. */
  parallel: boolean;
  /** After a group with a failed compensation, go on with the earlier groups instead of stopping. */
  continueOnFailure: boolean;
}

/** What an unwinding did not achieve. */
export interface UnwindResult<E> {
  /** Entries whose compensation ran and failed, in the order they were started. */
  failed: E[];
  /** Entries never started because unwinding stopped at a failure, in the order they would have run. */
  skipped: E[];
}

/**
 * Compensations in groups, in registration order. A group is the set of steps of one stage: a single
 * step, or the steps of one parallel stage, which have no order among themselves.
 */
export class CompensationStack<E> {
  private readonly stack: E[][] = [];

  /** Pushes one group; an empty group (a stage whose steps have no compensation) is not kept. */
  push(group: readonly E[]): void {
    if (group.length > 0) this.stack.push([...group]);
  }

  /** Drops every group: what they would undo is final. */
  clear(): void {
    this.stack.length = 0;
  }

  /** The groups in registration order, keeping only the entries `keep` accepts; empty groups dropped. */
  groups(keep: (entry: E) => boolean = () => true): E[][] {
    return this.stack.map((group) => group.filter(keep)).filter((group) => group.length > 0);
  }
}

/**
 * The order compensations start in: last group first, and within a group the last registered first.
 * The order within a group only fixes when each is *started*; a group's entries then run together.
 */
export function unwindOrder<E>(groups: readonly (readonly E[])[]): E[][] {
  return [...groups].reverse().map((group) => [...group].reverse());
}

/**
 * Runs the compensations of `groups` (given in registration order) last-in, first-out.
 *
 * One at a time (`parallel: false`), a group starts only after every later group has settled, and the
 * entries of a group run concurrently. In parallel, all start at once and `continueOnFailure` has
 * nothing left to stop. `compensate` reports success as `true`; a rejection counts as a failure.
 */
export async function unwind<E>(
  groups: readonly (readonly E[])[],
  options: UnwindOptions,
  compensate: (entry: E) => Promise<boolean>,
): Promise<UnwindResult<E>> {
  const order = unwindOrder(groups);
  const attempt = (entry: E): Promise<boolean> => compensate(entry).catch(() => false);
  if (options.parallel) {
    const all = order.flat();
    const results = await Promise.all(all.map(attempt));
    return { failed: all.filter((_, i) => !results[i]), skipped: [] };
  }
  const failed: E[] = [];
  for (const [index, group] of order.entries()) {
    const results = await Promise.all(group.map(attempt));
    failed.push(...group.filter((_, i) => !results[i]));
    if (failed.length > 0 && !options.continueOnFailure) return { failed, skipped: order.slice(index + 1).flat() };
  }
  return { failed, skipped: [] };
}
