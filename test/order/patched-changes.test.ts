import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { FailureType } from '../../src/shared/failures';
import type { orderSaga } from '../../src/order/workflow';
import { readHistories, recordHistory, workflowBundle } from '../helpers';
import { loadBundle } from '../../tools/release-histories';
import { tracingWorkerOptions } from '../../src/tracing';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder } from '../support/samples';

// The order's input rules were made strict (ASCII-only addresses, NFKC-normalized text without
// invisible characters, no free orders) while orders were running, behind the patch
// `order-strict-input`. An order started under the looser rules parses its input with them whenever it
// replays; one started by today's code is held to the strict rules. `completed-non-ascii-address` was
// recorded by the order code of 4703ab6, the last commit before the change.

const testbed = useSagaTestbed();

const patchMarkers = (history: History, patch: string) =>
  history.events!.filter((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.some((p) => Buffer.from(p.data!).toString().includes(`"${patch}"`))).length;

async function replayError(history: History, name: string): Promise<unknown> {
  return Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, name).then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe('the strict input rules of the order (patch order-strict-input)', () => {
  it('replays an order of a non-ASCII address started under the looser rules, completed as it ran, on the code it finishes on', async () => {
    const { history } = (await readHistories('0.1.0/order')).find((h) => h.workflowId === 'completed-non-ascii-address')!;
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    expect(Buffer.from(started.input!.payloads![0]!.data!).toString()).toContain('"email":"josé@example.com"');
    expect(patchMarkers(history, 'order-strict-input')).toBe(0);
    expect(history.events!.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    // 0.3.0 changed the pinned order without a patch (it records its outcome before it closes): an
    // order of an earlier release finishes on that release's code, and no longer replays on today's.
    expect(String(await replayError(history, 'completed-non-ascii-address'))).toMatch(/nondeterminism/i);
    const own = await Worker.runReplayHistory({ workflowBundle: loadBundle('0.1.0'), ...tracingWorkerOptions(undefined, { prebuiltBundle: true }) }, history, 'completed-non-ascii-address').then(
      () => 'replayed',
      (err: unknown) => String(err),
    );
    expect(own).toBe('replayed');
  });

  it('refuses a non-ASCII address at the start of an order started by today\'s code, before any step, and that history replays', async () => {
    const input = sampleOrder({ email: 'josé@example.com' });
    // Started past the client's own check, as an older client or another language's SDK could.
    const handle = await testbed.env.client.workflow.start<typeof orderSaga>('orderSaga', { workflowId: `order-${input.orderId}`, taskQueue: testbed.taskQueue, args: [input] });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.InvalidInput);

    const history = await handle.fetchHistory();
    expect(patchMarkers(history, 'order-strict-input')).toBe(1);
    expect(history.events!.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    expect(await replayError(history, handle.workflowId)).toBeUndefined();
    await recordHistory(handle, 'order', 'refused-non-ascii-address');
  });
});
