// The chaos audit's trip workload: a seeded mix of trips (each a parent saga with a flight and a hotel
// child saga), some cancelled by their traveller at a random moment, and how each ended as every
// place reports it: the workflow, its search attribute, its saga state, and the same for its children.

import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { SagaStatus } from '@saga-temporal/saga';
import { DECLINED_CARD, legWorkflowId, TripFailureType, tripLegs, UNSERVED_DESTINATION, type TripInput, type TripLeg } from './trip-contract';
import { closedSagaOf, inBatches, seededRandom, type ClosedSaga, type TerminalStatus } from './workload';

/** What makes a trip behave as it does. */
export type TripFixture = 'ok' | 'limited' | 'soldout' | 'declined' | 'itinerary-refused';

/** One planned trip. */
export interface TripPlan {
  kind: 'trip';
  fixture: TripFixture;
  input: TripInput;
  /** When set, the traveller cancels the trip this long after its start. */
  cancelAfterMs?: number;
}

/** Options of {@link planTrips}. */
export interface TripWorkloadOptions {
  trips: number;
  seed: number;
  /** Makes trip ids unique when several workloads share a server. @default `c<seed>` */
  tag?: string;
  /** Share of trips the traveller cancels. @default 0.15 */
  cancelRate?: number;
  /** Latest moment a trip is cancelled after its start, in ms. @default 2000 */
  maxCancelDelayMs?: number;
  /** How long a child waits for its trip's decision. @default "10 minutes" */
  decisionTimeout?: string;
  /** Fixtures with their weights. @default mostly `ok`, every other fixture present */
  mix?: readonly (readonly [TripFixture, number])[];
}

const defaultMix: readonly (readonly [TripFixture, number])[] = [
  ['ok', 40],
  ['limited', 20],
  ['soldout', 12],
  ['declined', 14],
  ['itinerary-refused', 14],
];

const destinations = ['FR', 'JP', 'BR', 'KE'] as const;

/** Plans trips: the same options (seed included) always give the same plans. */
export function planTrips(opts: TripWorkloadOptions): TripPlan[] {
  const random = seededRandom(opts.seed ^ 0x7a1b);
  const tag = opts.tag ?? `c${opts.seed}`;
  const cancelRate = opts.cancelRate ?? 0.15;
  return Array.from({ length: opts.trips }, (_, i): TripPlan => {
    const fixture = random.weighted(opts.mix ?? defaultMix);
    const hotel = fixture === 'limited' ? 'hotel-small' : fixture === 'soldout' ? 'hotel-full' : 'hotel-grand';
    const input: TripInput = {
      tripId: `${tag}-t${i}`,
      card: fixture === 'declined' ? DECLINED_CARD : 'tok_visa',
      destination: fixture === 'itinerary-refused' ? UNSERVED_DESTINATION : destinations[random.int(0, destinations.length - 1)]!,
      flight: { resource: 'flight-lh400', units: random.int(1, 4), amountCents: random.int(5_000, 90_000) },
      hotel: { resource: hotel, units: random.int(1, 2), amountCents: random.int(8_000, 60_000) },
      decisionTimeout: opts.decisionTimeout ?? '10 minutes',
    };
    const plan: TripPlan = { kind: 'trip', fixture, input };
    if (random.chance(cancelRate)) plan.cancelAfterMs = random.int(0, opts.maxCancelDelayMs ?? 2_000);
    return plan;
  });
}

/** The statuses a trip may end in, given its fixture and whether it is cancelled. */
export function expectedTripStatuses(plan: TripPlan): TerminalStatus[] {
  const natural: TerminalStatus[] = plan.fixture === 'ok' ? [SagaStatus.COMPLETED] : plan.fixture === 'limited' ? [SagaStatus.COMPLETED, SagaStatus.COMPENSATED] : [SagaStatus.COMPENSATED];
  // A cancellation that lands once the children are committed leaves the natural outcome.
  return plan.cancelAfterMs === undefined ? natural : [...natural, SagaStatus.CANCELLED];
}

