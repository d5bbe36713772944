import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createTimeSkippingEnvironment, HistoryFileError, HistoryReplayError, replayHistories, TestServerNotFoundError } from '@saga-temporal/saga/testing';
import { temporalTestServer } from '../../tools/temporal-binaries';
import { bundleFor } from '../helpers';

// The engine package's testing entry as a saga author would use it: replay a folder of recorded
// histories, and start a time-skipping server that is already on disk.

const histories = resolve(__dirname, '..', 'histories', '0.1.0', 'saga');
let scratch: string;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'saga-testing-'));
  bundle = await bundleFor('fixtures/saga-workflows.ts');
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('replayHistories', () => {
  it('replays every history of a folder and returns their workflow ids', async () => {
    const replayed = await replayHistories(histories, { workflowBundle: bundle });
    expect(replayed).toHaveLength(10);
    expect(replayed).toContain('compensation-retried');
  });

  it('fails with HistoryReplayError naming each history that the workflows cannot replay', async () => {
    const folder = mkdtempSync(join(scratch, 'other-code-'));
    copyFileSync(join(histories, 'completed.json'), join(folder, 'completed.json'));
    copyFileSync(join(histories, 'operator-retry.json'), join(folder, 'operator-retry.json'));
    const error = await replayHistories(folder, { workflowBundle: await bundleFor('fixtures/foundation-workflows.ts') }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(HistoryReplayError);
    expect((error as HistoryReplayError).failures.map((f) => f.workflowId)).toEqual(['completed', 'operator-retry']);
    expect((error as HistoryReplayError).message).toContain(join(folder, 'completed.json'));
  });

  it('fails with HistoryFileError for a folder without histories and for a file that is not one', async () => {
    const empty = mkdtempSync(join(scratch, 'empty-'));
    await expect(replayHistories(empty, { workflowBundle: bundle })).rejects.toBeInstanceOf(HistoryFileError);
    await expect(replayHistories(join(scratch, 'missing'), { workflowBundle: bundle })).rejects.toThrow(/no such folder/);
    writeFileSync(join(empty, 'broken.json'), '{ not json');
    await expect(replayHistories(empty, { workflowBundle: bundle })).rejects.toThrow(/broken\.json: not a Temporal history/);
  });
});

describe('createTimeSkippingEnvironment', () => {
  it('starts the test server found at testServerPath, with time skipping', async () => {
    const executable = temporalTestServer();
    if (executable.type !== 'existing-path') throw new Error('the test server is not installed: run npm run install-temporal');
    const env = await createTimeSkippingEnvironment({ testServerPath: executable.path });
    try {
      expect(env.supportsTimeSkipping).toBe(true);
      const before = await env.currentTimeMs();
      await env.sleep('2 days');
      expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(2 * 24 * 3600 * 1000);
    } finally {
      await env.teardown();
    }
  });

  it('refuses a testServerPath that names no file with TestServerNotFoundError, before starting anything', async () => {
    await expect(createTimeSkippingEnvironment({ testServerPath: join(scratch, 'no-server') })).rejects.toBeInstanceOf(TestServerNotFoundError);
  });
});
