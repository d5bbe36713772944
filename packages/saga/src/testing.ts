// What a saga's author needs to test it: replaying recorded histories against today's workflow code,
// and a time-skipping environment that runs offline when a test server is already on disk. Node
// only, for test code: it loads @temporalio/worker and @temporalio/testing (optional peers).

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { TestWorkflowEnvironment, type TimeSkippingTestWorkflowEnvironmentOptions } from '@temporalio/testing';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';

/** Thrown when a folder holds no history to replay, or a history file cannot be read. */
export class HistoryFileError extends Error {
  override readonly name = 'HistoryFileError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

/** One history that did not replay: its workflow id (the file name), the file and the error. */
export interface ReplayFailure {
  workflowId: string;
  file: string;
  error: Error;
}

/** Thrown by {@link replayHistories} when at least one history did not replay; lists every one. */
export class HistoryReplayError extends Error {
  override readonly name = 'HistoryReplayError';
  constructor(
    readonly failures: readonly ReplayFailure[],
    readonly replayed: number,
  ) {
    super(
      `${failures.length} of ${replayed} recorded histories did not replay against today's workflow code (use patched() for a deliberate change):\n` +
        failures.map((f) => `  ${f.file}: ${f.error.name}: ${f.error.message}`).join('\n'),
    );
  }
}

/** Where the workflows to replay come from: a path to the workflows module, or a prebuilt bundle (faster across many calls). */
export type ReplaySource = { workflowsPath: string } | { workflowBundle: NonNullable<ReplayWorkerOptions['workflowBundle']> };

/** Options of {@link replayHistories}. */
export interface ReplayHistoriesOptions {
  /** Other replay worker options (interceptors, sinks, bundler options). @default none */
  worker?: Omit<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle'>;
}

async function readHistoryFolder(folder: string): Promise<{ file: string; workflowId: string; history: ReturnType<typeof historyFromJSON> }[]> {
  if (!existsSync(folder)) throw new HistoryFileError(folder, 'no such folder');
  const files = (await readdir(folder)).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new HistoryFileError(folder, 'no *.json history in this folder');
  return Promise.all(
    files.map(async (file) => {
      const path = join(folder, file);
      try {
        return { file: path, workflowId: file.slice(0, -'.json'.length), history: historyFromJSON(JSON.parse(await readFile(path, 'utf8'))) };
      } catch (err) {
        throw new HistoryFileError(path, `not a Temporal history in JSON (${err instanceof Error ? err.message : String(err)})`);
      }
    }),
  );
}

/**
 * Replays every `*.json` history in `folder` (as `temporal workflow show --output json` writes them;
 * the file name is the workflow id) against the workflows, and resolves with the workflow ids replayed.
 * Throws {@link HistoryReplayError} listing every history that failed, or {@link HistoryFileError}.
 *
 * @example await replayHistories('test/histories', { workflowsPath: require.resolve('../src/workflows') });
 */
export async function replayHistories(folder: string, source: ReplaySource, options: ReplayHistoriesOptions = {}): Promise<string[]> {
  const histories = await readHistoryFolder(folder);
  const files = new Map(histories.map((h) => [h.workflowId, h.file]));
  const replayed: string[] = [];
  const failures: ReplayFailure[] = [];
  for await (const result of Worker.runReplayHistories({ ...options.worker, ...source }, histories)) {
    replayed.push(result.workflowId);
    if (result.error) failures.push({ workflowId: result.workflowId, file: files.get(result.workflowId) ?? result.workflowId, error: result.error });
  }
  if (failures.length > 0) throw new HistoryReplayError(failures, replayed.length);
  return replayed;
}

/** Options of {@link createTimeSkippingEnvironment}. */
export interface TimeSkippingOptions extends TimeSkippingTestWorkflowEnvironmentOptions {
  /** Path of a time-skipping test server already on disk (the SDK runs `<path> <port>`). @default process.env.TEMPORAL_TEST_SERVER_PATH, else the SDK's download */
  testServerPath?: string;
  /** How many times to start the server when it misses the SDK's fixed 5 s start-up window (a JVM on a busy CI machine can). @default 3 */
  startAttempts?: number;
}

/** Thrown when the given test server path names no file. */
export class TestServerNotFoundError extends Error {
  override readonly name = 'TestServerNotFoundError';
  constructor(readonly path: string) {
    super(`No time-skipping test server at ${path}: point testServerPath (or TEMPORAL_TEST_SERVER_PATH) at one, or leave both unset to let the SDK download it`);
  }
}

/**
 * `TestWorkflowEnvironment.createTimeSkipping`, run from an existing test server when one is given
 * (`testServerPath`, else `TEMPORAL_TEST_SERVER_PATH`), so tests need no network; otherwise the SDK
 * downloads and caches it. An explicit `server.executable` wins over both.
 */
export async function createTimeSkippingEnvironment(options: TimeSkippingOptions = {}): Promise<TestWorkflowEnvironment> {
  const { testServerPath, startAttempts = 3, ...envOptions } = options;
  const path = testServerPath ?? (process.env.TEMPORAL_TEST_SERVER_PATH || undefined);
  if (path !== undefined && !existsSync(path)) throw new TestServerNotFoundError(path);
  const executable = envOptions.server?.executable ?? (path === undefined ? undefined : { type: 'existing-path' as const, path });
  const start = () => TestWorkflowEnvironment.createTimeSkipping({ ...envOptions, server: { ...envOptions.server, ...(executable ? { executable } : {}) } });
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= startAttempts || !(err instanceof Error) || !/did not start within/.test(err.message)) throw err;
    }
  }
}
