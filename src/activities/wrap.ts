// One way to put behaviour around every activity of a set (heartbeats, the saga id), so each wrapper
// states only what it adds and the activities keep their names and types.

/** An activity as the wrappers see it: one input, a promise. */
export type AnyActivity = (input: unknown) => Promise<unknown>;

/** Returns `activities` with each one replaced by `wrap(name, activity)`; names and types are kept. */
export function wrapActivities<T extends Record<string, (input: never) => Promise<unknown>>>(
  activities: T,
  wrap: (name: string, activity: AnyActivity) => AnyActivity,
): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, fn] of Object.entries(activities)) wrapped[name] = wrap(name, fn as AnyActivity);
  return wrapped as unknown as T;
}