/**
 * The failure type a trip reports when it ends COMPENSATED, from its plan. A child's own deadline can
 * change it: see {@link childDeadlinePassed}. The child sagas' other failure types cannot arise in a
 * chaos run, which neither resets, retries nor terminates a trip or a leg, nor gives a leg a workflow
 * timeout: `ChildNotUndone` (a leg ended from outside its code) and `ChildNotAttached` (a re-run of the
 * trip meeting a leg that closed unheard) would leave the trip `COMPENSATION_FAILED`, which no plan
 * expects, so the invariants report them.
 */
export function expectedTripFailureType(plan: TripPlan): string | undefined {
  const types: Record<TripFixture, string | undefined> = {
    ok: undefined,
    limited: 'OutOfStock',
    soldout: 'OutOfStock',
    declined: 'PaymentDeclined',
    'itinerary-refused': TripFailureType.ItineraryRefused,
  };
  return types[plan.fixture];
}

/** What a trip reports when a leg's deadline for the trip's decision passed before the trip committed: it commits neither leg and unwinds. */
export const CHILD_CLOSED_BEFORE_COMMIT = 'ChildClosedBeforeCommit';

/**
 * Whether a leg of the trip closed by its own deadline (no decision from the trip in time, e.g. a trip
 * slowed down by faults for longer than `decisionTimeout`). Then the trip may end COMPENSATED with
 * {@link CHILD_CLOSED_BEFORE_COMMIT} whatever its plan, as a commit is all or nothing.
 */
export function childDeadlinePassed(outcome: TripOutcome): boolean {
  return tripLegs.some((leg) => outcome.children[leg]?.state?.failure?.type === 'CompensatedByParent' && outcome.children[leg]?.state?.failure?.message.startsWith('No decision came'));
}

/** A started trip. */
export interface StartedTrip {
  plan: TripPlan;
  handle: WorkflowHandle;
}

/** Trips in flight, and the traveller's cancellations. */
export interface RunningTrips {
  trips: StartedTrip[];
  /** Resolves once every planned cancellation was sent (or refused by a trip that had ended). */
  driven: Promise<void>;
}

/** Starts every trip (its workflow id is its trip id) and, in the background, cancels those planned to be. */
export async function startTrips(client: Client, plans: readonly TripPlan[], opts: { taskQueue: string; startConcurrency?: number }): Promise<RunningTrips> {
  const cancels: Promise<void>[] = [];
  const trips = await inBatches(plans, opts.startConcurrency ?? 50, async (plan): Promise<StartedTrip> => {
    const handle = await client.workflow.start('tripSaga', { taskQueue: opts.taskQueue, workflowId: plan.input.tripId, args: [plan.input] });
    const after = plan.cancelAfterMs;
    if (after !== undefined) {
      cancels.push(
        new Promise<void>((resolve) => setTimeout(resolve, after)).then(() =>
          // A trip that already ended refuses the cancellation: that race is part of the workload.
          handle.cancel().then(
            () => undefined,
            () => undefined,
          ),
        ),
      );
    }
    return { plan, handle };
  });
  return { trips, driven: Promise.all(cancels).then(() => undefined) };
}

export type { ClosedSaga };

/** How a trip ended, with each of its children (absent when the trip never started it). */
export interface TripOutcome extends ClosedSaga {
  plan: TripPlan;
  children: Partial<Record<TripLeg, ClosedSaga>>;
}

async function closedSaga(handle: WorkflowHandle): Promise<ClosedSaga | undefined> {
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  return closedSagaOf(handle, description);
}

/** Describes and queries every trip and its children (a few trips at a time: each query of a closed workflow is a replay). */
export async function collectTripOutcomes(client: Client, trips: readonly StartedTrip[], concurrency = 10): Promise<TripOutcome[]> {
  return inBatches(trips, concurrency, async ({ plan, handle }): Promise<TripOutcome> => {
    const trip = await closedSaga(handle);
    if (!trip) throw new Error(`trip ${handle.workflowId} was started but cannot be described`);
    const children: TripOutcome['children'] = {};
    for (const leg of tripLegs) {
      const child = await closedSaga(client.workflow.getHandle(legWorkflowId(handle.workflowId, leg)));
      if (child) children[leg] = child;
    }
    return { ...trip, plan, children };
  });
}
