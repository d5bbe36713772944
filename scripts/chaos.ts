// `npm run chaos`: the chaos invariant run of `test/chaos/invariants.test.ts` at a larger scale and for
// as long as asked. It starts its own in-memory dev server (its Web UI shows the run), runs rounds of
// seeded order and registration sagas (a share of them terminated by an operator, then undone by the
// reconciler), and trips (a parent saga with two child sagas, each with a try-confirm-cancel stage),
// against workers whose services fail, stall and lose replies, and after every round checks every
// invariant over everything run so far, terminated sagas included. Exits 1 on any violation.
// The orders' shipments go through the broker: a NATS node, the carrier and the outbox relay run as
// child processes (scripts/lib/chaos/broker.ts); the NATS node and the carrier are SIGKILLed and
// restarted at seeded moments of each round, a share of orders are poison fixtures the carrier
// dead-letters, and the broker's invariants (scripts/lib/chaos/broker-invariants.ts) are checked too.
//
//   npm run chaos -- --orders 1000 --registrations 250 --trips 200 --duration 600 --seed 42
//   npm run chaos -- --broker-kills 3 --carrier-kills 3 --kills-within 90 --poison 0.05

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { createReconcilerActivities } from '../src/reconciler/activities';
import { startChaosBroker } from './lib/chaos/broker';
import { checkBrokerInvariants, formatBrokerReport, waitForPublished, waitForSettledConsumers } from './lib/chaos/broker-invariants';
import { reconcileTerminated } from './lib/chaos/reconcile';
import { startDevServer } from '../tools/devserver';
import { createServices, type FaultConfig, type ServiceFaults } from '../src/services';
import { checkInvariants, formatReport } from './lib/chaos/invariants';
import { collectOutcomes, countInjectedFaults, planWorkload, seedFromEnv, startWorkload, waitForAll, type SagaOutcome } from './lib/chaos/workload';
import { freePort } from './lib/ports';
import { createTripActivities } from './lib/chaos/trip-activities';
import { checkTripInvariants, formatTripReport } from './lib/chaos/trip-invariants';
import { TripBookings, withTripFaults } from './lib/chaos/trip-service';
import { collectTripOutcomes, planTrips, startTrips, type TripOutcome } from './lib/chaos/trips';

// A local tool: without a NODE_ENV of its own it declares development, since every process that is
// not is treated as production and refuses to start without keys (src/config.ts, isProduction).
process.env.NODE_ENV ??= 'development';

const usage = `Usage: npm run chaos -- [options]

  --orders <n>           Order sagas per round (default 1000)
  --registrations <n>    Registration sagas per round (default 250)
  --trips <n>            Trips per round, each a parent saga with two child sagas (default 200)
  --duration <seconds>   Keep starting rounds until this much time has passed (default: one round)
  --seed <n>             Seed of the workload and the fault draws (default: SEED, else random)
  --transient <rate>     Probability a service call fails before acting (default 0.1)
  --lost-reply <rate>    Probability a call commits and then fails (default 0.05)
  --latency <ms>         Maximum latency added to each call (default 50); shipping runs in the carrier
                         process, without these faults: its chaos is the kills and the poison orders
  --cancel <rate>        Share of orders and trips their customer cancels (default 0.1)
  --terminate <rate>     Share of the other orders and registrations an operator terminates, within
                         --terminate-within seconds of their start; the reconciler then undoes them (default 0.1)
  --terminate-within <s> Latest moment of a termination after the saga's start (default 20)
  --timeout <seconds>    How long a round may take before its open sagas count as stuck (default 600)
  --broker-kills <n>     SIGKILLs of the NATS node per round, each restarted 2 s later (default 2)
  --carrier-kills <n>    SIGKILLs of the carrier process per round, each restarted 2 s later (default 2)
  --kills-within <s>     The kills fall at seeded moments within this many seconds of a round's start (default 60)
  --poison <rate>        Share of orders whose shipment command fails at every delivery: the carrier
                         dead-letters it and the saga compensates (default 0.02)
  --keep                 Keep the services' database and print where it is
`;

