// The trip's activities: each parses its input with the trip's contract (bad input is a non-retryable
// `InvalidInput` before anything is written), derives its idempotency key from its workflow and saga
// as the product's activities do, and makes one call to the booking service. A participant's try,
// confirm, cancel and undo share the participant's key.

import { bindSagaIds, idempotencyKey } from '../../../src/activities/keys';
import { parseOrFail } from '../../../src/shared/validation';
import { holdCapacityInput, holdPaymentInput, holdRefInput, itineraryInput, itineraryRefInput } from './trip-contract';
import type { TripBookings } from './trip-service';

/** Names of the child saga's participants, which name their keys too. */
export const participantNames = { capacity: 'capacity', payment: 'payment' } as const;

/** The trip's activities on `bookings` (wrap it in `withTripFaults` for a chaos run). */
export function createTripActivities(bookings: TripBookings) {
  return bindSagaIds({
    async holdCapacity(input: unknown) {
      const valid = parseOrFail(holdCapacityInput, 'holdCapacity input', input);
      return bookings.holdCapacity({ key: idempotencyKey(participantNames.capacity), tripId: valid.tripId, leg: valid.leg, resource: valid.resource, units: valid.units });
    },
    async confirmCapacity(input: unknown) {
      parseOrFail(holdRefInput, 'confirmCapacity input', input);
      return bookings.confirm('capacity', idempotencyKey(participantNames.capacity));
    },
    async releaseCapacity(input: unknown) {
      parseOrFail(holdRefInput, 'releaseCapacity input', input);
      return bookings.release('capacity', idempotencyKey(participantNames.capacity));
    },
    async undoCapacity(input: unknown) {
      parseOrFail(holdRefInput, 'undoCapacity input', input);
      return bookings.undo('capacity', idempotencyKey(participantNames.capacity));
    },
    async holdPayment(input: unknown) {
      const valid = parseOrFail(holdPaymentInput, 'holdPayment input', input);
      return bookings.holdPayment({ key: idempotencyKey(participantNames.payment), tripId: valid.tripId, leg: valid.leg, card: valid.card, amountCents: valid.amountCents });
    },
    async capturePayment(input: unknown) {
      parseOrFail(holdRefInput, 'capturePayment input', input);
      return bookings.confirm('payment', idempotencyKey(participantNames.payment));
    },
    async voidPayment(input: unknown) {
      parseOrFail(holdRefInput, 'voidPayment input', input);
      return bookings.release('payment', idempotencyKey(participantNames.payment));
    },
    async refundPayment(input: unknown) {
      parseOrFail(holdRefInput, 'refundPayment input', input);
      return bookings.undo('payment', idempotencyKey(participantNames.payment));
    },
    async issueItinerary(input: unknown) {
      const valid = parseOrFail(itineraryInput, 'issueItinerary input', input);
      return bookings.issueItinerary({ key: idempotencyKey('itinerary'), tripId: valid.tripId, destination: valid.destination });
    },
    async cancelItinerary(input: unknown) {
      parseOrFail(itineraryRefInput, 'cancelItinerary input', input);
      return bookings.cancelItinerary(idempotencyKey('itinerary'));
    },
  });
}

/** The activities' types, for `sagaActivities<TripActivities>()` in the trip's workflows. */
export type TripActivities = ReturnType<typeof createTripActivities>;
