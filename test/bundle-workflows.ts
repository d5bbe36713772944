import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { workflowPreloadModules } from '../src/workflow-preload';
import { mutationBundleOptions } from './support/mutation-bridge';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder holding this run's bundle of `src/workflows.ts` (`workflows.js` and `workflows.js.map`). */
    workflowBundleDir: string;
  }
}

/**
 * The names inside the folder given to the test files: the bundle of `src/workflows.ts` and its source
 * map, and the subfolder where `bundleFor()` in test/helpers.ts keeps the test workflows' bundles.
 */
export const BUNDLE_FILES = { code: 'workflows.js', sourceMap: 'workflows.js.map', fixtures: 'fixtures' } as const;

// Bundling the sagas' workflows takes seconds, and some thirty test files need the same bundle: build it
// once per run, before any file starts, into a fresh temporary folder that `workflowBundle()` in
// test/helpers.ts reads; `bundleFor()` keeps the test workflows' bundles there too, each built by the
// first file that needs it. Fresh every run (rebuilt, and the test workflows' bundles dropped, before
// each rerun in watch mode), never reused, so a bundle is always the code under test; the folder goes
// when the run ends. Runs after
// test/build-packages.ts, as the bundle loads the workspace packages from their `dist/`.
async function bundle(dir: string): Promise<void> {
  const { code, sourceMap } = await bundleWorkflowCode({
    workflowsPath: resolve(__dirname, '..', 'src', 'workflows.ts'),
    preloadModules: [...workflowPreloadModules],
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) },
    ...mutationBundleOptions(),
  });
  writeFileSync(join(dir, BUNDLE_FILES.code), code);
  writeFileSync(join(dir, BUNDLE_FILES.sourceMap), sourceMap);
}

export default async function bundleWorkflows(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'saga-workflow-bundle-'));
  await bundle(dir);
  project.provide('workflowBundleDir', dir);
  project.onTestsRerun(async () => {
    rmSync(join(dir, BUNDLE_FILES.fixtures), { recursive: true, force: true });
    await bundle(dir);
  });
  return () => rmSync(dir, { recursive: true, force: true });
}
