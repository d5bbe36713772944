import { describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { SagaStatus } from '@saga-temporal/saga';
import { runCli } from '../../src/cli';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import type { orderSaga } from '../../src/order/workflow';
import { audit } from '../../src/services';
import type { ReconcileSweepResult } from '../../src/reconciler/contract';
import { terminateSaga } from '../../src/reconciler/terminate';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { waitUntil } from '../fixtures/saga-harness';
import { resetToTaskScheduling } from '../support/resets';
import { applicationFailureOf, useSagaTestbed } from '../support/testbed';
import { sampleOrder, sampleRegistration, uniqueId } from '../support/samples';

// A reset carries a saga on in a new run of the same workflow id under the same idempotency keys, and
// ends the run it started from as terminated while its SagaStatus still says RUNNING. The reconciler
// must leave that run to the new one; once the new run closes unsettled too, the saga is reconciled
// once, from its latest run. On a dev server: visibility, resets and terminations are the server's own.

/** Calls of `capturePayment` held at their start, one hold per call, in the order they were asked for. */
const holds = new Map<string, Hold[]>();

class Hold {
  entered!: () => void;
  readonly reached = new Promise<void>((resolve) => (this.entered = resolve));
  release!: () => void;
  readonly released = new Promise<void>((resolve) => (this.release = resolve));
  settled!: (outcome: unknown) => void;
  /** How the held call ended once released: `{ ok }`, or the failure's type. */
  readonly outcome = new Promise<unknown>((resolve) => (this.settled = resolve));
}

/** Holds the next call of `capturePayment` for the order (and the one after, when asked twice). */
function holdCapture(orderId: string): Hold {
  const hold = new Hold();
  holds.set(orderId, [...(holds.get(orderId) ?? []), hold]);
  return hold;
}

const testbed = useSagaTestbed({
  server: 'dev-server',
  activities: (real) => ({
    ...real,
    async capturePayment(input: Parameters<typeof real.capturePayment>[0]) {
      const hold = holds.get(input.orderId)?.shift();
      if (!hold) return real.capturePayment(input);
      hold.entered();
      await hold.released;
      const call = real.capturePayment(input);
      call.then(
        () => hold.settled({ ok: true }),
        (err: unknown) => hold.settled({ ok: false, type: (err as { type?: string }).type }),
      );
      return call;
    },
  }),
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env = { NODE_ENV: 'test', TEMPORAL_ADDRESS: testbed.env.address, TEMPORAL_TASK_QUEUE: testbed.taskQueue };
  const code = await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env });
  return { code, out, err };
}

function sweep(workflowId: string, name: string): Promise<ReconcileSweepResult> {
  return testbed.env.client.workflow.execute('reconcileSweep', {
    taskQueue: testbed.taskQueue,
    workflowId: `sweep-${name}-${workflowId}`,
    args: [{ query: `WorkflowId = '${workflowId}'` }],
  });
}

/** Waits until visibility lists `n` runs of the saga as terminated with SagaStatus RUNNING (the sweep's own filter). */
async function visiblyTerminatedRuns(workflowId: string, n: number): Promise<void> {
  const query = `WorkflowId = '${workflowId}' AND ExecutionStatus = 'Terminated' AND ${SagaStatusKey.name} = '${SagaStatus.RUNNING}'`;
  await waitUntil(async () => (await testbed.env.client.workflow.count(query)).count === n, 30_000);
}

async function books(orderId: string) {
  const { services } = testbed;
  const ledger = await services.db.all<{ kind: string; n: number }>('SELECT kind, COUNT(*) AS n FROM payment_ledger WHERE order_id = ? GROUP BY kind', [orderId]);
  return {
    reservations: (await services.inventory.reservations(orderId)).map((r) => r.status),
    payment: (await services.payments.get(orderId))?.status,
    ledger: Object.fromEntries(ledger.map((r) => [r.kind, r.n])),
    shipment: (await services.shipping.get(orderId))?.status,
  };
}

