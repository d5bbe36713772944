import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { retryCompensationUpdate, SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../src/order/start';
import type { OrderInput } from '../src/order/contract';
import type { Services } from '../src/services';
import { ConfigError } from '../src/config';
import { metricsAddress, telemetryOptions } from '../src/telemetry';
import { startSagaTestbed, type SagaTestbed } from './helpers';

// The worker's Prometheus endpoint, scraped after a completed, a compensated and a compensation-failed
// (then repaired) order: the saga counters must move exactly as the sagas did.

let env: TestWorkflowEnvironment;
let services: Services;
let taskQueue: string;
let testbed: SagaTestbed;
let address: string;
let seq = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  address = `127.0.0.1:${await freePort()}`;
  // The runtime is per process and its telemetry fixed when installed: replace the quiet one of
  // test/setup.ts (no connection uses it yet) with one that also serves metrics.
  await Runtime.instance().shutdown();
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} }, ...telemetryOptions(metricsAddress({ SAGA_METRICS_ADDRESS: address })) },
  });
  testbed = await startSagaTestbed();
  ({ env, services, taskQueue } = testbed);
});

afterAll(async () => {
  await testbed?.close();
});

function order(country: string): OrderInput & { orderId: string } {
  seq += 1;
  return {
    orderId: `metrics-${seq}-${Date.now().toString(36)}`,
    customerId: 'c-metrics',
    email: 'metrics@example.com',
    items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1250 }],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: 'Metrics', line1: 'Main St 1', city: 'Springfield', postalCode: '12345', country },
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`http://${address}/metrics`);
  expect(res.status).toBe(200);
  const samples: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([0-9.eE+-]+|NaN|\+Inf)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of a metric's samples whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Metrics are exported on an interval: polls until `ready` holds. */
async function scrapeUntil(ready: (s: Sample[]) => boolean): Promise<Sample[]> {
  let samples: Sample[] = [];
  for (let i = 0; i < 100; i++) {
    samples = await scrape();
    if (ready(samples)) return samples;
    await new Promise((r) => setTimeout(r, 100));
  }
  return samples;
}

describe('SAGA_METRICS_ADDRESS', () => {
  it('is off when unset and refuses what is not host:port', () => {
    expect(metricsAddress({})).toBeUndefined();
    expect(telemetryOptions(undefined)).toBeUndefined();
    expect(metricsAddress({ SAGA_METRICS_ADDRESS: '0.0.0.0:9464' })).toBe('0.0.0.0:9464');
    for (const bad of ['9464', 'localhost', 'http://x:1', 'host:99999', 'host:0']) {
      expect(() => metricsAddress({ SAGA_METRICS_ADDRESS: bad })).toThrow(ConfigError);
    }
  });
});

describe('the worker metrics endpoint', () => {
  it('counts a completed, a compensated and a compensation-failed order by outcome, step and compensation', async () => {
    const before = await scrape();
    const t = (s: Sample[], name: string, match: Record<string, string> = {}) => total(s, name, { workflowType: 'orderSaga', ...match }) - total(before, name, { workflowType: 'orderSaga', ...match });

    // Completed.
    await (await startOrder(env.client, order('US'), { taskQueue })).result();
    // Compensated: no carrier delivers to Antarctica, so the shipment fails after the capture.
    const compensated = await startOrder(env.client, order('AQ'), { taskQueue });
    await expect(compensated.result()).rejects.toThrow();
    // Compensation failed: the refund keeps failing until its retry budget (about a day) is spent.
    services.faults.set('payments', { failOperations: ['refund'] });
    const stuck = await startOrder(env.client, order('AQ'), { taskQueue });
    try {
      await env.sleep('3 days');
      for (let i = 0; i < 600 && (await stuck.query(sagaStateQuery)).status !== SagaStatus.COMPENSATION_FAILED; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await stuck.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATION_FAILED);
    } finally {
      services.faults.set('payments', undefined);
    }
    // The operator repairs it.
    expect((await stuck.executeUpdate(retryCompensationUpdate)).status).toBe(SagaStatus.COMPENSATED);
    await expect(stuck.result()).rejects.toThrow();

    const s = await scrapeUntil((x) => t(x, 'saga_operator_resolutions') >= 1);
    expect(t(s, 'saga_started')).toBe(3);
    expect(t(s, 'saga_outcomes', { status: 'COMPLETED' })).toBe(1);
    expect(t(s, 'saga_outcomes', { status: 'COMPENSATED' })).toBe(2);
    expect(t(s, 'saga_outcomes', { status: 'COMPENSATION_FAILED' })).toBe(1);
    expect(t(s, 'saga_outcomes', { status: 'CANCELLED' })).toBe(0);
    expect(t(s, 'saga_step_failures', { step: 'createShipment' })).toBe(2);
    expect(t(s, 'saga_step_failures')).toBe(2);
    expect(t(s, 'saga_step_failures', { failure_type: 'Undeliverable' })).toBe(2);
    expect(t(s, 'saga_compensations', { step: 'capturePayment', outcome: 'completed' })).toBe(2);
    expect(t(s, 'saga_compensations', { step: 'capturePayment', outcome: 'failed' })).toBe(1);
    expect(t(s, 'saga_compensations', { outcome: 'failed' })).toBe(1);
    expect(t(s, 'saga_compensations', { step: 'reserveStock', outcome: 'completed' })).toBe(2);
    expect(t(s, 'saga_operator_waits')).toBe(1);
    expect(t(s, 'saga_operator_resolutions', { action: 'retry' })).toBe(1);
    // Histograms: one duration per outcome reached, and the repaired refund succeeded at attempt 2.
    expect(t(s, 'saga_duration_count')).toBe(4);
    expect(t(s, 'saga_compensation_attempts_count', { step: 'capturePayment' })).toBe(2);
    expect(t(s, 'saga_compensation_attempts_sum', { step: 'capturePayment' })).toBe(3);
    expect(t(s, 'saga_compensation_attempts_bucket', { step: 'capturePayment', le: '1' })).toBe(1);
    // Unwinding the repaired order took the day of retries: its duration is in the top bucket.
    expect(t(s, 'saga_compensation_duration_count', { outcome: 'failed' })).toBe(1);
    // No label carries an id.
    for (const sample of s.filter((x) => x.name.startsWith('saga_'))) {
      expect(Object.values(sample.labels).join(' ')).not.toMatch(/metrics-\d/);
    }
    // Every metric the alert rules and the dashboard of deploy/ name is one this worker exports.
    const deployed = ['prometheus/saga-alerts.yml', 'grafana/dashboards/sagas.json'].map((f) => readFileSync(join(__dirname, '..', 'deploy', f), 'utf8')).join('\n');
    const exported = new Set(s.map((x) => x.name));
    const named = new Set([...deployed.matchAll(/\b(?:saga|temporal)_[a-z_]+/g)].map((m) => m[0]));
    expect(named.size).toBeGreaterThan(8);
    for (const name of named) expect(exported, name).toContain(name);
    // The SDK's own worker metrics share the endpoint.
    expect(s.some((x) => x.name.startsWith('temporal_workflow_completed') || x.name.startsWith('temporal_workflow_task'))).toBe(true);
  });
});
