import type { MetricMeter } from '@temporalio/common';
import type { TelemetryOptions } from '@temporalio/worker';
import { sagaMetricNames } from '@saga-temporal/saga';
import { ConfigError } from './config';
import type { ServiceObserver } from './services';

/** Milliseconds: 50 ms to 7 days. */
const durationBuckets = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000, 604_800_000];

type Env = Record<string, string | undefined>;

/** Where the worker serves Prometheus metrics, from `SAGA_METRICS_ADDRESS` (`host:port`); unset, none. */
export function metricsAddress(env: Env = process.env): string | undefined {
  const raw = env.SAGA_METRICS_ADDRESS?.trim();
  if (!raw) return undefined;
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError([`SAGA_METRICS_ADDRESS must be host:port (e.g. 0.0.0.0:9464), got ${JSON.stringify(raw)}`]);
  }
  return raw;
}

/**
 * The runtime's telemetry: the SDK's own worker metrics (`temporal_*`) and the sagas' metrics
 * (`sagaMetricNames`) on one Prometheus endpoint, `/metrics` at `address`. Counters keep the SDK's
 * names (no `_total` suffix) so the SDK's documented names and the dashboards agree; durations are in
 * milliseconds, with buckets up to a week.
 */
export function telemetryOptions(address: string | undefined): TelemetryOptions | undefined {
  if (!address) return undefined;
  return {
    metrics: {
      prometheus: {
        bindAddress: address,
        histogramBucketOverrides: {
          [sagaMetricNames.compensationAttempts]: [1, 2, 3, 5, 10, 20],
          // Sagas take from milliseconds to days (a compensation retried for a day, a deadline of hours).
          [sagaMetricNames.duration]: durationBuckets,
          [sagaMetricNames.compensationDuration]: durationBuckets,
        },
      },
    },
  };
}

/** The services' metrics, beside the engine's `sagaMetricNames`. */
export const serviceMetricNames = {
  /** Counter: barrier decisions of committed service calls, by `service`, `phase` and `outcome`. */
  barrierOutcomes: 'saga_barrier_outcomes',
  /** Counter: faults injected into service calls (only with `SAGA_FAULTS`), by `service`, `operation` and `fault`. */
  injectedFaults: 'saga_injected_faults',
} as const;

/**
 * The services' observer that counts on `meter` (the worker runtime's, so the counts are served on
 * the same endpoint as the sagas' metrics): barrier outcomes and injected faults, labelled with the
 * worker's `namespace` and `taskQueue`, like the sagas' metrics, and otherwise with bounded names only.
 */
export function serviceMetrics(meter: MetricMeter, worker: { namespace: string; taskQueue: string }): Required<ServiceObserver> {
  return countServiceCalls(meter.withTags({ namespace: worker.namespace, taskQueue: worker.taskQueue }));
}

/**
 * The services' observer of the carrier process, which applies the shipment commands (and so owns
 * shipping's barrier outcomes in broker mode): the same counters, labelled `process="carrier"`
 * instead of a worker's namespace and task queue.
 */
export function carrierServiceMetrics(meter: MetricMeter): Required<ServiceObserver> {
  return countServiceCalls(meter.withTags({ process: 'carrier' }));
}

function countServiceCalls(tagged: MetricMeter): Required<ServiceObserver> {
  const outcomes = tagged.createCounter(serviceMetricNames.barrierOutcomes, '1', 'Barrier decisions of committed service calls');
  const faults = tagged.createCounter(serviceMetricNames.injectedFaults, '1', 'Faults injected into service calls (SAGA_FAULTS)');
  return {
    barrierOutcome: ({ service, phase, outcome }) => outcomes.add(1, { service, phase, outcome }),
    injectedFault: ({ service, operation, fault }) => faults.add(1, { service, operation, fault }),
  };
}
