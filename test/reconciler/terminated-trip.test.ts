import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createReconcilerActivities } from '../../src/reconciler/activities';
import { reconcileWorkflowId, type ReconcileResult } from '../../src/reconciler/contract';
import { terminateSaga } from '../../src/reconciler/terminate';
import { createServices, type Services } from '../../src/services';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { bundleFor, createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { tripSaga } from '../fixtures/pattern-workflows';

// A parent saga terminated while its child sagas wait for its decision: nobody is left to decide, and
// a child would hold what it booked until its own deadline. The reconciler decides for the parent:
// compensate, since it never committed. On the dev server (visibility and real signals).

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('reconcile-trip');
let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  env = await createDevServerEnv();
  services = await createServices({ databaseUrl: 'sqlite::memory:' });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleFor('fixtures/reconciler-workflows.ts'),
    activities: { ...recording.activities, ...createReconcilerActivities({ client: env.client, ...services }) },
  });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
});

describe('a trip terminated with its children waiting for its decision', () => {
  it('tells both children to compensate, and each undoes what it booked', async () => {
    const tripId = uniqueTaskQueue('trip');
    // The children would wait an hour for the trip's decision; the trip waits for a signal that never comes.
    const trip = await env.client.workflow.start(tripSaga, {
      taskQueue,
      workflowId: tripId,
      args: [{ tripId, awaitRelease: true, decisionTimeouts: { flight: '1 hour', hotel: '1 hour' } }],
    });
    const child = (kind: string) => env.client.workflow.getHandle(`${tripId}/${kind}`);
    await waitUntil(async () => recording.logOf(`${tripId}/hotel`).includes('do:hotel:pay'), 20_000);
    await waitUntil(async () => (await trip.fetchHistory()).events?.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'sagaChildReady').length === 2, 20_000);
    const { runId } = await terminateSaga(env.client, tripId, { reason: 'stuck in a test' });
    expect((await child('flight').describe()).status.name).toBe('RUNNING');

    const result: ReconcileResult = await env.client.workflow.execute('reconcileSaga', { taskQueue, workflowId: reconcileWorkflowId(tripId, runId), args: [{ workflowId: tripId, runId }] });

    expect(result).toMatchObject({
      outcome: 'NOTHING_STOOD',
      needsOperator: [],
      children: [
        { workflowId: `${tripId}/flight`, action: 'told-to-compensate' },
        { workflowId: `${tripId}/hotel`, action: 'told-to-compensate' },
      ],
    });
    for (const kind of ['flight', 'hotel']) {
      await waitUntil(async () => (await child(kind).describe()).status.name !== 'RUNNING', 20_000);
      expect(recording.logOf(`${tripId}/${kind}`).filter((e) => e.startsWith('undo:'))).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
      expect((await child(kind).describe()).typedSearchAttributes.get(SagaStatusKey)).toBe('COMPENSATED');
    }
  }, 60_000);
});
