import { describe, expect, it } from 'vitest';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { SagaStatus } from '@saga-temporal/saga';
import { reconcileWorkflowId, type ReconcileResult, type ReconcileSweepResult } from '../../src/reconciler/contract';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { bundleFor } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import type { handoverChain } from '../fixtures/reconciler-chain-workflows';
import { useSagaTestbed } from '../support/testbed';
import { uniqueId } from '../support/samples';

// A run that continued as new closed by its own code's choice and handed what it holds to its
// successor: the reconciler never undoes it, even while its SagaStatus still says RUNNING, neither in
// the sweep (its visibility query leaves continued-as-new runs out) nor when asked for that run by
// name. On a dev server, with the app's real activities and the reconciler's.

const testbed = useSagaTestbed({ server: 'dev-server', bundle: bundleFor('fixtures/reconciler-chain-workflows.ts') });

describe('a run that continued as new', () => {
  it('is never undone while its successor runs', async () => {
    const [first, second] = [uniqueId('o-chain'), uniqueId('o-chain')];
    const handle = await testbed.env.client.workflow.start<typeof handoverChain>('handoverChain', {
      taskQueue: testbed.taskQueue,
      workflowId: uniqueId('chain'),
      args: [{ orderIds: [first, second] }],
    });
    const reservations = async (orderId: string) => (await testbed.services.inventory.reservations(orderId)).map((r) => r.status);
    await waitUntil(async () => (await reservations(second)).length === 1, 30_000);
    const successor = await handle.describe();
    expect(successor.runId).not.toBe(handle.firstExecutionRunId);
    expect(successor.status.name).toBe('RUNNING');
    // Visibility shows the first run as continued-as-new with SagaStatus RUNNING: only the query's
    // ContinuedAsNew clause keeps it out of the sweep.
    const query = `WorkflowId = '${handle.workflowId}'`;
    await waitUntil(async () => (await testbed.env.client.workflow.count(`${query} AND ExecutionStatus = 'ContinuedAsNew' AND ${SagaStatusKey.name} = '${SagaStatus.RUNNING}'`)).count === 1, 30_000);

    const swept: ReconcileSweepResult = await testbed.env.client.workflow.execute('reconcileSweep', {
      taskQueue: testbed.taskQueue,
      workflowId: `sweep-${handle.workflowId}`,
      args: [{ query }],
    });
    const byName: ReconcileResult = await testbed.env.client.workflow.execute('reconcileSaga', {
      taskQueue: testbed.taskQueue,
      workflowId: reconcileWorkflowId(handle.workflowId, handle.firstExecutionRunId),
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      args: [{ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }],
    });

    expect(swept).toMatchObject({ found: 0, skipped: 0, results: [], failed: [] });
    expect(byName).toMatchObject({ runId: handle.firstExecutionRunId, outcome: 'NOT_NEEDED', undone: [], needsOperator: [] });
    expect(await reservations(first)).toEqual(['held']);
    expect(await reservations(second)).toEqual(['held']);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('end of test');
  });
});
