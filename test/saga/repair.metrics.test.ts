import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { markCompensatedUpdate, retryCompensationStepsUpdate, sagaStateQuery, skipCompensationUpdate } from '@saga-temporal/saga';
import { telemetryOptions } from '../../src/telemetry';
import { uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';
import { useFixtureWorker } from '../support/testbed';

// How the operator's repair shows in `saga_operator_resolutions`: one count per saga taken out of
// COMPENSATION_FAILED, labelled by the update that did it, so waits minus resolutions stays the number
// of sagas waiting. Scraped from the worker runtime's Prometheus endpoint.

let address: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// Registered before the worker's set-up: the runtime's telemetry is fixed once a connection uses it.
beforeAll(async () => {
  address = `127.0.0.1:${await freePort()}`;
  await Runtime.instance().shutdown();
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} }, ...telemetryOptions(address) },
  });
});

const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga-repair-metrics');
const testbed = useFixtureWorker({ server: 'time-skipping', workflows: 'fixtures/saga-workflows.ts', taskQueue, activities: recording.activities });

async function stuck(broken: ('a' | 'b')[]): Promise<WorkflowHandle<typeof scriptedSaga>> {
  const undo = (step: 'a' | 'b') => (broken.includes(step) ? 'broken-until-repaired' : 'ok');
  const input: ScriptedSagaInput = {
    stages: [{ name: 'a', undo: undo('a') }, { name: 'b', undo: undo('b') }, { name: 'c', mode: 'fail' }],
    options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } },
  };
  const handle = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: uniqueTaskQueue('repair-metrics'), args: [input] });
  await waitUntil(async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_FAILED', 20_000);
  return handle;
}

/** Sum of the scraped samples of `name` (the scripted saga's) whose labels include `match`. */
async function scrape(name: string, match: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries({ workflowType: 'scriptedSaga', ...match }).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('saga_operator_resolutions', () => {
  it('counts a partial retry as retry, the skip that resolves the last failure as skip, and markCompensated as mark_compensated', async () => {
    // A partial retry leaves a failure (it re-enters COMPENSATION_FAILED), then a skip ends it.
    const retried = await stuck(['a', 'b']);
    recording.repair(retried.workflowId, 'b');
    expect((await retried.executeUpdate(retryCompensationStepsUpdate, { args: [{ steps: ['b'] }] })).status).toBe('COMPENSATION_FAILED');
    expect((await retried.executeUpdate(skipCompensationUpdate, { args: [{ step: 'a', reason: 'refunded by hand' }] })).status).toBe('COMPENSATED');
    // Two skips: only the second takes the saga out.
    const skipped = await stuck(['a', 'b']);
    expect((await skipped.executeUpdate(skipCompensationUpdate, { args: [{ step: 'b', reason: 'released by hand' }] })).status).toBe('COMPENSATION_FAILED');
    expect((await skipped.executeUpdate(skipCompensationUpdate, { args: [{ step: 'a', reason: 'refunded by hand' }] })).status).toBe('COMPENSATED');
    const marked = await stuck(['a']);
    expect((await marked.executeUpdate(markCompensatedUpdate, { args: [{ reason: 'repaired by hand' }] })).status).toBe('COMPENSATED');

    // Metrics are exported on an interval.
    await waitUntil(async () => (await scrape('saga_operator_resolutions')) === 4 && (await scrape('saga_operator_waits')) === 4, 20_000);
    expect(await scrape('saga_operator_resolutions', { action: 'retry' })).toBe(1);
    expect(await scrape('saga_operator_resolutions', { action: 'skip' })).toBe(2);
    expect(await scrape('saga_operator_resolutions', { action: 'mark_compensated' })).toBe(1);
    expect(await scrape('saga_outcomes', { status: 'COMPENSATED' })).toBe(3);
  });
});
