import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../../src/activities';
import { SagaStatus } from '@saga-temporal/saga';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { bundleFor, uniqueTaskQueue } from '../helpers';
import { useSagaTestbed } from '../support/testbed';

// A bug in a saga's body (here a step name used twice, which the saga refuses with SagaUsageError) is
// not a business failure: with the real classifier of `Saga.run`, it must fail the workflow task, which
// the server retries, and undo nothing; the saga stays RUNNING until fixed code is deployed, which then
// finishes it. Compensating would undo a customer's order because of a programming mistake.

const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;

const testbed = useSagaTestbed({ server: 'dev-server' });

async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, limitMs = 30_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a non-Temporal error in a saga body', () => {
  it('fails the workflow task and retries it, compensates nothing, stays RUNNING, and finishes once fixed code is deployed', async () => {
    const taskQueue = uniqueTaskQueue('misused-step');
    const orderId = `o-bug-${Date.now().toString(36)}`;
    const activities = createActivities(testbed.services);
    const buggy = await Worker.create({
      connection: testbed.env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleFor('fixtures/misused-step-workflows.ts'),
      activities,
    });
    const buggyRun = buggy.run();
    const handle = await testbed.env.client.workflow.start('misusedStepSaga', { taskQueue, workflowId: `misused-${orderId}`, args: [{ orderId }] });
    try {
      // The task is failed, with the saga's usage error, and retried: its attempt count climbs.
      const failed = await poll(
        async () => (await handle.fetchHistory()).events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
        (event) => event !== undefined,
        'a failed workflow task',
      );
      expect(failed!.workflowTaskFailedEventAttributes?.cause).toBe(WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE);
      expect(failed!.workflowTaskFailedEventAttributes?.failure?.message).toMatch(/Step name "reserveStock" is used twice/);
      await poll(
        async () => (await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0,
        (attempt) => attempt >= 2,
        'a retried workflow task',
      );

      const description = await handle.describe();
      expect(description.status.name).toBe('RUNNING');
      expect(description.typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.RUNNING);
      const history = await handle.fetchHistory();
      const scheduled = history.events?.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [])) ?? [];
      expect(scheduled).toEqual(['reserveStock']);
      expect((await testbed.services.inventory.reservations(orderId)).map((r) => r.status)).toEqual(['held']);
    } finally {
      buggy.shutdown();
      await buggyRun;
    }

    const fixed = await Worker.create({
      connection: testbed.env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleFor('fixtures/misused-step-fixed-workflows.ts'),
      activities,
    });
    const result = await fixed.runUntil(handle.result());
    expect(result).toBe('reserved once');
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPLETED);
    const finalHistory = await handle.fetchHistory();
    expect(finalHistory.events?.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).toEqual([
      'reserveStock',
    ]);
    expect((await testbed.services.inventory.reservations(orderId)).map((r) => r.status)).toEqual(['held']);
  });
});
