import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type Activities } from '../src/activities';
import { createServices, type Services } from '../src/services';
import { createReconcilerActivities, type ReconcilerActivities } from '../src/reconciler/activities';
import { temporal } from '@temporalio/proto';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { customSearchAttributes } from '../src/shared/search-attributes';
import { temporalCli, temporalTestServer } from '../tools/temporal-binaries';
import { dynamicConfigArgs } from '../tools/devserver';
import { workflowPreloadModules } from '../src/workflow-preload';
import { currentRelease, historiesRoot, historyOutcome, historyWorkflowType, readManifestOrEmpty, writeManifest } from '../tools/release-histories';
import { expect, inject } from 'vitest';
import { BUNDLE_FILES } from './bundle-workflows';
import { mutationBundleOptions, mutationClientOptions, mutationWorkerOptions } from './support/mutation-bridge';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/**
 * A time-skipping test environment on the installed Java test server, with the sagas' search
 * attributes registered. Create one per test file and tear it down in `afterAll`.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await startTestServer();
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(customSearchAttributes.map((key) => [key.name, KEYWORD])),
  });
  return env;
}

// The SDK gives the test server's JVM a fixed 5 s to accept connections, which a loaded machine can
// miss; only that failure is retried, on a fresh port.
async function startTestServer(attempts = 5): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: temporalTestServer() }, client: mutationClientOptions() });
    } catch (err) {
      if (attempt >= attempts || !(err instanceof Error) || !err.message.includes('did not start within')) throw err;
    }
  }
}

/**
 * A real Temporal dev server (the CLI's `server start-dev`, in memory) with the sagas' search
 * attributes registered. Create one per test file and tear it down in `afterAll`.
 */
export async function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    client: mutationClientOptions(),
    server: {
      executable: temporalCli(),
      searchAttributes: [...customSearchAttributes],
      // The server settings the product's dev server and cluster run with (eager activity execution).
      extraArgs: ['--log-level', 'error', ...dynamicConfigArgs()],
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflow bundle of `src/workflows`: the one test/bundle-workflows.ts built for this run, read from
 * its folder, or, where no global set-up built one (another vitest configuration), bundled here once per
 * test file (bundling takes seconds).
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundledForThisRun() ?? bundleWorkflowCode({
    workflowsPath: resolve(__dirname, '..', 'src', 'workflows.ts'),
    preloadModules: [...workflowPreloadModules],
    logger: quietBundlerLogger,
    ...mutationBundleOptions(),
  });
  return bundle;
}

function bundledForThisRun(): Promise<WorkflowBundleWithSourceMap> | undefined {
  const dir = inject('workflowBundleDir');
  if (!dir) return undefined;
  return Promise.all([readFile(join(dir, BUNDLE_FILES.code), 'utf8'), readFile(join(dir, BUNDLE_FILES.sourceMap), 'utf8')]).then(([code, sourceMap]) => ({ code, sourceMap }));
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Bundles a workflows file under `test/` (test workflows), once per file per run: the first test file
 * that asks bundles it into this run's bundle folder (test/bundle-workflows.ts), later ones read it from
 * there; without that folder (another vitest configuration), once per file per test file.
 */
export function bundleFor(testRelativePath: string): Promise<WorkflowBundleWithSourceMap> {
  const workflowsPath = resolve(__dirname, testRelativePath);
  let b = bundles.get(workflowsPath);
  if (!b) {
    b = fixtureBundle(workflowsPath);
    bundles.set(workflowsPath, b);
  }
  return b;
}

async function fixtureBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  const runDir = inject('workflowBundleDir');
  if (!runDir) return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger, ...mutationBundleOptions() });
  const dir = join(runDir, BUNDLE_FILES.fixtures);
  const name = relative(resolve(__dirname, '..'), workflowsPath).replace(/[\\/]/g, '__');
  const codePath = join(dir, `${name}.js`);
  const mapPath = `${codePath}.map`;
  try {
    const [code, sourceMap] = await Promise.all([readFile(codePath, 'utf8'), readFile(mapPath, 'utf8')]);
    return { code, sourceMap };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const built = await bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger, ...mutationBundleOptions() });
  // Written under a name of this process's own, then renamed: a reader sees a whole file or none. The map
  // goes first, as the code's presence is what tells a reader the bundle is there.
  await mkdir(dir, { recursive: true });
  const tmp = `${codePath}.${process.pid}.tmp`;
  await writeFile(`${tmp}.map`, built.sourceMap);
  await rename(`${tmp}.map`, mapPath);
  await writeFile(tmp, built.code);
  await rename(tmp, codePath);
  return built;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/** A task queue name no other test in the process uses. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * Saves a workflow's history as JSON under `test/histories/<release>/<folder>/<name>.json` (the release
 * is the project's version) when `RECORD_HISTORIES=1`, and enters it in the release's manifest with the
 * running test's title as what it shows (`npm run record-histories` sets the variable). Histories are
 * committed: they are what running workflows look like, and a code change that cannot replay them
 * would break those workflows (the release replay gate, test/release/gate.test.ts).
 */
