import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { barrierDecisionsTable, barrierSchema } from '@saga-temporal/barrier';
import { sqliteBarrierDatabase } from '@saga-temporal/barrier/sqlite';
import { sagaStateQuery, SagaStatus, type SagaFailureDetails } from '@saga-temporal/saga';
import type { Db } from '../../src/services/db';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { applicationFailureOf, useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { ledgerSaga, type LedgerSagaInput } from '../fixtures/pattern-workflows';
import { SagaStatusKey } from '../../src/shared/search-attributes';

// The seams the engine's ledger of outstanding work closes, on the time-skipping server with the real
// barrier on SQLite: a stage the body never awaited, a confirm in flight when the saga unwinds, and
// the pivot met by a cancellation or a failure that are not steps.

let barrier: ReturnType<typeof sqliteBarrierDatabase> | undefined;
beforeAll(() => {
  const db = new Database(':memory:');
  for (const ddl of [...barrierSchema, barrierDecisionsTable]) db.exec(ddl);
  barrier = sqliteBarrierDatabase(db);
});
// The activities are built before the database exists; they reach it through this when they run.
const lazyDb = { transaction: (fn: never) => barrier!.transaction(fn) } as unknown as Db;
const recording = createPatternActivities(lazyDb);
const taskQueue = uniqueTaskQueue('saga-ledger');
const fixture = useFixtureWorker({ workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });

const start = (mode: LedgerSagaInput['mode']) => fixture.env.client.workflow.start(ledgerSaga, { taskQueue, workflowId: uniqueTaskQueue(`ledger-${mode}`), args: [{ mode }] });
const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);
const searchAttribute = async (handle: WorkflowHandle) => (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);

describe('a try-confirm-cancel stage the body does not await', () => {
  it('is confirmed before the saga completes: no try is left held without a decision', async () => {
    const handle = await start('unawaited-tcc');
    expect(await handle.result()).toBe('returned without awaiting the stage');
    expect(logOf(handle).filter((e) => e.startsWith('confirm:')).sort()).toEqual(['confirm:meal', 'confirm:seat']);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.steps.filter((s) => s.confirmation).map((s) => [s.name, s.confirmation?.status])).toEqual([
      ['seat', 'done'],
      ['meal', 'done'],
    ]);
    expect(state.outstanding).toBeUndefined();
    await recordHistory(handle, 'patterns/ledger', 'unawaited-tcc');
  });
});

describe('a step the body never awaits', () => {
  it('unwinds the saga when it failed, even once it has settled before the body returned', async () => {
    const handle = await start('unawaited-failure');
    const failure = await applicationFailureOf(handle);
    expect(failure.message).toBe('doomed failed: doomed was declined');
    expect((failure.details?.[0] as SagaFailureDetails).status).toBe(SagaStatus.COMPENSATED);
    expect(logOf(handle)).toEqual(['do:before', 'do:doomed', 'do:after', 'undo:after', 'undo:doomed', 'undo:before']);
    expect(await searchAttribute(handle)).toBe(SagaStatus.COMPENSATED);
    await recordHistory(handle, 'patterns/ledger', 'unawaited-failure');
  });
});

describe('a confirm in flight when another step fails', () => {
  it('is waited for, then undone by the participant compensation, never cancelled: the saga ends COMPENSATED', async () => {
    const handle = await start('confirm-in-flight');
    const failure = await applicationFailureOf(handle);
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details.status).toBe(SagaStatus.COMPENSATED);
    expect(details.compensationFailures).toEqual([]);
    const log = logOf(handle);
    expect(log).toContain('confirm:seat');
    expect(log).toContain('undo:seat');
    expect(log.filter((e) => e.startsWith('cancel'))).toEqual([]);
    expect(log.indexOf('confirm:seat')).toBeLessThan(log.indexOf('undo:seat'));
    expect(await searchAttribute(handle)).toBe(SagaStatus.COMPENSATED);
    await recordHistory(handle, 'patterns/ledger', 'confirm-in-flight');
  });
});

describe('after the pivot', () => {
  it('a cancellation during a timer does not reach the body: the saga finishes forward, COMPLETED, and says it ignored the cancellation', async () => {
    const handle = await start('wait-after-pivot');
    await waitUntil(async () => (await handle.query(sagaStateQuery)).pivot !== undefined);
    await handle.cancel();
    expect(await handle.result()).toBe('finished forward');
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.cancellationIgnored?.reason).toBe('the saga had passed its pivot "ship": it finishes forward');
    expect(logOf(handle)).toEqual(['do:before', 'do:ship', 'do:mail']);
    expect(await searchAttribute(handle)).toBe(SagaStatus.COMPLETED);
    await recordHistory(handle, 'patterns/ledger', 'cancelled-after-pivot');
  });

  it('a failure of the body undoes nothing and ends FORWARD_FAILED, as the query, SagaStatus and the failure all say', async () => {
    const handle = await start('fail-after-pivot');
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe('FailedAfterPivot');
    expect(failure.message).toBe('The saga failed after its pivot "ship"; nothing was undone: the body failed after the pivot');
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details).toMatchObject({ status: SagaStatus.FORWARD_FAILED, compensated: [], compensationFailures: [] });
    expect(logOf(handle).filter((e) => e.startsWith('undo:'))).toEqual([]);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.FORWARD_FAILED);
    expect(await searchAttribute(handle)).toBe(SagaStatus.FORWARD_FAILED);
    await recordHistory(handle, 'patterns/ledger', 'failed-after-pivot');
  });
});
