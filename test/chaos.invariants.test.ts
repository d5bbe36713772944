import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { SagaStatus } from '@saga-temporal/saga';
import { createServices, type FaultConfig, type Services } from '../src/services';
import { checkInvariants, formatReport } from '../scripts/lib/chaos/invariants';
import { collectOutcomes, countInjectedFaults, planWorkload, seedFromEnv, startWorkload, waitForAll, type FaultCounts, type SagaOutcome } from '../scripts/lib/chaos/workload';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from './helpers';

// Hundreds of sagas at once on a real dev server, every service failing now and then, slow, or
// losing its replies after committing. Afterwards every saga must have ended where its customer's
// actions lead, and the books must balance. SEED=<n> plans the same workload and the same fault draws
// (the interleaving of concurrent calls still differs from run to run).

const seed = seedFromEnv();
const ORDERS = 200;
const REGISTRATIONS = 50;

const everyService = { transientErrorRate: 0.08, lostReplyRate: 0.04, latencyMs: [0, 40] as const };
const faults: FaultConfig = { seed, inventory: everyService, payments: everyService, shipping: everyService, users: everyService, mail: everyService };

let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;
let dataDir: string;
let injected: FaultCounts;
let outcomes: SagaOutcome[] = [];
const taskQueue = uniqueTaskQueue('chaos');

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'chaos-'));
  env = await createDevServerEnv();
  services = await createServices({ databaseUrl: `sqlite:${join(dataDir, 'services.db')}`, faults });
  injected = countInjectedFaults(services.faults);
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(services),
    maxConcurrentActivityTaskExecutions: 200,
  });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('sagas under injected faults', () => {
  it(`end COMPLETED, COMPENSATED or CANCELLED as their customers acted, with stock, money, shipments, accounts and idempotency keys all adding up (${ORDERS} orders, ${REGISTRATIONS} registrations)`, async () => {
    const workload = planWorkload({ orders: ORDERS, registrations: REGISTRATIONS, seed });
    const started = await startWorkload(env.client, services, workload, { taskQueue });
    await started.driven;
    const stuck = await waitForAll(started.sagas, 150_000);
    expect(stuck, 'sagas still open after the run').toEqual([]);

    outcomes = await collectOutcomes(started.sagas);
    const report = await checkInvariants(services, outcomes);
    console.log(formatReport(report, seed, { ...injected }));

    expect(report.violations).toEqual([]);
    expect(report.checked).toMatchObject({ sagas: ORDERS + REGISTRATIONS, orders: ORDERS, registrations: REGISTRATIONS });
    // The run proves something only if every path was taken and the faults really fired.
    for (const status of [SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED]) expect(report.statuses[status] ?? 0).toBeGreaterThan(0);
    expect(injected.transient).toBeGreaterThan(0);
    expect(injected.lostReplies).toBeGreaterThan(0);
  }, 240_000);

  // Runs last: it breaks the books the run left behind, to show the check above can fail.
  it('are judged by a check that notices a lost refund, a second capture and a leftover account', async () => {
    const compensated = outcomes.find((o) => o.plan.kind === 'order' && o.plan.fixture === 'undeliverable' && o.state?.status === SagaStatus.COMPENSATED);
    const completed = outcomes.find((o) => o.plan.kind === 'order' && o.state?.status === SagaStatus.COMPLETED);
    const failedRegistration = outcomes.find((o) => o.plan.kind === 'registration' && o.state?.status === SagaStatus.COMPENSATED);
    if (!compensated || !completed || !failedRegistration) throw new Error('the run left no sagas to tamper with');
    const orderId = (o: SagaOutcome) => (o.plan.kind === 'order' ? o.plan.input.orderId : '');

    await services.db.run("DELETE FROM payment_ledger WHERE order_id = ? AND kind = 'refund'", [orderId(compensated)]);
    await services.db.run(
      "INSERT INTO payment_ledger (entry_id, payment_id, entry_no, order_id, kind, amount_cents, idem_key, created_at) SELECT entry_id || '-again', payment_id, entry_no + 100, order_id, kind, amount_cents, idem_key, created_at FROM payment_ledger WHERE order_id = ? AND kind = 'capture'",
      [orderId(completed)],
    );
    await services.db.run("UPDATE users SET status = 'pending' WHERE user_id = ?", [failedRegistration.plan.kind === 'registration' ? failedRegistration.plan.input.userId : '']);

    const { violations } = await checkInvariants(services, outcomes);
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`${compensated.workflowId} (order undeliverable): failed, but kept`),
        expect.stringMatching(/^audit: payment_ledger: key .* \(capture\) produced 2 effects$/),
        expect.stringContaining(`${failedRegistration.workflowId} (registration ${failedRegistration.plan.fixture}): failed, but an account remains (pending)`),
        expect.stringMatching(/^ledger: captured − refunded = /),
        '1 accounts left pending',
      ]),
    );
  });
});
