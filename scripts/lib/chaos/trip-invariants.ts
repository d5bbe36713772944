// What must hold after a run of trips, whatever faults and cancellations it went through: every trip
// ended where its plan leads and every place that reports it agrees; its two children were committed
// together or not at all, and none is left open; the try-confirm-cancel books are consistent (no
// participant both confirmed and cancelled, no confirm without every try of its stage, the barrier's
// decisions match the holds); capacity is conserved and nothing is left merely held; each idempotency
// key has at most one effect. Each check counts what it looked at.

import { SagaStatus } from '@saga-temporal/saga';
import type { Db } from '../../../src/services';
import { tripLegs, type TripLeg } from './trip-contract';
import { barrierServiceOf, type Hold, type HoldKind } from './trip-service';
import { CHILD_CLOSED_BEFORE_COMMIT, childDeadlinePassed, expectedTripFailureType, expectedTripStatuses, type ClosedSaga, type TripOutcome } from './trips';

/** The outcome of {@link checkTripInvariants}. */
export interface TripInvariantReport {
  /** How many things of each kind were checked. */
  checked: Record<string, number>;
  /** Trips per final saga status. */
  statuses: Record<string, number>;
  /** One sentence per broken invariant; empty when everything holds. Ids only, never personal data. */
  violations: string[];
}

const workflowStatusOf: Record<string, string> = {
  [SagaStatus.COMPLETED]: 'COMPLETED',
  [SagaStatus.COMPENSATED]: 'FAILED',
  [SagaStatus.CANCELLED]: 'CANCELLED',
};

interface HoldRow {
  hold_id: string;
  idem_key: string;
  trip_id: string;
  leg: TripLeg;
  kind: HoldKind;
  resource: string;
  units: number;
  amount_cents: number;
  status: Hold['status'];
  confirmed_at: string | null;
  released_at: string | null;
}