/** An order held at its capture (after authorization), reset to the task that scheduled the capture. */
async function resetAfterAuthorization(): Promise<{ orderId: string; first: WorkflowHandle<typeof orderSaga>; firstRunId: string; rerun: WorkflowHandle<typeof orderSaga>; held: Hold }> {
  const input = sampleOrder();
  const held = holdCapture(input.orderId);
  const first = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
  await held.reached;
  const firstRunId = (await first.describe()).runId;
  const rerun = await resetToTaskScheduling(testbed.env, first, 'capturePayment');
  expect((await testbed.env.client.workflow.getHandle(first.workflowId, firstRunId).describe()).status.name).toBe('TERMINATED');
  return { orderId: input.orderId, first, firstRunId, rerun, held };
}

describe('an order reset mid-way, after authorization', () => {
  it('whose new run completes: the reconciler undoes nothing and says the old run is carried on by the new one', async () => {
    const { orderId, first, firstRunId, rerun, held } = await resetAfterAuthorization();
    const rerunId = (await rerun.describe()).runId;
    expect(await rerun.result()).toMatchObject({ confirmationSent: true });
    // The old run's capture, still in flight at the reset, lands late under the same key: no second capture.
    held.release();
    expect(await held.outcome).toEqual({ ok: true });
    const completed = { reservations: ['held'], payment: 'captured', ledger: { authorize: 1, capture: 1 }, shipment: 'created' };
    expect(await books(orderId)).toEqual(completed);
    await visiblyTerminatedRuns(first.workflowId, 1);

    // The operator's command first, as a dry run and for real: the same sweep the Schedule runs.
    const query = `WorkflowId = '${first.workflowId}'`;
    const dry = await cli('reconcile', '--dry-run', '--query', query);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`SUPERSEDED        ${first.workflowId}  orderSaga: nothing to undo; carried on by its later run ${rerunId} (a reset)`);
    const real = await cli('reconcile', '--json', '--query', query);
    expect(real.code).toBe(0);
    const swept = JSON.parse(real.out) as ReconcileSweepResult;
    expect(swept).toMatchObject({ found: 1, failed: [] });
    expect(swept.results).toEqual([
      expect.objectContaining({ workflowId: first.workflowId, runId: firstRunId, outcome: 'SUPERSEDED', supersededBy: rerunId, undone: [], kept: [], needsOperator: [], dryRun: false }),
    ]);
    expect(await books(orderId)).toEqual(completed);

    // The Schedule's next sweep: the old run's reconciliation completed, so it is left out.
    expect(await sweep(first.workflowId, 'next')).toMatchObject({ found: 0, skipped: 1, results: [] });
    expect(await books(orderId)).toEqual(completed);
    expect((await audit(testbed.services)).problems).toEqual([]);
  });

  it('whose new run is terminated in turn: the saga is undone once, from the new run, and the old run is not counted again', async () => {
    const input = sampleOrder();
    const heldFirst = holdCapture(input.orderId);
    const heldAgain = holdCapture(input.orderId);
    const first = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await heldFirst.reached;
    const firstRunId = (await first.describe()).runId;
    const rerun = await resetToTaskScheduling(testbed.env, first, 'capturePayment');
    await heldAgain.reached;
    const { runId: rerunId } = await terminateSaga(testbed.env.client, first.workflowId, { reason: 'stuck again after the reset' });
    expect(rerunId).toBe((await rerun.describe()).runId);
    await visiblyTerminatedRuns(first.workflowId, 2);

    const swept = await sweep(first.workflowId, 'once');

    expect(swept).toMatchObject({ found: 2, failed: [], alreadyReconciled: [] });
    const byRun = Object.fromEntries(swept.results.map((r) => [r.runId, r]));
    expect(byRun[firstRunId]).toMatchObject({ outcome: 'SUPERSEDED', supersededBy: rerunId, undone: [] });
    expect(byRun[rerunId]).toMatchObject({ outcome: 'UNDONE', undone: ['authorizePayment', 'reserveStock'], needsOperator: [] });
    expect(byRun[rerunId]).not.toHaveProperty('supersededBy');
    const undone = { reservations: ['released'], payment: 'voided', ledger: { authorize: 1, void: 1 }, shipment: undefined };
    expect(await books(input.orderId)).toEqual(undone);

    // Both captures, the old run's and the new run's, arrive late under the saga's one key: refused.
    heldFirst.release();
    heldAgain.release();
    expect(await heldFirst.outcome).toEqual({ ok: false, type: 'StepAlreadyCompensated' });
    expect(await heldAgain.outcome).toEqual({ ok: false, type: 'StepAlreadyCompensated' });
    expect(await sweep(first.workflowId, 'again')).toMatchObject({ found: 0, skipped: 2, results: [] });
    expect(await books(input.orderId)).toEqual(undone);
    expect((await audit(testbed.services)).problems).toEqual([]);
  });
});

