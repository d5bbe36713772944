import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime, Worker } from '@temporalio/worker';
import { retryCompensationUpdate, SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { createActivities } from '../../src/activities';
import { startOrder } from '../../src/order/start';
import type { OrderInput } from '../../src/order/contract';
import { createServices, type Services } from '../../src/services';
import { ConfigError } from '../../src/config';
import { metricsAddress, serviceMetrics, telemetryOptions } from '../../src/telemetry';
import { createTimeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers';

// The worker's Prometheus endpoint, scraped after real sagas: the saga counters must move exactly as
// the sagas did (a completed, a compensated and a compensation-failed then repaired order), and the
// services' counters as their barrier decided (a duplicate after a lost reply, a compensation with
// nothing to undo) and their faults were injected. The worker is wired as src/worker.ts wires it.

let env: TestWorkflowEnvironment;
let services: Services;
let taskQueue: string;
let worker: Worker;
let running: Promise<void>;
let dataDir: string;
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
  env = await createTimeSkippingEnv();
  taskQueue = uniqueTaskQueue('metrics');
  dataDir = mkdtempSync(join(tmpdir(), 'saga-metrics-'));
  const metrics = serviceMetrics(Runtime.instance().metricMeter, { namespace: 'default', taskQueue });
  services = await createServices({
    databaseUrl: `sqlite:${join(dataDir, 'services.db')}`,
    faults: {},
    observer: {
      barrierOutcome: metrics.barrierOutcome,
      // A lost reply is injected once: the fault turns itself off, so the activity's retry gets through.
      injectedFault(fault) {
        metrics.injectedFault(fault);
        if (fault.fault === 'lost_reply') services.faults.set(fault.service, undefined);
      },
    },
  });
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities(services) });
  running = worker.run();
});

afterAll(async () => {
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await env?.teardown();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
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
    // No label carries an id (the orders' ids are metrics-<n>-…; the task queue, metrics-<uuid>, is the worker's own label).
    for (const sample of s.filter((x) => x.name.startsWith('saga_'))) {
      expect(Object.entries(sample.labels).filter(([key]) => key !== 'taskQueue').map(([, value]) => value).join(' ')).not.toMatch(/metrics-\d/);
    }
    // The services counted each barrier decision and the injected refund failures.
    expect(total(s, 'saga_barrier_outcomes', { service: 'payments', phase: 'compensation', outcome: 'applied' }) - total(before, 'saga_barrier_outcomes', { service: 'payments', phase: 'compensation', outcome: 'applied' })).toBe(4);
    expect(total(s, 'saga_injected_faults', { service: 'payments', operation: 'refund', fault: 'fail' }) - total(before, 'saga_injected_faults', { service: 'payments', operation: 'refund', fault: 'fail' })).toBeGreaterThan(1);
    // Every metric the alert rules and the dashboard of deploy/ name is one this worker exports.
    const deployed = ['prometheus/saga-alerts.yml', 'grafana/dashboards/sagas.json'].map((f) => readFileSync(join(__dirname, '..', '..', 'deploy', f), 'utf8')).join('\n');
    const exported = new Set(s.map((x) => x.name));
    const named = new Set([...deployed.matchAll(/\b(?:saga|temporal)_[a-z_]+/g)].map((m) => m[0]));
    expect(named.size).toBeGreaterThan(8);
    // The broker's gauges are sampled only in broker mode (test/broker/broker-visibility.test.ts reads them).
    for (const name of named) if (!name.startsWith('saga_broker_')) expect(exported, name).toContain(name);
    expect([...named].filter((name) => name.startsWith('saga_broker_')).sort()).toEqual(['saga_broker_consumer_ack_pending', 'saga_broker_consumer_pending', 'saga_broker_consumer_redelivered', 'saga_broker_dead_letters']);
    // The SDK's own worker metrics share the endpoint.
    expect(s.some((x) => x.name.startsWith('temporal_workflow_completed') || x.name.startsWith('temporal_workflow_task'))).toBe(true);
  });
});

describe('the services counters', () => {
  it('count a duplicate for a step retried after its reply was lost, and nothing to undo for a compensation whose step never ran', async () => {
    const before = await scrape();
    const t = (s: Sample[], match: Record<string, string>, name = 'saga_barrier_outcomes') => total(s, name, match) - total(before, name, match);

    // The reservation commits, its reply is lost (once), the activity is retried: the barrier answers from its record.
    services.faults.set('inventory', { lostReplyRate: 1 });
    await (await startOrder(env.client, order('US'), { taskQueue })).result();
    expect(services.faults.current.inventory).toBeUndefined();
    // No carrier delivers to Antarctica: the shipment never exists, so cancelling it has nothing to undo.
    const undeliverable = startOrder(env.client, order('AQ'), { taskQueue });
    await expect((await undeliverable).result()).rejects.toThrow();

    const s = await scrapeUntil((x) => t(x, { outcome: 'nothing_to_undo' }) >= 1 && t(x, { outcome: 'duplicate' }) >= 1);
    expect(t(s, { service: 'inventory', phase: 'forward', outcome: 'duplicate' })).toBe(1);
    expect(t(s, { outcome: 'duplicate' })).toBe(1);
    expect(t(s, { service: 'inventory', operation: 'reserve', fault: 'lost_reply' }, 'saga_injected_faults')).toBe(1);
    expect(t(s, {}, 'saga_injected_faults')).toBe(1);
    expect(t(s, { service: 'shipping', phase: 'compensation', outcome: 'nothing_to_undo' })).toBe(1);
    expect(t(s, { outcome: 'nothing_to_undo' })).toBe(1);
    // First runs: both orders reserved, authorized and captured; one shipped and mailed; the other was undone.
    expect(t(s, { service: 'inventory', phase: 'forward', outcome: 'applied' })).toBe(2);
    expect(t(s, { service: 'payments', phase: 'forward', outcome: 'applied' })).toBe(4);
    expect(t(s, { service: 'shipping', phase: 'forward', outcome: 'applied' })).toBe(1);
    expect(t(s, { service: 'payments', phase: 'compensation', outcome: 'applied' })).toBe(2);
    expect(t(s, { service: 'inventory', phase: 'compensation', outcome: 'applied' })).toBe(1);
    expect(t(s, { outcome: 'refused_late' })).toBe(0);
    // Labelled like the sagas' metrics, and by bounded names only.
    const sample = s.find((x) => x.name === 'saga_barrier_outcomes' && x.labels.outcome === 'duplicate');
    expect(sample?.labels).toMatchObject({ namespace: 'default', taskQueue, service: 'inventory', phase: 'forward' });
    for (const x of s.filter((y) => y.name === 'saga_barrier_outcomes' || y.name === 'saga_injected_faults')) {
      expect(Object.keys(x.labels).sort()).toEqual(x.name === 'saga_barrier_outcomes' ? ['namespace', 'outcome', 'phase', 'service', 'taskQueue'] : ['fault', 'namespace', 'operation', 'service', 'taskQueue']);
    }
  });
});