/** Checks every trip against its plan, its children and the booking service's books, then the books as a whole. */
export async function checkTripInvariants(db: Db, outcomes: readonly TripOutcome[]): Promise<TripInvariantReport> {
  const violations: string[] = [];
  const checked: Record<string, number> = { trips: 0, children: 0, holds: 0 };
  const statuses: Record<string, number> = {};
  const count = (what: string, n = 1) => (checked[what] = (checked[what] ?? 0) + n);

  const holds = await db.all<HoldRow>('SELECT hold_id, idem_key, trip_id, leg, kind, resource, units, amount_cents, status, confirmed_at, released_at FROM trip_holds');
  const holdsByTrip = new Map<string, HoldRow[]>();
  for (const h of holds) holdsByTrip.set(h.trip_id, [...(holdsByTrip.get(h.trip_id) ?? []), h]);
  const itineraries = await db.all<{ trip_id: string; status: string }>('SELECT trip_id, status FROM trip_itineraries');
  const issued = new Map<string, number>();
  for (const i of itineraries) if (i.status === 'issued') issued.set(i.trip_id, (issued.get(i.trip_id) ?? 0) + 1);

  const confirmedUnits = new Map<string, number>();
  let owedCents = 0;
  for (const outcome of outcomes) {
    const { plan, workflowId } = outcome;
    const tripId = plan.input.tripId;
    const status = outcome.state?.status;
    count('trips');
    statuses[status ?? 'UNKNOWN'] = (statuses[status ?? 'UNKNOWN'] ?? 0) + 1;
    const problem = (text: string) => violations.push(`${workflowId} (trip ${plan.fixture}): ${text}`);

    if (outcome.workflowStatus === 'RUNNING') problem('still running');
    if (status === undefined) {
      problem('its saga state could not be queried');
      continue;
    }
    // A leg whose deadline passed leaves the trip nothing to commit: it unwinds, as the legs' declared default says.
    const deadlinePassed = childDeadlinePassed(outcome);
    const expectedStatuses: string[] = deadlinePassed ? [...new Set([...expectedTripStatuses(plan), SagaStatus.COMPENSATED])] : expectedTripStatuses(plan);
    if (!expectedStatuses.includes(status)) problem(`ended ${status}, expected ${expectedStatuses.join(' or ')}`);
    if (outcome.searchAttribute !== status) problem(`search attribute SagaStatus=${outcome.searchAttribute} but the query says ${status}`);
    if (workflowStatusOf[status] !== outcome.workflowStatus) problem(`saga ${status} but workflow ${outcome.workflowStatus}`);
    const expectedTypes = [expectedTripFailureType(plan), ...(deadlinePassed ? [CHILD_CLOSED_BEFORE_COMMIT] : [])];
    if (status === SagaStatus.COMPENSATED && !expectedTypes.includes(outcome.failureType)) {
      problem(`compensated after ${outcome.failureType}, expected ${expectedTypes.filter((t) => t !== undefined).join(' or ') || 'no failure'}`);
    }
    // No plan leads there (see expectedTripFailureType): say what the trip left standing, and why
    // (a leg not undone, or one a re-run could not take over).
    if (status === SagaStatus.COMPENSATION_FAILED) {
      for (const f of outcome.state?.compensationFailures ?? []) problem(`after ${outcome.state?.failure?.type ?? 'a failure'}, left ${f.step} standing (${f.type ?? 'untyped'}): ${f.message}`);
    }

    const completed = status === SagaStatus.COMPLETED;
    const tripHolds = holdsByTrip.get(tripId) ?? [];
    const committedLegs: TripLeg[] = [];
    for (const leg of tripLegs) {
      const child = outcome.children[leg];
      const legHolds = tripHolds.filter((h) => h.leg === leg);
      if (child) checkChild(child, leg, completed, problem);
      if (child) count('children');
      if (completed && !child) problem(`completed, but its ${leg} child saga was never started`);
      const capacity = legHolds.filter((h) => h.kind === 'capacity');
      const payment = legHolds.filter((h) => h.kind === 'payment');
      const firm = (hs: HoldRow[]) => hs.length === 1 && hs[0]!.status === 'confirmed';
      if (firm(capacity) && firm(payment)) committedLegs.push(leg);
      // No confirm without every try of its stage: a confirmed participant's partner has a hold too.
      if (legHolds.some((h) => h.confirmed_at !== null) && (capacity.length === 0 || payment.length === 0)) {
        problem(`its ${leg} stage confirmed ${legHolds.filter((h) => h.confirmed_at !== null).map((h) => h.kind).join(' and ')} without a try of ${capacity.length === 0 ? 'capacity' : 'payment'}`);
      }
      count('stages');
    }
    if (committedLegs.length === 1) problem(`only its ${committedLegs[0]} was committed: both children or neither`);
    if (completed) {
      if (committedLegs.length !== tripLegs.length) problem(`completed, but its firm bookings are ${committedLegs.join(', ') || 'none'}`);
      for (const leg of tripLegs) {
        const { resource, units, amountCents } = plan.input[leg];
        confirmedUnits.set(resource, (confirmedUnits.get(resource) ?? 0) + units);
        owedCents += amountCents;
      }
      if ((issued.get(tripId) ?? 0) !== 1) problem(`completed, but it has ${issued.get(tripId) ?? 0} issued itineraries`);
    } else {
      const live = tripHolds.filter((h) => h.status === 'confirmed' || h.status === 'held');
      if (live.length > 0) problem(`ended ${status}, but ${live.map((h) => `its ${h.leg} ${h.kind} hold ${h.hold_id} is ${h.status}`).join('; ')}`);
      if ((issued.get(tripId) ?? 0) !== 0) problem(`ended ${status}, but its itinerary is still issued`);
    }
  }

  // Every hold: decided at most once, and as the barrier recorded it.
  const decisions = await db.all<{ service: string; idem_key: string; decision: 'confirm' | 'cancel' }>(
    'SELECT service, idem_key, decision FROM barrier_decisions WHERE service IN (?, ?)',
    [barrierServiceOf.capacity, barrierServiceOf.payment],
  );
  count('decisions', decisions.length);
  const decisionOf = new Map(decisions.map((d) => [`${d.service}|${d.idem_key}`, d.decision]));
  let pending = 0;
  for (const h of holds) {
    count('holds');
    if (h.status === 'held') pending += 1;
    if (h.confirmed_at !== null && h.released_at !== null) violations.push(`hold ${h.hold_id} (trip ${h.trip_id} ${h.leg} ${h.kind}): both confirmed and cancelled`);
    const decision = decisionOf.get(`${barrierServiceOf[h.kind]}|${h.idem_key}`);
    if (h.confirmed_at !== null && decision !== 'confirm') violations.push(`hold ${h.hold_id} (trip ${h.trip_id} ${h.leg} ${h.kind}): confirmed, but the barrier's decision is ${decision ?? 'missing'}`);
    if (h.released_at !== null && decision !== 'cancel') violations.push(`hold ${h.hold_id} (trip ${h.trip_id} ${h.leg} ${h.kind}): released, but the barrier's decision is ${decision ?? 'missing'}`);
  }
  if (pending > 0) violations.push(`${pending} hold(s) left pending (neither confirmed nor released)`);

  // Capacity is conserved, and what is firm is exactly what the completed trips booked.
  const resources = await db.all<{ resource: string; total: number; free: number; held: number; confirmed: number }>('SELECT resource, total, free, held, confirmed FROM trip_resources ORDER BY resource');
  for (const r of resources) {
    count('resources');
    const [total, free, held, confirmed] = [r.total, r.free, r.held, r.confirmed].map(Number) as [number, number, number, number];
    if (free + held + confirmed !== total) violations.push(`${r.resource}: ${free} free + ${held} held + ${confirmed} confirmed ≠ ${total}`);
    const byHolds = (status: Hold['status']) => holds.filter((h) => h.kind === 'capacity' && h.resource === r.resource && h.status === status).reduce((n, h) => n + Number(h.units), 0);
    if (held !== byHolds('held')) violations.push(`${r.resource}: ${held} held, but its pending holds hold ${byHolds('held')}`);
    if (confirmed !== byHolds('confirmed')) violations.push(`${r.resource}: ${confirmed} confirmed, but its confirmed holds hold ${byHolds('confirmed')}`);
    const booked = confirmedUnits.get(r.resource) ?? 0;
    if (confirmed !== booked) violations.push(`${r.resource}: ${confirmed} confirmed, completed trips booked ${booked}`);
  }
  const captured = holds.filter((h) => h.kind === 'payment' && h.status === 'confirmed').reduce((n, h) => n + Number(h.amount_cents), 0);
  if (captured !== owedCents) violations.push(`payments: ${captured} cents captured, completed trips owe ${owedCents}`);

  // Each idempotency key has at most one effect, and none took effect after its cancel.
  for (const d of await db.all<{ idem_key: string; kind: string; n: number }>('SELECT idem_key, kind, COUNT(*) AS n FROM trip_holds GROUP BY idem_key, kind HAVING COUNT(*) > 1')) {
    violations.push(`trip_holds: key ${d.idem_key} (${d.kind}) produced ${d.n} effects`);
  }
  for (const d of await db.all<{ idem_key: string; n: number }>('SELECT idem_key, COUNT(*) AS n FROM trip_itineraries GROUP BY idem_key HAVING COUNT(*) > 1')) {
    violations.push(`trip_itineraries: key ${d.idem_key} produced ${d.n} effects`);
  }
  const late = await db.all<{ idem_key: string }>(
    "SELECT h.idem_key AS idem_key FROM trip_holds h JOIN barriers b ON b.idem_key = h.idem_key AND b.op = 'try' AND b.written_by = 'cancel' AND b.service = CASE h.kind WHEN 'capacity' THEN ? ELSE ? END",
    [barrierServiceOf.capacity, barrierServiceOf.payment],
  );
  for (const l of late) violations.push(`trip_holds: key ${l.idem_key} took effect after its cancel`);
  const [{ n: keys } = { n: 0 }] = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM barriers WHERE service LIKE 'trip-%'");
  count('idempotency keys', Number(keys));

  return { checked, statuses, violations };
}