describe('a saga reset twice from its first run', () => {
  it('leaves both runs the resets ended to the last one, which completes', async () => {
    const input = sampleOrder();
    const heldFirst = holdCapture(input.orderId);
    const heldSecond = holdCapture(input.orderId);
    const first = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await heldFirst.reached;
    const firstRun = testbed.env.client.workflow.getHandle<typeof orderSaga>(first.workflowId, (await first.describe()).runId);
    const second = await resetToTaskScheduling(testbed.env, firstRun, 'capturePayment');
    await heldSecond.reached;
    // From the first run again: the server ends the second run, which no reset was made from.
    const third = await resetToTaskScheduling(testbed.env, firstRun, 'capturePayment');
    const [secondRunId, thirdRunId] = [(await second.describe()).runId, (await third.describe()).runId];
    expect(await third.result()).toMatchObject({ confirmationSent: true });
    heldFirst.release();
    heldSecond.release();
    await visiblyTerminatedRuns(first.workflowId, 2);

    const swept = await sweep(first.workflowId, 'twice');

    expect(swept).toMatchObject({ found: 2, failed: [] });
    expect(swept.results.map((r) => r.outcome)).toEqual(['SUPERSEDED', 'SUPERSEDED']);
    expect(swept.results.find((r) => r.runId === secondRunId)?.supersededBy).toBe(thirdRunId);
    expect(await books(input.orderId)).toEqual({ reservations: ['held'], payment: 'captured', ledger: { authorize: 1, capture: 1 }, shipment: 'created' });
    expect((await audit(testbed.services)).problems).toEqual([]);
  });
});

describe('a new saga under the workflow id of a terminated one', () => {
  it('does not stand in for it: the terminated registration is still undone', async () => {
    const input = sampleRegistration();
    const old = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitUntil(async () => (await testbed.services.users.get(input.userId))?.status === 'pending', 30_000);
    const { runId: oldRunId } = await terminateSaga(testbed.env.client, old.workflowId, { reason: 'stuck in a test' });
    // Same address, so the same workflow id, and the latest run of it; a new start is a new saga with
    // its own saga id and keys. The terminated one still holds the address, so the new one fails.
    const again = await startRegistration(testbed.env.client, { ...input, userId: uniqueId('u') }, { taskQueue: testbed.taskQueue });
    expect(again.workflowId).toBe(old.workflowId);
    expect((await applicationFailureOf(again)).type).toBe('EmailTaken');
    expect((await testbed.env.client.workflow.getHandle(old.workflowId).describe()).runId).not.toBe(oldRunId);
    await visiblyTerminatedRuns(old.workflowId, 1);

    const swept = await sweep(old.workflowId, 'new-saga');

    expect(swept).toMatchObject({ found: 1, failed: [] });
    expect(swept.results).toEqual([expect.objectContaining({ runId: oldRunId, outcome: 'UNDONE', undone: ['createUser'] })]);
    expect(swept.results[0]).not.toHaveProperty('supersededBy');
    expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
  });
});
