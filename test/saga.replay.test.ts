import { readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { bundleFor } from './helpers';
import { historiesDir, quietRuntime, readHistory } from './fixtures/saga-harness';

// Histories recorded from the saga workflow tests (`RECORD_HISTORIES=1 npx vitest run
// test/saga.workflow.test.ts test/saga.operator-updates.test.ts`). Replaying them with today's
// engine proves a worker can pick up any of these sagas after a crash or a deploy.

const expected = [
  'cancelled-mid-compensation',
  'cancelled-mid-step',
  'compensation-failed',
  'compensation-retried',
  'completed',
  'failure-mid-saga',
  'operator-marked',
  'operator-retry',
  'parallel-stage-failure',
  'timed-out-step',
];

beforeAll(() => {
  quietRuntime();
});

describe('recorded saga histories', () => {
  it('are all present', async () => {
    const files = (await readdir(historiesDir)).filter((f) => f.endsWith('.json')).map((f) => basename(f, '.json'));
    expect(files.sort()).toEqual(expected);
  });

  it('replay without a determinism error', async () => {
    const histories = await Promise.all(expected.map(async (name) => ({ workflowId: name, history: await readHistory(name) })));
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await bundleFor('fixtures/saga-workflows.ts') }, histories)) {
      expect(result.error, `${result.workflowId}: ${String(result.error)}`).toBeUndefined();
      replayed.push(result.workflowId);
    }
    expect(replayed).toEqual(expected);
  });
});
