import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import type { History } from '@temporalio/common/lib/proto-utils';
import { readHistories, workflowBundle } from '../helpers';

// The bound of 200 messages per registration was deployed while registrations were running. One that
// had taken more messages by then had waited on where the bound now ends the wait; its history must
// still replay, or the worker that picks it up fails it with a determinism error. Both histories are
// recorded: `verified-after-250-messages` by the registration code before the bound (250 signals, then
// the right code), `flooded` by today's code (`test/registration/signals.test.ts`).

async function recorded(name: string): Promise<History> {
  const found = (await readHistories('registration')).find((h) => h.workflowId === name);
  if (!found) throw new Error(`no recorded registration history ${name}`);
  return found.history;
}

async function replayError(name: string): Promise<unknown> {
  return Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await recorded(name), name).then(
    () => undefined,
    (err: unknown) => err,
  );
}

const signals = (history: History) => history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
const patchMarkers = (history: History) =>
  history.events!.filter((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.some((p) => Buffer.from(p.data!).toString().includes('"registration-message-bound"'))).length;

describe('the bound of 200 messages per registration', () => {
  it('lets a registration that took 250 messages before the bound existed replay as it ran, to its verification', async () => {
    const history = await recorded('verified-after-250-messages');
    expect(signals(history)).toBe(250);
    expect(patchMarkers(history)).toBe(0);
    expect(history.events!.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    expect(await replayError('verified-after-250-messages')).toBeUndefined();
  });

  it('replays a registration that reached it under today\'s code: the patch marker at its 200th message, then undone', async () => {
    const history = await recorded('flooded');
    expect(signals(history)).toBe(250);
    expect(patchMarkers(history)).toBe(1);
    expect(history.events!.at(-1)?.workflowExecutionFailedEventAttributes).toBeTruthy();
    expect(await replayError('flooded')).toBeUndefined();
  });
});
