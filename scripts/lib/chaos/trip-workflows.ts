// The chaos audit's trip, a workflow bundle of its own: a parent saga books a flight and a hotel, each
// a child saga that reserves with a try-confirm-cancel stage (capacity and a payment hold), then waits
// for the parent's decision. The parent issues the itinerary and commits both children, or unwinds and
// has both undo themselves. Workflow code: activities as types only, no Node built-ins.

import type { Duration, RetryPolicy } from '@temporalio/common';
import { activity, awaitParentDecision, ChildSagas, reportToParent, Saga, sagaActivities } from '@saga-temporal/saga';
import { parseOrFail } from '../../../src/shared/validation';
import { businessFailureTypes } from '../../../src/shared/failures';
import type { TripActivities } from './trip-activities';
import { legInputSchema, legWorkflowId, tripInputSchema, tripLegs, TripFailureType, type LegBooking, type LegInput, type TripInput, type TripResult } from './trip-contract';

// Short intervals: a chaos run injects transient faults into one call in ten, and should not wait minutes for them.
const acts = sagaActivities<TripActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 milliseconds', backoffCoefficient: 2, maximumInterval: '1 second', maximumAttempts: 50, nonRetryableErrorTypes: [...businessFailureTypes, TripFailureType.ItineraryRefused] },
});
const compensationRetry: RetryPolicy = { initialInterval: '100 milliseconds', maximumInterval: '1 second' };

/**
 * A leg of a trip (the flight or the hotel) as a child saga: holds the capacity and the payment in one
 * try-confirm-cancel stage, then reports to the parent and waits for its decision. On `compensate` (or
 * no decision before `decisionTimeout`) it undoes both confirmed holds: the seats or rooms go back, the
 * money is refunded.
 */
export async function tripLegSaga(rawInput: LegInput): Promise<LegBooking> {
  const input = parseOrFail(legInputSchema, 'trip leg', rawInput);
  const { tripId, leg, resource, units, amountCents } = input;
  const ref = { tripId, leg };
  // Tells the trip how the leg ended, so that a trip reset or retried after its legs started can take them over.
  const saga = new Saga({ compensationRetry, onSettled: reportToParent });
  return saga.run(async () => {
    await saga.tcc([
      {
        name: 'capacity',
        summary: `Hold ${units} on ${resource} for trip ${tripId}`,
        try: activity(acts.holdCapacity, { tripId, leg, resource, units }),
        confirm: { name: 'confirmCapacity', summary: `Confirm ${resource} for trip ${tripId}`, run: activity(acts.confirmCapacity, ref) },
        cancel: { name: 'releaseCapacity', summary: `Release ${resource} for trip ${tripId}`, run: activity(acts.releaseCapacity, ref) },
        compensate: { name: 'undoCapacity', summary: `Give back ${resource} for trip ${tripId}`, run: activity(acts.undoCapacity, ref) },
      },
      {
        name: 'payment',
        summary: `Hold ${amountCents} cents for the ${leg} of trip ${tripId}`,
        try: activity(acts.holdPayment, { tripId, leg, card: input.card, amountCents }),
        confirm: { name: 'capturePayment', summary: `Capture the ${leg} payment of trip ${tripId}`, run: activity(acts.capturePayment, ref) },
        cancel: { name: 'voidPayment', summary: `Void the ${leg} payment hold of trip ${tripId}`, run: activity(acts.voidPayment, ref) },
        compensate: { name: 'refundPayment', summary: `Refund the ${leg} payment of trip ${tripId}`, run: activity(acts.refundPayment, ref) },
      },
    ] as const);
    return awaitParentDecision<LegBooking>({ leg, resource, units, amountCents }, { timeout: input.decisionTimeout as Duration, onTimeout: 'compensate' });
  });
}

/**
 * The trip: books the flight, then the hotel, each as a child saga; then issues the itinerary; then
 * commits both children. A child's failure reaches it typed (`OutOfStock`, `PaymentDeclined`); its own
 * failure (`ItineraryRefused`) or a cancellation has every started child compensate.
 */
export async function tripSaga(rawInput: TripInput): Promise<TripResult> {
  const input = parseOrFail(tripInputSchema, 'trip', rawInput);
  const { tripId } = input;
  const saga = new Saga({ compensationRetry });
  const children = new ChildSagas();
  return saga.run(async () => {
    const legs: LegBooking[] = [];
    for (const leg of tripLegs) {
      const { resource, units, amountCents } = input[leg];
      const args: LegInput[] = [{ tripId, leg, card: input.card, resource, units, amountCents, decisionTimeout: input.decisionTimeout }];
      legs.push(
        await saga.step(children.step<LegBooking>({ name: leg, summary: `Book the ${leg} of trip ${tripId}`, workflowType: 'tripLegSaga', workflowId: legWorkflowId(tripId, leg), args })),
      );
    }
    await saga.step({
      name: 'itinerary',
      summary: `Issue the itinerary of trip ${tripId}`,
      run: activity(acts.issueItinerary, { tripId, destination: input.destination }),
      compensate: { name: 'cancelItinerary', summary: `Cancel the itinerary of trip ${tripId}`, run: activity(acts.cancelItinerary, { tripId }) },
    });
    await children.commit();
    return { tripId, legs };
  });
}
