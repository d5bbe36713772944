// The chaos audit's trip: its input, the input of its two child sagas (a flight and a hotel) and of
// their activities, and the failure types of its booking service. Sandbox-safe (zod and the shared
// validation only): the trip's workflows parse their input with it, and so do its activities.

import { z } from 'zod';
import { idSchema } from '../../../src/shared/validation';

/** The two legs of a trip, each booked by a child saga. */
export const tripLegs = ['flight', 'hotel'] as const;
export type TripLeg = (typeof tripLegs)[number];

/** Failure types of the booking service besides the shared ones (`OutOfStock`, `PaymentDeclined`, `InvalidInput`). */
export const TripFailureType = {
  /** The itinerary could not be issued for the destination: the parent fails after both children are ready. */
  ItineraryRefused: 'ItineraryRefused',
} as const;

/** The card token the booking service's payment holds refuse. */
export const DECLINED_CARD = 'tok_declined';
/** The destination the itinerary service refuses. */
export const UNSERVED_DESTINATION = 'XX';

const resourceSchema = z.string().regex(/^(flight|hotel)-[a-z0-9-]{1,40}$/, 'a flight or hotel resource name');
const legSchema = z.strictObject({
  resource: resourceSchema,
  units: z.number().int().min(1).max(9),
  amountCents: z.number().int().min(1).max(10_000_000),
});

/** Input of the trip saga (the parent). */
export const tripInputSchema = z.strictObject({
  tripId: idSchema,
  card: z.string().regex(/^tok_[a-z]{1,20}$/, 'a card token'),
  destination: z.string().regex(/^[A-Z]{2}$/, 'a country code'),
  flight: legSchema,
  hotel: legSchema,
  /** How long each child waits for the trip's decision before it compensates on its own. */
  decisionTimeout: z.string().regex(/^\d{1,6} ?(milliseconds|seconds|minutes|hours|ms|s|m|h)$/, 'a duration such as "10 minutes"'),
});
export type TripInput = z.input<typeof tripInputSchema>;

/** Input of a leg's child saga. */
export const legInputSchema = z.strictObject({
  tripId: idSchema,
  leg: z.enum(tripLegs),
  card: tripInputSchema.shape.card,
  resource: resourceSchema,
  units: legSchema.shape.units,
  amountCents: legSchema.shape.amountCents,
  decisionTimeout: tripInputSchema.shape.decisionTimeout,
});
export type LegInput = z.input<typeof legInputSchema>;

/** What a leg's child saga reports to its parent once its stage is confirmed. */
export interface LegBooking {
  leg: TripLeg;
  resource: string;
  units: number;
  amountCents: number;
}

/** What a completed trip returns. */
export interface TripResult {
  tripId: string;
  legs: LegBooking[];
}

/** The child saga of a leg: a stable id derived from the trip's, so a replayed parent finds its children. */
export function legWorkflowId(tripWorkflowId: string, leg: TripLeg): string {
  return `${tripWorkflowId}/${leg}`;
}

// Activities' inputs. The idempotency key is derived in the activity from its workflow and saga.
const withSagaId = { sagaId: z.string().optional() };
export const holdCapacityInput = z.strictObject({ tripId: idSchema, leg: z.enum(tripLegs), resource: resourceSchema, units: legSchema.shape.units, ...withSagaId });
export const holdPaymentInput = z.strictObject({ tripId: idSchema, leg: z.enum(tripLegs), card: tripInputSchema.shape.card, amountCents: legSchema.shape.amountCents, ...withSagaId });
export const holdRefInput = z.strictObject({ tripId: idSchema, leg: z.enum(tripLegs), ...withSagaId });
export const itineraryInput = z.strictObject({ tripId: idSchema, destination: tripInputSchema.shape.destination, ...withSagaId });
export const itineraryRefInput = z.strictObject({ tripId: idSchema, ...withSagaId });
