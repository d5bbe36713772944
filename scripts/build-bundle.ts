// `npm run build:bundle [out.js]`: bundles the workflow code once, ahead of time, so a production
// worker starts without webpack and runs exactly the code that was built and reviewed. The worker
// loads it through WORKFLOW_BUNDLE_PATH.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from '../src/codec';
import { workflowTracingModules } from '../src/tracing';
import { workflowPreloadModules } from '../src/workflow-preload';

/** Where the bundle goes unless a path is given. @default "dist/workflow-bundle.js" */
export const DEFAULT_BUNDLE_PATH = 'dist/workflow-bundle.js';

/** Bundles `src/workflows.ts` into `outFile` and returns its absolute path and size. */
export async function buildBundle(outFile: string = DEFAULT_BUNDLE_PATH): Promise<{ path: string; bytes: number }> {
  // The failure converter and the tracing interceptors are compiled into the bundle: a prebuilt bundle
  // takes neither from the worker. The interceptors stay idle unless the worker turns tracing on.
  const { code } = await bundleWorkflowCode({
    workflowsPath: resolve(__dirname, '..', 'src', 'workflows.ts'),
    failureConverterPath,
    preloadModules: [...workflowPreloadModules],
    workflowInterceptorModules: [...workflowTracingModules],
  });
  const path = resolve(outFile);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, code);
  return { path, bytes: Buffer.byteLength(code) };
}

if (require.main === module) {
  buildBundle(process.argv[2]).then(
    ({ path, bytes }) => console.log(`Workflow bundle written to ${path} (${Math.round(bytes / 1024)} KiB). Run the worker with WORKFLOW_BUNDLE_PATH=${path}`),
    (err: unknown) => {
      console.error(`Bundling failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
