import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MetricMeter } from '@temporalio/common';
import type { JetStreamManager } from '@nats-io/jetstream';
import { sampleBrokerMetrics } from '../../src/broker/metrics';
import { loadCarrierConfig } from '../../src/carrier/config';
import { ConfigError } from '../../src/config';

// The carrier's metrics settings and the broker sampler's schedule, with a fake JetStream manager and
// meter (the real endpoint: test/broker/broker-visibility.test.ts).

const broker = { SAGA_NATS_URL: 'nats://127.0.0.1:4222' };

describe('the carrier reads SAGA_METRICS_ADDRESS', () => {
  it('serves no metrics unless it is set, and takes host:port as the worker does', () => {
    expect(loadCarrierConfig(broker).metricsAddress).toBeUndefined();
    expect(loadCarrierConfig({ ...broker, SAGA_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toBe('0.0.0.0:9464');
  });

  it('refuses a bad address with the other problems, before anything connects', () => {
    const err = (() => {
      try {
        loadCarrierConfig({ ...broker, SAGA_METRICS_ADDRESS: 'port-9464', LOG_LEVEL: 'loud' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([expect.stringContaining('SAGA_METRICS_ADDRESS must be host:port'), expect.stringContaining('LOG_LEVEL=loud')]);
  });
});

describe('the broker sampler', () => {
  let samples: Array<{ name: string; value: number; labels: Record<string, string> }>;
  let infos: number;
  const meter = {
    createGauge: (name: string) => ({ set: (value: number, labels: Record<string, string>) => samples.push({ name, value, labels }) }),
  } as unknown as MetricMeter;
  const jsm = {
    consumers: {
      info: async (stream: string, consumer: string) => {
        infos += 1;
        return stream === 'CARRIER_COMMANDS' && consumer === 'carrier' ? { num_pending: 4, num_ack_pending: 2, num_redelivered: 1 } : { num_pending: 0, num_ack_pending: 0, num_redelivered: 0 };
      },
    },
    streams: { info: async () => ({ state: { messages: 3 } }) },
  } as unknown as JetStreamManager;

  beforeEach(() => {
    samples = [];
    infos = 0;
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('samples both consumers and the dead letters at start, then every 5 seconds', async () => {
    const sampler = sampleBrokerMetrics(jsm, meter);
    await sampler.first;
    expect(infos).toBe(2);
    expect(samples).toEqual(
      expect.arrayContaining([
        { name: 'saga_broker_consumer_pending', value: 4, labels: { stream: 'CARRIER_COMMANDS', consumer: 'carrier' } },
        { name: 'saga_broker_consumer_ack_pending', value: 2, labels: { stream: 'CARRIER_COMMANDS', consumer: 'carrier' } },
        { name: 'saga_broker_consumer_redelivered', value: 1, labels: { stream: 'CARRIER_COMMANDS', consumer: 'carrier' } },
        { name: 'saga_broker_consumer_pending', value: 0, labels: { stream: 'CARRIER_REPLIES', consumer: 'saga-worker-replies' } },
        { name: 'saga_broker_dead_letters', value: 3, labels: { stream: 'CARRIER_DEAD_LETTERS' } },
      ]),
    );
    await vi.advanceTimersByTimeAsync(4_999);
    expect(infos).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(infos).toBe(4);
    sampler.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(infos).toBe(4);
  });

  it('refuses an interval under 100 ms before creating a gauge', () => {
    expect(() => sampleBrokerMetrics(jsm, meter, 99)).toThrow(RangeError);
    expect(samples).toEqual([]);
    sampleBrokerMetrics(jsm, meter, 100).stop();
  });
});