function number(value: string | undefined, fallback: number, name: string, max = Number.POSITIVE_INFINITY): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`--${name} must be a number between 0 and ${max} (got "${value}")`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string' },
      registrations: { type: 'string' },
      trips: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      transient: { type: 'string' },
      'lost-reply': { type: 'string' },
      latency: { type: 'string' },
      cancel: { type: 'string' },
      terminate: { type: 'string' },
      'terminate-within': { type: 'string' },
      timeout: { type: 'string' },
      'broker-kills': { type: 'string' },
      'carrier-kills': { type: 'string' },
      'kills-within': { type: 'string' },
      poison: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const orders = Math.floor(number(values.orders, 1_000, 'orders'));
  const registrations = Math.floor(number(values.registrations, 250, 'registrations'));
  const tripCount = Math.floor(number(values.trips, 200, 'trips'));
  const cancelRate = number(values.cancel, 0.1, 'cancel', 1);
  const terminateRate = number(values.terminate, 0.1, 'terminate', 1);
  const maxTerminateDelayMs = number(values['terminate-within'], 20, 'terminate-within') * 1_000;
  const durationMs = number(values.duration, 0, 'duration') * 1_000;
  const seed = values.seed === undefined ? seedFromEnv() : Math.floor(number(values.seed, 0, 'seed'));
  const timeoutMs = number(values.timeout, 600, 'timeout') * 1_000;
  const brokerKills = Math.floor(number(values['broker-kills'], 2, 'broker-kills', 100));
  const carrierKills = Math.floor(number(values['carrier-kills'], 2, 'carrier-kills', 100));
  const killsWithinMs = number(values['kills-within'], 60, 'kills-within') * 1_000;
  const poisonRate = number(values.poison, 0.02, 'poison', 1);
  const perService: ServiceFaults = {
    transientErrorRate: number(values.transient, 0.1, 'transient', 1),
    lostReplyRate: number(values['lost-reply'], 0.05, 'lost-reply', 1),
    latencyMs: [0, number(values.latency, 50, 'latency', 60_000)],
  };
  const faults: FaultConfig = { seed, inventory: perService, payments: perService, shipping: perService, users: perService, mail: perService };

  // Activities fail on purpose all the time: only real errors are worth printing.
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } } });
  const dataDir = mkdtempSync(join(tmpdir(), 'saga-chaos-'));
  const server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null, logLevel: 'error' });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const databaseUrl = `sqlite:${join(dataDir, 'services.db')}`;
  const services = await createServices({ databaseUrl, faults });
  const injected = countInjectedFaults(services.faults);
  const broker = await startChaosBroker({ dataDir, databaseUrl, client, services });
  const taskQueue = `chaos-${seed}`;
  // The worker as createSagaWorker registers it with SAGA_NATS_URL set: shipments through the carrier.
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: join(__dirname, '..', 'src', 'workflows.ts'),
    activities: { ...createActivities({ ...services, shipping: broker.link.shipping }), ...createReconcilerActivities({ client, ...services, shipping: broker.link.requests }) },
    maxConcurrentActivityTaskExecutions: 200,
  });
  const running = worker.run();
  // The trips: their own workflow bundle and task queue, the same database and fault injector.
  const bookings = await TripBookings.open(services.db);
  const tripTaskQueue = `chaos-trips-${seed}`;
  const tripWorker = await Worker.create({
    connection: nativeConnection,
    taskQueue: tripTaskQueue,
    workflowsPath: join(__dirname, 'lib', 'chaos', 'trip-workflows.ts'),
    activities: createTripActivities(withTripFaults(bookings, services.faults)),
    maxConcurrentActivityTaskExecutions: 200,
  });
  const tripsRunning = tripWorker.run();
  console.log(`chaos run: seed ${seed}, ${orders} orders, ${registrations} registrations and ${tripCount} trips per round; ${brokerKills} broker and ${carrierKills} carrier kills within ${killsWithinMs / 1000} s of each round, poison ${poisonRate}; Web UI ${server.uiUrl}`);

  const outcomes: SagaOutcome[] = [];
  const tripOutcomes: TripOutcome[] = [];
  let failed = false;
  const began = Date.now();
  try {
    for (let round = 1; ; round++) {
      const roundStart = Date.now();
      const tag = `c${seed}-r${round}`;
      const workload = planWorkload({ orders, registrations, seed: seed + round - 1, tag, cancelRate, terminateRate, maxTerminateDelayMs, poisonRate });
      const killing = broker.scheduleKills({ seed: seed + round - 1, brokerKills, carrierKills, withinMs: killsWithinMs });
      const tripPlans = planTrips({ trips: tripCount, seed: seed + round - 1, tag, cancelRate });
      const started = await startWorkload(client, services, workload, { taskQueue, phaseTimeoutMs: timeoutMs });
      const startedTrips = await startTrips(client, tripPlans, { taskQueue: tripTaskQueue });
      await Promise.all([started.driven, startedTrips.driven, killing]);
      const stuck = await waitForAll([...started.sagas, ...startedTrips.trips], timeoutMs);
      const roundOutcomes = await collectOutcomes(started.sagas);
      // Terminated sagas had no chance to unwind: the reconciler undoes them before the books are checked.
      const sweeps = await reconcileTerminated(client, taskQueue, roundOutcomes, timeoutMs);
      const terminated = roundOutcomes.filter((o) => o.workflowStatus === 'TERMINATED').length;
      if (terminated > 0) console.log(`\n${terminated} saga(s) terminated this round, reconciled in ${sweeps} sweep(s)`);
      outcomes.push(...roundOutcomes);
      tripOutcomes.push(...(await collectTripOutcomes(client, startedTrips.trips)));
      const report = await checkInvariants(services, outcomes);
      const tripReport = await checkTripInvariants(services.db, tripOutcomes);
      // The relay publishes the last outcomes and a late redelivery settles before the broker is judged.
      await waitForPublished(services.db, 60_000);
      await waitForSettledConsumers(broker.connection, 60_000);
      const brokerReport = await checkBrokerInvariants(services.db, broker.connection, outcomes, { redeliveries: broker.redeliveries() });
      console.log(`\nround ${round} (${Math.round((Date.now() - roundStart) / 1000)} s), totals so far:\n${formatReport(report, seed, { ...injected })}`);
      console.log(formatTripReport(tripReport, seed).split('\n').slice(1).join('\n'));
      console.log(formatBrokerReport(brokerReport, broker.kills));
      if (stuck.length > 0) console.log(`${stuck.length} saga(s) still open after ${timeoutMs / 1000} s: ${stuck.slice(0, 20).join(', ')}`);
      if (report.violations.length > 0 || tripReport.violations.length > 0 || brokerReport.violations.length > 0 || stuck.length > 0) {
        failed = true;
        break;
      }
      if (Date.now() - began >= durationMs) break;
    }
  } finally {
    worker.shutdown();
    tripWorker.shutdown();
    await running;
    await tripsRunning;
    await broker.stop();
    await nativeConnection.close();
    await connection.close();
    await services.close();
    await server.stop();
    if (values.keep) console.log(`services database kept in ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  },
);
