import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { SagaStatus } from '@saga-temporal/saga';
import { createServices, type FaultConfig, type Services } from '../../src/services';
import { checkInvariants, formatReport } from '../../scripts/lib/chaos/invariants';
import { collectOutcomes, countInjectedFaults, planWorkload, seedFromEnv, startWorkload, waitForAll, type FaultCounts, type SagaOutcome } from '../../scripts/lib/chaos/workload';
import { createTripActivities } from '../../scripts/lib/chaos/trip-activities';
import { checkTripInvariants, formatTripReport } from '../../scripts/lib/chaos/trip-invariants';
import { TripBookings, withTripFaults, type Hold } from '../../scripts/lib/chaos/trip-service';
import { collectTripOutcomes, planTrips, startTrips, type TripOutcome } from '../../scripts/lib/chaos/trips';
import { bundleFor, createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';

// Hundreds of sagas at once on a real dev server, every service failing now and then, slow, or
// losing its replies after committing. Afterwards every saga must have ended where its customer's
// actions lead, and the books must balance. SEED=<n> plans the same workload and the same fault draws
// (the interleaving of concurrent calls still differs from run to run).

const seed = seedFromEnv();
const ORDERS = 200;
const REGISTRATIONS = 50;
const TRIPS = 40;

const everyService = { transientErrorRate: 0.08, lostReplyRate: 0.04, latencyMs: [0, 40] as const };
const faults: FaultConfig = { seed, inventory: everyService, payments: everyService, shipping: everyService, users: everyService, mail: everyService };

let env: TestWorkflowEnvironment;
let services: Services;
let worker: Worker;
let running: Promise<void>;
let tripWorker: Worker;
let tripsRunning: Promise<void>;
let bookings: TripBookings;
let tripOutcomes: TripOutcome[] = [];
const tripTaskQueue = uniqueTaskQueue('chaos-trips');
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
  // The trips are a workflow bundle of their own (a parent saga and its child sagas) on the same
  // database and the same fault injector, polled by a second worker.
  bookings = await TripBookings.open(services.db);
  tripWorker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: tripTaskQueue,
    workflowBundle: await bundleFor('../scripts/lib/chaos/trip-workflows.ts'),
    activities: createTripActivities(withTripFaults(bookings, services.faults)),
    maxConcurrentActivityTaskExecutions: 100,
  });
  tripsRunning = tripWorker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  if (tripWorker?.getState() === 'RUNNING') tripWorker.shutdown();
  await running;
  await tripsRunning;
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

describe('trips (a parent saga with two child sagas, each with a try-confirm-cancel stage) under injected faults and cancellations', () => {
  it(`end as planned, commit both children or neither, and leave no hold pending, no capacity lost and no key with two effects (${TRIPS} trips)`, async () => {
    const before = { ...injected };
    const plans = planTrips({ trips: TRIPS, seed, cancelRate: 0.2, maxCancelDelayMs: 1_500 });
    const started = await startTrips(env.client, plans, { taskQueue: tripTaskQueue });
    await started.driven;
    const stuck = await waitForAll(started.trips, 150_000);
    expect(stuck, 'trips still open after the run').toEqual([]);

    tripOutcomes = await collectTripOutcomes(env.client, started.trips);
    const report = await checkTripInvariants(services.db, tripOutcomes);
    const faultsHere = { transient: injected.transient - before.transient, lostReplies: injected.lostReplies - before.lostReplies };
    console.log(formatTripReport(report, seed, faultsHere));

    expect(report.violations).toEqual([]);
    expect(report.checked).toMatchObject({ trips: TRIPS });
    // Vacuous unless trips both completed and unwound, children were started and holds were made and decided.
    expect(report.statuses[SagaStatus.COMPLETED] ?? 0).toBeGreaterThan(0);
    expect(report.statuses[SagaStatus.COMPENSATED] ?? 0).toBeGreaterThan(0);
    expect(report.checked.children).toBeGreaterThan(TRIPS);
    expect(report.checked.decisions).toBeGreaterThan(TRIPS);
    expect(faultsHere.transient).toBeGreaterThan(0);
  }, 240_000);

  // Runs last: it breaks the trips' books, to show the check above can fail.
  it('are judged by a check that notices a cancelled hold confirmed, a hold left pending, a second effect of one key, a child committed alone and a confirm without its partner\'s try', async () => {
    const [completed, another] = tripOutcomes.filter((o) => o.state?.status === SagaStatus.COMPLETED);
    let cancelled: { trip: TripOutcome; hold: Hold } | undefined;
    for (const trip of tripOutcomes.filter((o) => o.state?.status !== SagaStatus.COMPLETED)) {
      const hold = (await bookings.holdsOf(trip.plan.input.tripId)).find((h) => h.status === 'released');
      if (hold) cancelled ??= { trip, hold };
    }
    const firm = completed && (await bookings.holdsOf(completed.plan.input.tripId)).find((h) => h.kind === 'capacity' && h.leg === 'hotel');
    if (!completed || !another || !cancelled || !firm) throw new Error('the run left no holds to tamper with');
    const { trip, hold } = cancelled;

    // A cancelled hold confirmed after all.
    await services.db.run("UPDATE trip_holds SET status = 'confirmed', confirmed_at = released_at WHERE hold_id = ?", [hold.holdId]);
    // The completed trip's hotel rooms back to merely held: a hold left pending, a trip with one firm leg.
    await services.db.run("UPDATE trip_holds SET status = 'held' WHERE hold_id = ?", [firm.holdId]);
    // A second effect of the completed trip's hotel key.
    await services.db.run(
      "INSERT INTO trip_holds (hold_id, idem_key, trip_id, leg, kind, resource, units, amount_cents, status, created_at) SELECT hold_id || '-again', idem_key, trip_id, leg, kind, resource, units, amount_cents, 'released', created_at FROM trip_holds WHERE hold_id = ?",
      [firm.holdId],
    );

    // Another completed trip's flight payment hold gone: its stage confirmed the seats without that try.
    await services.db.run("DELETE FROM trip_holds WHERE trip_id = ? AND leg = 'flight' AND kind = 'payment'", [another.plan.input.tripId]);

    const { violations } = await checkTripInvariants(services.db, tripOutcomes);
    const label = `hold ${hold.holdId} (trip ${trip.plan.input.tripId} ${hold.leg} ${hold.kind})`;
    expect(violations).toEqual(
      expect.arrayContaining([
        `${label}: both confirmed and cancelled`,
        `${label}: confirmed, but the barrier's decision is cancel`,
        `${trip.workflowId} (trip ${trip.plan.fixture}): ended ${trip.state?.status}, but its ${hold.leg} ${hold.kind} hold ${hold.holdId} is confirmed`,
        `${completed.workflowId} (trip ${completed.plan.fixture}): only its flight was committed: both children or neither`,
        `${completed.workflowId} (trip ${completed.plan.fixture}): completed, but its firm bookings are flight`,
        '1 hold(s) left pending (neither confirmed nor released)',
        expect.stringMatching(new RegExp(`^${firm.resource}: \\d+ held, but its pending holds hold \\d+$`)),
        `trip_holds: key ${firm.key} (capacity) produced 2 effects`,
        `${another.workflowId} (trip ${another.plan.fixture}): its flight stage confirmed capacity without a try of payment`,
        expect.stringMatching(/^payments: \d+ cents captured, completed trips owe \d+$/),
      ]),
    );
  });
});
