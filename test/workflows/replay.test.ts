import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { readHistories, workflowBundle } from '../helpers';

// Histories of the order and registration sagas on every path, recorded by their tests
// (`RECORD_HISTORIES=1 npx vitest run test/order/saga.test.ts test/registration/saga.test.ts
// test/registration/signals.test.ts`), and those a patched change must keep replaying, recorded by the
// code before the change (histories/CHANGELOG.md says which commit).
// A change to a saga that running workflows could not replay fails here: use `patched()` for it.

describe.each(['order', 'registration'])('recorded %s saga histories', (folder) => {
  it('replay against today\'s workflow code without a determinism error', async () => {
    const histories = await readHistories(folder);
    expect(histories.length).toBeGreaterThanOrEqual(4);
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      expect(result.error, `${result.workflowId}: ${String(result.error)}`).toBeUndefined();
      replayed.push(result.workflowId);
    }
    expect(replayed).toEqual(histories.map((h) => h.workflowId));
  });
});