export async function recordHistory(handle: { fetchHistory(): Promise<History> }, folder: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const release = currentRelease();
  const dir = resolve(historiesRoot, release, folder);
  await mkdir(dir, { recursive: true });
  const history = await handle.fetchHistory();
  const json: unknown = JSON.parse(historyToJSON(history));
  await writeFile(resolve(dir, `${name}.json`), `${JSON.stringify(json, scrub, 2)}\n`);
  const manifest = readManifestOrEmpty(release);
  const file = `${folder}/${name}.json`;
  const entry = { file, workflowType: historyWorkflowType(history), outcome: historyOutcome(history), shows: expect.getState().currentTestName ?? name };
  writeManifest({ ...manifest, histories: [...manifest.histories.filter((h) => h.file !== file), entry] });
}

// Stack traces and worker identities name the recording machine's paths and host; replay reads neither.
function scrub(key: string, value: unknown): unknown {
  if (key === 'stackTrace') return undefined;
  if (key === 'identity') return 'saga-tests';
  return value;
}

/** Every recorded history of `test/histories/<folder>/` (e.g. `0.1.0/order`), by file name, ready for `Worker.runReplayHistories`. */
export async function readHistories(folder: string): Promise<{ workflowId: string; history: History }[]> {
  const dir = resolve(historiesRoot, folder);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({ workflowId: file.slice(0, -'.json'.length), history: historyFromJSON(JSON.parse(await readFile(resolve(dir, file), 'utf8'))) })),
  );
}

/** A Temporal environment with a running saga worker on real services (SQLite in a temp folder). */
export interface SagaTestbed {
  env: TestWorkflowEnvironment;
  services: Services;
  /** Task queue the worker polls. */
  taskQueue: string;
  /** Stops the worker, closes the database, tears the server down, removes the temp folder. */
  close(): Promise<void>;
}

/**
 * Starts the servers, the services and the saga worker for one test file. `server` picks the
 * time-skipping test server (anything with a timer) or the dev server; `activities` wraps the real
 * activities (to slow one down or make one die), and gets the services to build activities on slowed ones.
 */
export async function startSagaTestbed(
  options: { server?: 'time-skipping' | 'dev-server'; activities?: (real: Activities & ReconcilerActivities, services: Services) => object; bundle?: Promise<WorkflowBundleWithSourceMap> } = {},
): Promise<SagaTestbed> {
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-test-'));
  const env = await (options.server === 'dev-server' ? createDevServerEnv() : createTimeSkippingEnv());
  const services = await createServices({ databaseUrl: `sqlite:${join(dataDir, 'services.db')}`, faults: {} });
  const taskQueue = uniqueTaskQueue('sagas');
  // The saga's activities and the reconciler's, as the worker registers them.
  const real = { ...createActivities(services), ...createReconcilerActivities({ client: env.client, ...services }) };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await (options.bundle ?? workflowBundle()),
    activities: options.activities ? options.activities(real, services) : real,
    ...mutationWorkerOptions(),
  });
  const running = worker.run();
  return {
    env,
    services,
    taskQueue,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await services.close();
      await env.teardown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