// A child saga is closed, and committed exactly when its trip completed.
function checkChild(child: ClosedSaga, leg: TripLeg, tripCompleted: boolean, problem: (text: string) => void): void {
  const status = child.state?.status;
  if (child.workflowStatus === 'RUNNING') problem(`its ${leg} child ${child.workflowId} is still running (saga ${status ?? 'unknown'})`);
  if (child.searchAttribute !== status) problem(`its ${leg} child has SagaStatus=${child.searchAttribute} but the query says ${status}`);
  if (tripCompleted && (child.workflowStatus !== 'COMPLETED' || status !== SagaStatus.COMPLETED)) {
    problem(`completed, but its ${leg} child ended ${child.workflowStatus} (saga ${status ?? 'unknown'})`);
  }
  if (!tripCompleted && child.workflowStatus === 'COMPLETED') problem(`did not complete, but its ${leg} child committed`);
  if (!tripCompleted && child.workflowStatus === 'FAILED' && status !== SagaStatus.COMPENSATED) problem(`its ${leg} child failed in saga status ${status ?? 'unknown'}`);
}

/** The report as lines to print, the seed first so that a failure can be planned again with `SEED=`. */
export function formatTripReport(report: TripInvariantReport, seed: number, faults?: Record<string, number>): string {
  const lines = [
    `seed ${seed} (reproduce with SEED=${seed})`,
    `trips checked: ${Object.entries(report.checked)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}`,
    `trips: ${Object.entries(report.statuses)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}`,
  ];
  if (faults) lines.push(`faults injected: ${Object.entries(faults).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  lines.push(report.violations.length === 0 ? 'every trip invariant holds' : `${report.violations.length} trip violation(s):\n  ${report.violations.join('\n  ')}`);
  return lines.join('\n');
}
