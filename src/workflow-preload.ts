// Modules the workflow bundle loads once per worker thread instead of once per workflow: zod and the
// schema cache (see shared/schema-cache.ts). Every place that bundles the sagas' workflows passes this list
// as the bundler's `preloadModules`. Node-side only: workflow code never imports it.
import { join } from 'node:path';

/** Package names and absolute paths (without extension, so sources and compiled output both resolve) for `bundlerOptions.preloadModules`. */
export const workflowPreloadModules: readonly string[] = ['zod', join(__dirname, 'shared', 'schema-cache')];
