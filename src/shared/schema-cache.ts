// A cache that outlives one workflow. The worker preloads this module (and zod) into its reusable V8
// context, where every workflow otherwise gets a fresh module cache: without it, each workflow start
// would evaluate zod and build every schema again before its first line runs. Only pure, immutable
// values belong here (schemas); anything holding per-workflow state would leak between workflows.
// Outside a workflow (client, activities) it is an ordinary per-process module cache.

const built = new Map<string, unknown>();

/** Returns the value stored under `key`, building it with `build` the first time in this thread. */
export function buildOnce<T>(key: string, build: () => T): T {
  if (built.has(key)) return built.get(key) as T;
  const value = build();
  built.set(key, value);
  return value;
}
