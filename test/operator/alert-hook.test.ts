import { describe, expect, it } from 'vitest';
import type { SagaState } from '@saga-temporal/saga';
import { uniqueTaskQueue } from '../helpers';
import { useFixtureWorker } from '../support/testbed';
import { uniqueId } from '../support/samples';

// The operator alert hook (src/operator/workflow.ts) as a function of the saga state it is given: the
// sagas call it only after a recorded failure, but its type lets the failure be absent.

const sent: { workflowId: string; subject: string; body: string }[] = [];
const taskQueue = uniqueTaskQueue('operator-alert');
const fixture = useFixtureWorker({
  workflows: 'fixtures/operator-alert-workflows.ts',
  taskQueue,
  activities: {
    sendOperatorAlert: async (input: { workflowId: string; subject: string; body: string }) => {
      sent.push(input);
      return { messageId: `m-${sent.length}` };
    },
  },
});

describe('the operator alert hook', () => {
  it('says "unknown failure" when the state it is given holds no failure', async () => {
    const workflowId = uniqueId('alert-hook');
    const state = { compensationFailures: [{ step: 'reserve', message: 'the store is closed' }] } as unknown as SagaState;
    await fixture.env.client.workflow.execute('alertFor', { taskQueue, workflowId, args: [state] });
    expect(sent.filter((m) => m.workflowId === workflowId).map((m) => m.body.split('\n').slice(0, 2))).toEqual([
      [`The test saga ${workflowId} failed (unknown failure) and could not undo every step:`, '- reserve: the store is closed'],
    ]);
  });
});
