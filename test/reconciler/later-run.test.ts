import { describe, expect, it } from 'vitest';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { laterRunOfSaga } from '../../src/reconciler/later-run';

// Which later run carries a closed saga run on, decided from two answers of the server: the run's own
// reset record and the workflow id's latest run. A stub client stands in for the server here; the
// dev-server tests (reset-sagas, continued-as-new) run the same rule against real resets.

interface Server {
  /** The latest run of the workflow id. */
  latest: string;
  /** By run id: the run id on its WorkflowExecutionStarted event (`originalExecutionRunId`). */
  original: Record<string, string>;
}

function stubClient(server: Server): Client & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    options: { namespace: 'default' },
    workflow: {
      getHandle: (workflowId: string, runId?: string) => ({
        describe: async () => {
          calls.push(`describe ${workflowId} ${runId ?? 'latest'}`);
          return { workflowId, runId: runId ?? server.latest };
        },
      }),
    },
    workflowService: {
      getWorkflowExecutionHistory: async ({ execution }: { execution: { runId: string } }) => {
        calls.push(`history ${execution.runId}`);
        return { history: { events: [{ workflowExecutionStartedEventAttributes: { originalExecutionRunId: server.original[execution.runId] ?? '' } }] } };
      },
    },
  } as unknown as Client & { calls: string[] };
}

function run(runId: string, resetRunId = ''): WorkflowExecutionDescription {
  return { workflowId: 'order-o-1', runId, raw: { workflowExtendedInfo: { resetRunId } } } as unknown as WorkflowExecutionDescription;
}

describe('the later run of a closed saga run', () => {
  it('is the reset recorded on the run, without asking further, whatever ran under the workflow id since', async () => {
    const client = stubClient({ latest: 'r-new-saga', original: { 'r-new-saga': 'r-new-saga' } });
    expect(await laterRunOfSaga(client, run('r1', 'r2'), 'r1')).toBe('r2');
    expect(client.calls).toEqual([]);
  });

  it('is the latest run of the workflow id when that run has the same saga id (a reset the run has no record of)', async () => {
    const client = stubClient({ latest: 'r3', original: { r3: 'r1' } });
    expect(await laterRunOfSaga(client, run('r2'), 'r1')).toBe('r3');
    expect(client.calls).toEqual(['describe order-o-1 latest', 'history r3']);
  });

  it('is none when the latest run is a new saga under the same workflow id (its own saga id)', async () => {
    expect(await laterRunOfSaga(stubClient({ latest: 'r9', original: { r9: 'r9' } }), run('r1'), 'r1')).toBeUndefined();
  });

  it('is none when the run is the latest, or names itself as its reset', async () => {
    const client = stubClient({ latest: 'r1', original: { r1: 'r1' } });
    expect(await laterRunOfSaga(client, run('r1', 'r1'), 'r1')).toBeUndefined();
    expect(client.calls).toEqual(['describe order-o-1 latest']);
  });

  it('is none when the latest run comes from a server that records no original run id: its saga id is its own run id', async () => {
    expect(await laterRunOfSaga(stubClient({ latest: 'r2', original: {} }), run('r1'), 'r1')).toBeUndefined();
  });
});
