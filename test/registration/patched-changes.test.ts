import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { History } from '@temporalio/common/lib/proto-utils';
import { readHistories, recordHistory, uniqueTaskQueue, workflowBundle } from '../helpers';
import { useSagaTestbed } from '../support/testbed';
import { sampleRegistration } from '../support/samples';

// Changes to the registration that running registrations could notice, each behind a patch. A history
// recorded by the code before the change must replay as it ran, or the worker that picks such a
// registration up fails it with a determinism error; one recorded by today's code carries the patch's
// marker and replays the new way. The histories before each change were recorded by the registration
// code of the last commit before it (4703ab6 for the input rules, 359191e for the other two); those
// after, by test/registration/signals.test.ts (and the refused start below, by this file).

const testbed = useSagaTestbed();

async function recorded(name: string): Promise<History> {
  const found = (await readHistories('0.1.0/registration')).find((h) => h.workflowId === name);
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
const patchMarkers = (history: History, patch: string) =>
  history.events!.filter((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.some((p) => Buffer.from(p.data!).toString().includes(`"${patch}"`))).length;
const cancelRequests = (history: History) => history.events!.filter((e) => e.activityTaskCancelRequestedEventAttributes).length;

describe('the bound of 200 messages per registration (patch registration-message-bound)', () => {
  it('lets a registration that took 250 messages before the bound existed replay as it ran, to its verification', async () => {
    const history = await recorded('verified-after-250-messages');
    expect(signals(history)).toBe(250);
    expect(patchMarkers(history, 'registration-message-bound')).toBe(0);
    expect(history.events!.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    expect(await replayError('verified-after-250-messages')).toBeUndefined();
  });

  it('replays a registration that reached it under today\'s code: the patch marker at its 200th message, then undone', async () => {
    const history = await recorded('flooded');
    expect(signals(history)).toBe(250);
    expect(patchMarkers(history, 'registration-message-bound')).toBe(1);
    expect(history.events!.at(-1)?.workflowExecutionFailedEventAttributes).toBeTruthy();
    expect(await replayError('flooded')).toBeUndefined();
  });
});

describe('a code check under way when the registration is cancelled (patch registration-check-outlives-cancellation)', () => {
  it('replays a registration whose check was cancelled with it, recorded before checks outlived a cancellation', async () => {
    const history = await recorded('cancelled-during-code-check');
    expect(cancelRequests(history)).toBe(1);
    expect(patchMarkers(history, 'registration-check-outlives-cancellation')).toBe(0);
    expect(history.events!.at(-1)?.workflowExecutionCanceledEventAttributes).toBeTruthy();
    expect(await replayError('cancelled-during-code-check')).toBeUndefined();
  });

  it('replays one recorded by today\'s code, where the check finishes', async () => {
    const history = await recorded('cancelled-during-code-check-patched');
    expect(cancelRequests(history)).toBe(0);
    // Asked when the cancellation met the check under way, not when the check was scheduled.
    expect(patchMarkers(history, 'registration-check-outlives-cancellation')).toBe(1);
    const marker = history.events!.findIndex((e) => e.markerRecordedEventAttributes);
    const cancelRequested = history.events!.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
    expect(marker).toBeGreaterThan(cancelRequested);
    expect(history.events!.at(-1)?.workflowExecutionCanceledEventAttributes).toBeTruthy();
    expect(await replayError('cancelled-during-code-check-patched')).toBeUndefined();
  });
});

describe('the strict input rules (patch registration-strict-input)', () => {
  it('replays a registration of a non-ASCII address started under the looser rules, verified as it ran', async () => {
    const history = await recorded('verified-non-ascii-address');
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    expect(Buffer.from(started.input!.payloads![0]!.data!).toString()).toMatch(/"email":"josé\./);
    expect(patchMarkers(history, 'registration-strict-input')).toBe(0);
    expect(history.events!.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    expect(await replayError('verified-non-ascii-address')).toBeUndefined();
  });

  it('refuses a non-ASCII address at the start of a registration started by today\'s code, with the marker, before any step, and that history replays', async () => {
    // Started past the client's own check, as an older client or another language's SDK could.
    const handle = await testbed.env.client.workflow.start('registrationSaga', {
      workflowId: uniqueTaskQueue('registration-refused'),
      taskQueue: testbed.taskQueue,
      args: [sampleRegistration({ email: 'josé@example.com' })],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidInput');
    const history = await handle.fetchHistory();
    expect(patchMarkers(history, 'registration-strict-input')).toBe(1);
    expect(history.events!.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    const replayed = await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId).then(() => 'replayed', (e: unknown) => String(e));
    expect(replayed).toBe('replayed');
    await recordHistory(handle, 'registration', 'refused-non-ascii-address');
  });

  it('records no marker for an input today\'s rules accept: only an input they refuse asks the patch', async () => {
    for (const name of ['flooded', 'cancelled-during-code-check-patched']) {
      expect(patchMarkers(await recorded(name), 'registration-strict-input'), name).toBe(0);
    }
  });
});
