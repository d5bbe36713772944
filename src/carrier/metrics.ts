// The carrier process's telemetry: a Prometheus endpoint at SAGA_METRICS_ADDRESS, served by the same
// Temporal runtime as the worker's (the carrier opens no Temporal connection; the runtime only exports
// its metrics), with shipping's barrier outcomes and the broker's gauges; and, with OTEL_*, the
// shipping calls' spans under the service name `saga-carrier`.
import type { MetricMeter } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { processTracing, type Tracing } from '../tracing';
import { telemetryOptions } from '../telemetry';

/** What the carrier reports, when asked to. */
export interface CarrierTelemetry {
  /** The meter whose metrics are served at `/metrics` on the address; absent without one. */
  meter?: MetricMeter;
  /** The tracer of the shipping calls; absent unless OTEL_TRACES_EXPORTER asks for traces. */
  tracing?: Tracing;
}

/** Installs the metrics endpoint (if `address`) and the tracing (if `OTEL_*` asks for it); once per process. */
export function carrierTelemetry(address: string | undefined, env: Record<string, string | undefined> = process.env): CarrierTelemetry {
  const tracing = processTracing(env, 'saga-carrier');
  const telemetry = telemetryOptions(address);
  if (!telemetry) return tracing ? { tracing } : {};
  Runtime.install({ telemetryOptions: telemetry, shutdownSignals: [] });
  return { meter: Runtime.instance().metricMeter, ...(tracing ? { tracing } : {}) };
}
