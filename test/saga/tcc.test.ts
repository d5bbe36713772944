import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { retryStepUpdate, sagaStateQuery, SagaStatus, type SagaFailureDetails } from '@saga-temporal/saga';
import { createServices, type Services } from '../../src/services';
import { bundleFor, createDevServerEnv, createTimeSkippingEnv, recordHistory, uniqueTaskQueue } from '../helpers';
import { mutationWorkerOptions } from '../support/mutation-bridge';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { tccSaga, type TccSagaInput } from '../fixtures/pattern-workflows';

// Try-confirm-cancel stages on the time-skipping server, every participant behind the real barrier on
// SQLite: all tries then all confirms; a failed try cancels every participant (a cancel whose try
// never landed is a no-op) and the saga unwinds; a failing confirm is held for an operator, never
// cancelled; a failing cancel is retried until it succeeds; a confirmed participant is undone by its
// compensation, never by its cancel.

let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;
let dataDir: string;
let recording: ReturnType<typeof createPatternActivities>;
const taskQueue = uniqueTaskQueue('saga-tcc');
// A try failing while another is in flight cancels that one as it completes: the time-skipping test
// server can hang the workflow task on that race, so those stages run on the dev server (real time; the
// retries there take seconds).
let devEnv: TestWorkflowEnvironment;
let devWorker: Worker;
let devRunning: Promise<void>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'saga-tcc-'));
  services = await createServices({ databaseUrl: `sqlite:${join(dataDir, 'tcc.db')}`, faults: {} });
  recording = createPatternActivities(services.db);
  env = await createTimeSkippingEnv();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleFor('fixtures/pattern-workflows.ts'),
    activities: recording.activities,
    ...mutationWorkerOptions(),
  });
  running = worker.run();
  devEnv = await createDevServerEnv();
  devWorker = await Worker.create({
    connection: devEnv.nativeConnection,
    taskQueue,
    workflowBundle: await bundleFor('fixtures/pattern-workflows.ts'),
    activities: recording.activities,
    ...mutationWorkerOptions(),
  });
  devRunning = devWorker.run();
});

afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await running;
  }
  if (devWorker) {
    devWorker.shutdown();
    await devRunning;
  }
  await devEnv?.teardown();
  await env?.teardown();
  await services?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);
const start = (input: TccSagaInput, name: string) => env.client.workflow.start(tccSaga, { taskQueue, workflowId: uniqueTaskQueue(name), args: [input] });
/** On the dev server: for stages where a try fails while another is in flight. */
const startRacing = (input: TccSagaInput, name: string) => devEnv.client.workflow.start(tccSaga, { taskQueue, workflowId: uniqueTaskQueue(name), args: [input] });

async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as ApplicationFailure;
}

