import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { SagaStatusKey, sagaStatusKey } from '@saga-temporal/saga';
import { SagaClient, SagaClientUsageError, sagaListQuery, SagaNotFoundError, SagaUpdateRejectedError } from '@saga-temporal/saga/client';
import { temporalCli } from '../../tools/temporal-binaries';
import { bundleFor, uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';

// The operator helper of the engine package against a real dev server (visibility queries need one),
// with sagas that use their own handler names and search attribute, as a project with its own naming
// would run them.

const names = { state: 'shopSagaState', retryCompensation: 'shopRetryCompensation', markCompensated: 'shopMarkCompensated' };
const searchAttribute = 'ShopSagaStatus';

let env: TestWorkflowEnvironment;
let worker: Worker | undefined;
let running: Promise<void>;
let sagas: SagaClient;
const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga-client');

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({
    server: { executable: temporalCli(), searchAttributes: [SagaStatusKey, sagaStatusKey(searchAttribute)], extraArgs: ['--log-level', 'error'] },
  });
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleFor('fixtures/saga-workflows.ts'), activities: recording.activities });
  running = worker.run();
  sagas = new SagaClient(env.client, { names, searchAttribute, queryTimeoutMs: 1500 });
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await env?.teardown();
});

/** A saga whose compensation of `b` fails until repaired, waiting for an operator once it has given up. */
async function startStuck(workflowId: string) {
  const input: ScriptedSagaInput = {
    stages: [{ name: 'a' }, { name: 'b', undo: 'broken-until-repaired' }, { name: 'c', mode: 'fail' }],
    options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' }, names, searchAttribute },
  };
  await env.client.workflow.start(scriptedSaga, { taskQueue, workflowId, args: [input] });
  await waitUntil(async () => (await sagas.state(workflowId)).status === 'COMPENSATION_FAILED', 20_000);
}

describe('SagaClient on sagas with their own names', () => {
  const retried = uniqueTaskQueue('client-retried');
  const marked = uniqueTaskQueue('client-marked');

  it('reads the full state through the renamed query', async () => {
    await startStuck(retried);
    const reading = await sagas.state(retried);
    expect(reading).toMatchObject({ source: 'query', workflowId: retried, status: 'COMPENSATION_FAILED' });
    expect(reading.source === 'query' && reading.state.compensationFailures.map((f) => f.step)).toEqual(['b']);
  });

  it('retries the compensations through the renamed update and answers with the state after the round', async () => {
    recording.repair(retried, 'b');
    const state = await sagas.retryCompensation(retried);
    expect(state?.status).toBe('COMPENSATED');
    expect(recording.logOf(retried)).toContain('undo:b');
  });

  it('refuses a retry of a saga that has closed with SagaUpdateRejectedError, not SagaNotFoundError', async () => {
    const error = await sagas.retryCompensation(retried).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SagaUpdateRejectedError);
    expect(error).toMatchObject({ workflowId: retried, update: names.retryCompensation });
    expect((error as Error).message).toMatch(/has closed \(FAILED\)/);
  });

  it('refuses a retry of a running saga that is not waiting for an operator with SagaUpdateRejectedError', async () => {
    const workflowId = uniqueTaskQueue('client-running');
    const handle = await env.client.workflow.start(scriptedSaga, { taskQueue, workflowId, args: [{ stages: [{ name: 'a', mode: 'block' }], options: { names, searchAttribute } }] });
    try {
      await waitUntil(() => recording.logOf(workflowId).includes('do:a'));
      const error = await sagas.retryCompensation(workflowId).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(SagaUpdateRejectedError);
      expect((error as Error).message).toMatch(/not waiting for an operator \(status RUNNING\)/);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('marks a stuck saga compensated with the reason as operator note, and refuses an empty reason before calling the server', async () => {
    await startStuck(marked);
    await expect(sagas.markCompensated(marked, '   ')).rejects.toBeInstanceOf(SagaClientUsageError);
    const state = await sagas.markCompensated(marked, 'refunded by hand, ticket 42');
    expect(state).toMatchObject({ status: 'COMPENSATED', operatorNote: 'refunded by hand, ticket 42' });
  });

  it('lists sagas by status from the renamed search attribute', async () => {
    const listed = async () => {
      const found: { workflowId: string; status?: string }[] = [];
      for await (const s of sagas.list({ status: 'COMPENSATED', workflowTypes: ['scriptedSaga'] })) found.push({ workflowId: s.workflowId, status: s.status });
      return found;
    };
    await waitUntil(async () => (await listed()).length === 2, 15_000);
    expect((await listed()).sort((x, y) => x.workflowId.localeCompare(y.workflowId))).toEqual(
      [retried, marked].sort().map((workflowId) => ({ workflowId, status: 'COMPENSATED' })),
    );
  });

  it('throws SagaNotFoundError for a workflow id nobody started', async () => {
    await expect(sagas.state('no-such-saga')).rejects.toBeInstanceOf(SagaNotFoundError);
    await expect(sagas.markCompensated('no-such-saga', 'repaired')).rejects.toBeInstanceOf(SagaNotFoundError);
  });

  it('writes no search attribute for a saga started with searchAttribute: false', async () => {
    const workflowId = uniqueTaskQueue('client-no-attribute');
    await env.client.workflow.execute(scriptedSaga, { taskQueue, workflowId, args: [{ stages: [{ name: 'a' }], options: { searchAttribute: false } }] });
    const described = await env.client.workflow.getHandle(workflowId).describe();
    expect(described.typedSearchAttributes.get(SagaStatusKey)).toBeUndefined();
    expect(described.typedSearchAttributes.get(sagaStatusKey(searchAttribute))).toBeUndefined();
    expect(await new SagaClient(env.client).state(workflowId)).toMatchObject({ source: 'query', status: 'COMPLETED' });
  });

  it('falls back to the search attribute when no worker answers the query', async () => {
    worker!.shutdown();
    await running;
    expect(await sagas.state(retried)).toEqual({ source: 'search-attribute', workflowId: retried, status: 'COMPENSATED', workflowStatus: 'FAILED' });
  });
});

describe('sagaListQuery', () => {
  it('builds the visibility query from workflow types and a status', () => {
    expect(sagaListQuery({ status: 'COMPENSATION_FAILED', workflowTypes: ['orderSaga', 'registrationSaga'] })).toBe(
      "(WorkflowType = 'orderSaga' OR WorkflowType = 'registrationSaga') AND SagaStatus = 'COMPENSATION_FAILED'",
    );
    expect(sagaListQuery({ status: 'COMPLETED', searchAttribute })).toBe("ShopSagaStatus = 'COMPLETED'");
    expect(sagaListQuery()).toBe('');
  });

  it('rejects an unknown status, a quote in a type, an empty type list and a bad attribute name with SagaClientUsageError', () => {
    expect(() => sagaListQuery({ status: 'DONE' as never })).toThrow(SagaClientUsageError);
    expect(() => sagaListQuery({ workflowTypes: ["x' OR 1=1 OR WorkflowType = 'y"] })).toThrow(SagaClientUsageError);
    expect(() => sagaListQuery({ workflowTypes: [] })).toThrow(SagaClientUsageError);
    expect(() => sagaListQuery({ searchAttribute: 'Saga Status' })).toThrow(SagaClientUsageError);
  });
});
