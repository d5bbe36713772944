import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { bundleFor, readHistories, workflowBundle } from '../helpers';

// Histories of the saga patterns, recorded by their tests (`RECORD_HISTORIES=1 npx vitest run
// test/saga/pivot.test.ts test/saga/tcc.test.ts test/saga/child.test.ts
// test/saga/ledger.test.ts test/saga/child-ended.test.ts test/order/pivot.test.ts`). Replaying them with today's code proves a worker
// can pick any of them up after a crash or a deploy.

const folders = [
  { folder: 'patterns/pivot', bundle: () => bundleFor('fixtures/pattern-workflows.ts'), expected: ['pivot-cancelled-after', 'pivot-failed-after-retried', 'pivot-failed-before'] },
  { folder: 'patterns/tcc', bundle: () => bundleFor('fixtures/pattern-workflows.ts'), expected: ['tcc-confirm-held', 'tcc-confirmed', 'tcc-later-failure', 'tcc-try-failed'] },
  { folder: 'patterns/child', bundle: () => bundleFor('fixtures/pattern-workflows.ts'), expected: ['trip-cancelled', 'trip-child-closed-before-commit', 'trip-child-failed', 'trip-child-terminated', 'trip-committed-held', 'trip-committed', 'trip-parent-failed', 'trip-reset-after-commit', 'trip-reset-attached-child-closed', 'trip-reset-attached-committed', 'trip-reset-attached-compensated', 'trip-reset-child-not-attached-closed', 'trip-reset-child-not-attached'] },
  { folder: 'patterns/ledger', bundle: () => bundleFor('fixtures/pattern-workflows.ts'), expected: ['cancelled-after-pivot', 'confirm-in-flight', 'failed-after-pivot', 'unawaited-failure', 'unawaited-tcc'] },
  { folder: 'patterns/order-pivot', bundle: workflowBundle, expected: ['completed', 'undeliverable'] },
];

describe.each(folders)('recorded histories of $folder', ({ folder, bundle, expected }) => {
  it('replay without a determinism error, every one of them', async () => {
    const histories = await readHistories(folder);
    expect(histories.map((h) => h.workflowId)).toEqual(expected);
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await bundle() }, histories)) {
      expect(result.error, `${result.workflowId}: ${String(result.error)}`).toBeUndefined();
      replayed.push(result.workflowId);
    }
    expect(replayed).toEqual(expected);
  });
});