describe('a try-confirm-cancel stage', () => {
  it('confirms every participant once all tries succeeded, and cancels none', async () => {
    const handle = await start({ participants: [{ name: 'seat' }, { name: 'credit' }] }, 'tcc-ok');
    expect(await handle.result()).toEqual(['seat-held', 'credit-held']);
    const log = logOf(handle);
    expect(log.filter((e) => e.startsWith('try:')).sort()).toEqual(['try:credit', 'try:seat']);
    expect(log.filter((e) => e.startsWith('confirm:')).sort()).toEqual(['confirm:credit', 'confirm:seat']);
    expect(log.filter((e) => e.startsWith('cancel'))).toEqual([]);
    // Every confirm starts after every try.
    expect(Math.max(...['try:seat', 'try:credit'].map((e) => log.indexOf(e)))).toBeLessThan(Math.min(...['confirm:seat', 'confirm:credit'].map((e) => log.indexOf(e))));
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.steps.find((s) => s.name === 'seat')).toMatchObject({ status: 'done', confirmation: { name: 'confirm-seat', status: 'done', attempt: 1 } });
    expect(state.steps.find((s) => s.name === 'seat')?.compensation).toBeUndefined();
    await recordHistory(handle, 'patterns/tcc', 'tcc-confirmed');
  });

  it('cancels every participant when a try fails, the one whose try never landed as a no-op, then unwinds the saga', async () => {
    const handle = await startRacing({ participants: [{ name: 'seat' }, { name: 'credit', script: { try: 'fail' } }] }, 'tcc-try-fails');
    const failure = await failureOf(handle);
    expect(failure.type).toBe('OutOfStock');
    expect((failure.details?.[0] as SagaFailureDetails).status).toBe(SagaStatus.COMPENSATED);
    const log = logOf(handle);
    expect(log.filter((e) => e.startsWith('confirm'))).toEqual([]);
    expect(log.filter((e) => e.startsWith('cancel')).sort()).toEqual(['cancel-empty:credit', 'cancel:seat']);
    // The stage is undone before the step that came before it.
    expect(log.indexOf('undo:before')).toBeGreaterThan(log.indexOf('cancel:seat'));
    const state = await handle.query(sagaStateQuery);
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.name])).toEqual([
      ['before', 'compensated', 'undo-before'],
      ['seat', 'compensated', 'cancel-seat'],
      ['credit', 'compensated', 'cancel-credit'],
    ]);
    await recordHistory(handle, 'patterns/tcc', 'tcc-try-failed');
  });

  it('retries a failing cancel until it succeeds', async () => {
    const handle = await startRacing({ participants: [{ name: 'seat', script: { cancel: 'flaky' } }, { name: 'credit', script: { try: 'fail' } }] }, 'tcc-cancel-flaky');
    await failureOf(handle);
    expect(logOf(handle).filter((e) => e.endsWith(':seat') && e.startsWith('cancel'))).toEqual(['cancel-failed:seat', 'cancel-failed:seat', 'cancel:seat']);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
  });

  it('holds a failing confirm for an operator instead of cancelling, even when the workflow is cancelled', async () => {
    const handle = await start({ participants: [{ name: 'seat' }, { name: 'credit', script: { confirm: 'fail-until-repaired' } }] }, 'tcc-confirm-held');
    await waitUntil(async () => (await handle.query(sagaStateQuery)).steps.find((s) => s.name === 'credit')?.confirmation?.status === 'failed');
    await handle.cancel();
    recording.repair(handle.workflowId, 'credit');
    const after = await handle.executeUpdate(retryStepUpdate);
    expect(after.steps.find((s) => s.name === 'credit')?.confirmation?.attempt).toBe(2);
    expect(await handle.result()).toEqual(['seat-held', 'credit-held']);
    const log = logOf(handle);
    expect(log.filter((e) => e.startsWith('cancel') || e.startsWith('undo:'))).toEqual([]);
    expect(log.filter((e) => e.startsWith('confirm:')).sort()).toEqual(['confirm:credit', 'confirm:seat']);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    await recordHistory(handle, 'patterns/tcc', 'tcc-confirm-held');
  });

  it('undoes a confirmed participant by its compensation, never by its cancel, when a later step fails', async () => {
    const handle = await start({ participants: [{ name: 'seat', compensable: true }, { name: 'credit' }], after: 'fail' }, 'tcc-later-failure');
    const failure = await failureOf(handle);
    expect(failure.message).toMatch(/^after failed: /);
    const log = logOf(handle);
    expect(log.filter((e) => e.startsWith('cancel'))).toEqual([]);
    expect(log.filter((e) => e.startsWith('undo:'))).toEqual(['undo:seat', 'undo:before']);
    const state = await handle.query(sagaStateQuery);
    expect(state.steps.find((s) => s.name === 'seat')).toMatchObject({ status: 'compensated', compensation: { name: 'undo-seat', status: 'done' }, confirmation: { status: 'done' } });
    expect(state.steps.find((s) => s.name === 'credit')).toMatchObject({ status: 'done', confirmation: { status: 'done' } });
    await recordHistory(handle, 'patterns/tcc', 'tcc-later-failure');
  });
});
