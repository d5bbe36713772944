// The carrier's queues as Prometheus gauges: how many commands and replies wait, how many are in a
// consumer's hands unacknowledged, how many were delivered more than once, and how many commands the
// carrier gave up on. Both the worker and the carrier sample them from JetStream's consumer and stream
// info every few seconds, on their own metrics endpoint (SAGA_METRICS_ADDRESS).
import type { MetricMeter } from '@temporalio/common';
import type { JetStreamManager } from '@nats-io/jetstream';
import { CARRIER_COMMANDS_STREAM, CARRIER_CONSUMER, CARRIER_DEAD_LETTERS_STREAM, CARRIER_REPLIES_STREAM, REPLIES_CONSUMER } from './carrier-streams';

/** The broker's gauges. Consumer gauges carry the labels `stream` and `consumer`. */
export const brokerMetricNames = {
  /** Gauge: messages of the stream the consumer has not been handed yet (`num_pending`). */
  consumerPending: 'saga_broker_consumer_pending',
  /** Gauge: messages handed to the consumer and not acknowledged yet (`num_ack_pending`). */
  consumerAckPending: 'saga_broker_consumer_ack_pending',
  /** Gauge: messages in the consumer's hands that were delivered more than once (`num_redelivered`). */
  consumerRedelivered: 'saga_broker_consumer_redelivered',
  /** Gauge: commands in the dead-letter stream (`CARRIER_DEAD_LETTERS`, kept 30 days). */
  deadLetters: 'saga_broker_dead_letters',
} as const;

/** Time between two samples. @default 5 seconds */
export const BROKER_SAMPLE_INTERVAL_MS = 5_000;

/** The consumers sampled: the carrier's commands and the workers' step replies. */
const SAMPLED = [
  { stream: CARRIER_COMMANDS_STREAM, consumer: CARRIER_CONSUMER },
  { stream: CARRIER_REPLIES_STREAM, consumer: REPLIES_CONSUMER },
] as const;

/** A running sampler. */
export interface BrokerSampler {
  /** Resolves after the first sample (taken at start). */
  readonly first: Promise<void>;
  /** Stops sampling; the gauges keep their last values. */
  stop(): void;
}

/**
 * Samples the carrier's consumers and the dead-letter stream every `intervalMs` onto gauges of
 * `meter`. A sample that fails (the broker restarting, a consumer not created yet) leaves the gauges
 * at their last values and is tried again at the next tick.
 * @default intervalMs {@link BROKER_SAMPLE_INTERVAL_MS}
 */
export function sampleBrokerMetrics(jsm: JetStreamManager, meter: MetricMeter, intervalMs: number = BROKER_SAMPLE_INTERVAL_MS): BrokerSampler {
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new RangeError(`The broker sample interval must be an integer of at least 100 ms, got ${intervalMs}`);
  const pending = meter.createGauge(brokerMetricNames.consumerPending, 'int', '1', 'Messages the consumer has not been handed yet');
  const ackPending = meter.createGauge(brokerMetricNames.consumerAckPending, 'int', '1', 'Messages handed to the consumer and not acknowledged yet');
  const redelivered = meter.createGauge(brokerMetricNames.consumerRedelivered, 'int', '1', 'Unacknowledged messages delivered more than once');
  const dead = meter.createGauge(brokerMetricNames.deadLetters, 'int', '1', 'Commands the carrier gave up on (CARRIER_DEAD_LETTERS)');
  const sample = async () => {
    await Promise.all([
      ...SAMPLED.map(async ({ stream, consumer }) => {
        const info = await jsm.consumers.info(stream, consumer).catch(() => undefined);
        if (!info) return;
        const labels = { stream, consumer };
        pending.set(info.num_pending, labels);
        ackPending.set(info.num_ack_pending, labels);
        redelivered.set(info.num_redelivered, labels);
      }),
      jsm.streams.info(CARRIER_DEAD_LETTERS_STREAM).then(
        (info) => dead.set(info.state.messages, { stream: CARRIER_DEAD_LETTERS_STREAM }),
        () => undefined,
      ),
    ]);
  };
  const first = sample();
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}
