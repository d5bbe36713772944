import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { bundleFor, readHistories } from '../helpers';

// Histories recorded from the saga engine's workflow tests (`RECORD_HISTORIES=1 npx vitest run test/saga/edges.test.ts
// test/saga/workflow.test.ts test/saga/operator-updates.test.ts`). Replaying them with today's
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

describe('recorded saga engine histories', () => {
  it('replay without a determinism error, every one of them', async () => {
    const histories = await readHistories('saga');
    expect(histories.map((h) => h.workflowId)).toEqual(expected);
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await bundleFor('fixtures/saga-workflows.ts') }, histories)) {
      expect(result.error, `${result.workflowId}: ${String(result.error)}`).toBeUndefined();
      replayed.push(result.workflowId);
    }
    expect(replayed).toEqual(expected);
  });
});
