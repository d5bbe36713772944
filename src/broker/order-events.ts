// The order-events stream: where other systems learn how each order ended (completed, compensated,
// cancelled), one message per order, published by the outbox relay with the outbox row's id as the
// message id so that JetStream drops a republished row.
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { OrderOutcome } from '../services/order-events';

/** The stream's name. */
export const ORDER_EVENTS_STREAM = 'ORDER_EVENTS';

/** The subject of an outcome: `orders.events.completed`, `orders.events.compensated`, `orders.events.cancelled`. */
export function orderEventSubject(outcome: OrderOutcome): string {
  return `orders.events.${outcome}`;
}

/**
 * How long JetStream remembers a message id to drop a republished row, in ms: 24 hours. A relay that
 * dies between the broker's acknowledgement and marking the row published republishes the row when
 * it (or another relay, once the row's lease of 30 s ran out) polls again; the window has to outlast
 * that gap, including a relay host that is down for a night and restarted in the morning. Beyond it
 * the row is published a second time: consumers dedupe on the event id. The cost is one id per
 * message of the last day in the stream's memory: at 100 orders a second, under 9 million short ids.
 */
export const ORDER_EVENTS_DUPLICATE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The stream's configuration, with `replicas` copies (1 on a single node, 3 on a cluster). */
export function orderEventsStreamConfig(replicas: number): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: ORDER_EVENTS_STREAM,
    subjects: ['orders.events.*'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    // JetStream counts the window in nanoseconds.
    duplicate_window: ORDER_EVENTS_DUPLICATE_WINDOW_MS * 1_000_000,
  };
}

/** Creates the stream, or brings an existing one to this configuration (its messages are kept). */
export async function ensureOrderEventsStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  const config = orderEventsStreamConfig(replicas);
  try {
    await jsm.streams.info(ORDER_EVENTS_STREAM);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
  await jsm.streams.update(ORDER_EVENTS_STREAM, config);
}
