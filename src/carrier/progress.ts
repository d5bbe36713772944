// How the worker learns that the carrier has a step's command in hand, and at which delivery. The
// carrier has no Temporal connection; at every delivery of a step's command it says so on a plain NATS
// subject (no stream: a lost notice only leaves the count one behind until the next one), and the
// worker that waits for that step puts the count in the step's heartbeat details, where
// `saga-client status` reads it.
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';

/** The plain NATS subject of delivery notices (outside the three carrier streams' subjects). */
export const CARRIER_PROGRESS_SUBJECT = 'carrier.progress';

/** A delivery notice: the step's task token (base64, as in the command's header) and the delivery count. */
export const carrierProgressSchema = z.object({ taskToken: z.string().min(1), deliveries: z.number().int().min(1) });
export type CarrierProgress = z.infer<typeof carrierProgressSchema>;

/** What the worker heartbeats for a step whose command waits at the broker. */
export interface CarrierHeartbeat {
  carrier: {
    /** Times the carrier has been handed the command: 0 while it waits in the stream. */
    deliveries: number;
  };
}

/** Tells the waiting worker that the carrier took the command (fire and forget). */
export function announceDelivery(connection: NatsConnection, progress: CarrierProgress): void {
  try {
    connection.publish(CARRIER_PROGRESS_SUBJECT, JSON.stringify(progress));
  } catch {
    // A closed connection: the command itself fails or is redelivered; the notice is only for display.
  }
}

/** The step's heartbeat details, if they are a carrier heartbeat. */
export function carrierHeartbeatOf(details: unknown): CarrierHeartbeat | undefined {
  const parsed = z.object({ carrier: z.object({ deliveries: z.number().int().min(0) }) }).safeParse(details);
  return parsed.success ? { carrier: { deliveries: parsed.data.carrier.deliveries } } : undefined;
}
