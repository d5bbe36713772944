import { describe, expect, it } from 'vitest';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { reservationChain } from '../fixtures/identity-workflows';
import { bundleFor } from '../helpers';
import { resetToTaskScheduling } from '../support/resets';
import { uniqueId } from '../support/samples';
import { useSagaTestbed } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';

// Which saga a run belongs to, on a real dev server: the idempotency keys carry the saga id, and the
// barrier returns a stored result to a key it has seen. A run made by a reset carries on its saga and
// finds what the saga did; a run started by continue-as-new or by a cron schedule is a saga of its
// own, and its steps take effect.

const testbed = useSagaTestbed({ server: 'dev-server', bundle: bundleFor('fixtures/identity-workflows.ts') });

type Chain = WorkflowHandleWithFirstExecutionRunId<typeof reservationChain>;

async function startChain(orderIds: string[], options: { cronSchedule?: string } = {}): Promise<Chain> {
  return testbed.env.client.workflow.start<typeof reservationChain>('reservationChain', {
    workflowId: uniqueId('identity'),
    taskQueue: testbed.taskQueue,
    args: [{ orderIds }],
    ...options,
  });
}

/** The inventory barrier's keys of a workflow id, oldest first. */
async function reservationKeys(workflowId: string): Promise<string[]> {
  const rows = await testbed.services.db.all<{ idem_key: string }>("SELECT idem_key FROM barriers WHERE service = 'inventory' AND idem_key LIKE ? ORDER BY rowid", [`${workflowId}/%`]);
  return rows.map((r) => r.idem_key);
}

const reservations = (orderId: string) => testbed.services.inventory.reservations(orderId);

describe('a reset run', () => {
  it('keeps the saga id: the step it runs again finds the first run\'s reservation', async () => {
    const orderId = uniqueId('o-id-reset');
    const first = await startChain([orderId]);
    const done = await first.result();

    const rerun = await resetToTaskScheduling(testbed.env, first, 'reserveStock');
    expect(await rerun.result()).toEqual(done);
    expect(await reservations(orderId)).toHaveLength(1);
    expect(await reservationKeys(first.workflowId)).toEqual([`${first.workflowId}/${first.firstExecutionRunId}/reserveStock`]);
  });
});

describe('a continue-as-new chain of two sagas', () => {
  it('gives each saga its own id, and the second saga\'s step takes effect', async () => {
    const [firstOrder, secondOrder] = [uniqueId('o-id-chain'), uniqueId('o-id-chain')];
    const chain = await startChain([firstOrder, secondOrder]);
    const { reservationId } = await chain.result();
    const secondRunId = (await chain.describe()).runId;
    expect(secondRunId).not.toBe(chain.firstExecutionRunId);

    expect(await reservations(firstOrder)).toHaveLength(1);
    expect((await reservations(secondOrder)).map((r) => r.reservationId)).toEqual([reservationId]);
    expect(await reservationKeys(chain.workflowId)).toEqual([
      `${chain.workflowId}/${chain.firstExecutionRunId}/reserveStock`,
      `${chain.workflowId}/${secondRunId}/reserveStock`,
    ]);
  });

  it('keeps the second saga\'s id, not the first\'s, when the second run is reset', async () => {
    const [firstOrder, secondOrder] = [uniqueId('o-id-chain'), uniqueId('o-id-chain')];
    const chain = await startChain([firstOrder, secondOrder]);
    const done = await chain.result();
    const second = testbed.env.client.workflow.getHandle<typeof reservationChain>(chain.workflowId, (await chain.describe()).runId);

    const rerun = await resetToTaskScheduling(testbed.env, second, 'reserveStock');
    expect(await rerun.result()).toEqual(done);
    expect(await reservations(firstOrder)).toHaveLength(1);
    expect(await reservations(secondOrder)).toHaveLength(1);
    expect(await reservationKeys(chain.workflowId)).toHaveLength(2);
  });
});

describe('a cron workflow', () => {
  it('gives its second run a saga id of its own, so the second run\'s step takes effect', async () => {
    const orderId = uniqueId('o-id-cron');
    const cron = await startChain([orderId], { cronSchedule: '@every 2s' });
    const completedRuns = async () => {
      const runs: string[] = [];
      for await (const run of testbed.env.client.workflow.list({ query: `WorkflowId = '${cron.workflowId}' AND ExecutionStatus = 'Completed'` })) runs.push(run.runId);
      return runs;
    };
    try {
      await waitUntil(async () => (await completedRuns()).length >= 2, 30_000);
    } finally {
      await cron.terminate('test: two cron runs are enough');
    }
    const runs = await completedRuns();

    const keys = await reservationKeys(cron.workflowId);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys[0]).toBe(`${cron.workflowId}/${cron.firstExecutionRunId}/reserveStock`);
    for (const runId of runs) expect(keys).toContain(`${cron.workflowId}/${runId}/reserveStock`);
    expect((await reservations(orderId)).length).toBe(keys.length);
  });
});
