import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from '../../src/config';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { createServices, serviceSpanAttributes, type Services } from '../../src/services';
import { clientTracing, startTracing, tracingClientOptions, tracingConfig, tracingWorkerOptions, type Tracing } from '../../src/tracing';
import { createSagaWorker } from '../../src/worker';
import { buildBundle } from '../../scripts/build-bundle';
import { sampleOrder, UNDELIVERABLE_ADDRESS } from '../../scripts/lib/sample-order';
import { createDevServerEnv, readHistories, uniqueTaskQueue } from '../helpers';
import { sampleRegistration } from '../support/samples';

// Traces of a compensated order through a real worker and dev server, exported to memory: one trace
// from the client's start span through the workflow and its activities to the service operations.
// Also: the OTEL_* configuration, a worker with tracing off, and the recorded histories replayed by
// the prebuilt bundle, which always carries the tracing interceptors.

describe('tracing configuration from OTEL_*', () => {
  it('is off with no variable, with OTEL_TRACES_EXPORTER=none and with OTEL_SDK_DISABLED=true', () => {
    expect(tracingConfig({})).toBeUndefined();
    expect(tracingConfig({ OTEL_SERVICE_NAME: 'x', OTEL_RESOURCE_ATTRIBUTES: 'a=b' })).toBeUndefined();
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBeUndefined();
    expect(tracingConfig({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBeUndefined();
    expect(clientTracing({})).toEqual({});
  });

  it('turns on with an exporter or an OTLP endpoint, with the standard names and defaults', () => {
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: 'otlp' }, 'saga-worker')).toEqual({
      exporter: 'otlp',
      otlpTracesUrl: 'http://localhost:4318/v1/traces',
      serviceName: 'saga-worker',
      resourceAttributes: {},
    });
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toMatchObject({ exporter: 'otlp', otlpTracesUrl: 'http://collector:4318/v1/traces' });
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/traces' })).toMatchObject({ otlpTracesUrl: 'https://b/traces' });
    expect(
      tracingConfig({ OTEL_TRACES_EXPORTER: 'Console', OTEL_SERVICE_NAME: 'sagas-eu', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=staging,team=pay%20ments' }, 'saga-worker'),
    ).toEqual({ exporter: 'console', otlpTracesUrl: 'http://localhost:4318/v1/traces', serviceName: 'sagas-eu', resourceAttributes: { 'deployment.environment': 'staging', team: 'pay ments' } });
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes' })?.serviceName).toBe('from-attributes');
  });

  it('refuses invalid values with a ConfigError naming each variable, without echoing an endpoint', () => {
    const env = {
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://user:secret@collector:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_RESOURCE_ATTRIBUTES: 'novalue',
      OTEL_SDK_DISABLED: 'maybe',
    };
    let error: unknown;
    try {
      tracingConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const variable of Object.keys(env)) expect(problems).toContain(variable);
    expect(problems).not.toContain('secret');
    expect(() => tracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toThrow(ConfigError);
    expect(() => tracingConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_RESOURCE_ATTRIBUTES: 'a=%zz' })).toThrow(ConfigError);
  });
});

let env: TestWorkflowEnvironment;
let dir: string;
let bundlePath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-traces-'));
  // The prebuilt bundle, as `npm run build:bundle` makes it for the Docker image.
  ({ path: bundlePath } = await buildBundle(join(dir, 'workflow-bundle.js')));
  env = await createDevServerEnv();
});

afterAll(async () => {
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The worker's configuration for a task queue of its own on the dev server, with the prebuilt bundle unless `ownBundling`. */
// Unversioned: the workers here run differently built bundles, which would be versions of one
// deployment, and only the first would be current (docs/operations.md, "Deploying with sagas in flight").
function workerConfig(taskQueue: string, ownBundling = false) {
  return loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, SAGA_WORKER_VERSIONING: 'false', ...(ownBundling ? {} : { WORKFLOW_BUNDLE_PATH: bundlePath }) });
}

/** Runs `worker` and stops it again: a worker created and never run keeps its connection. */
async function stop(worker: Worker): Promise<void> {
  const running = worker.run();
  worker.shutdown();
  await running;
}

describe('a worker with no OTEL_* variable', () => {
  it('installs no interceptor and no sink of its own when it bundles the workflows itself', async () => {
    const services = await createServices({ databaseUrl: 'sqlite::memory:' });
    try {
      const worker = await createSagaWorker({ connection: env.nativeConnection, config: workerConfig(uniqueTaskQueue('untraced'), true), services });
      await stop(worker);
      expect(worker.options.interceptors.activity).toEqual([]);
      expect(worker.options.interceptors.workflowModules).toEqual([]);
      expect(Object.keys(worker.options.sinks ?? {})).not.toContain('exporter');
      // The same with the prebuilt bundle, except for the sink that drops the idle interceptors' spans.
      const prebuilt = await createSagaWorker({ connection: env.nativeConnection, config: workerConfig(uniqueTaskQueue('untraced')), services });
      await stop(prebuilt);
      expect(prebuilt.options.interceptors.activity).toEqual([]);
      expect(prebuilt.options.interceptors.workflowModules).toEqual([]);
      expect(Object.keys(prebuilt.options.sinks ?? {})).toContain('exporter');
    } finally {
      await services.close();
    }
  });
});

describe('a traced compensated order', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let services: Services;
  let worker: Worker;
  let running: Promise<void>;
  let spans: ReadableSpan[] = [];
  const orderId = `traced-${Date.now().toString(36)}`;
  const order = sampleOrder(orderId, { shippingAddress: UNDELIVERABLE_ADDRESS });

  beforeAll(async () => {
    const config = tracingConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'saga-test' });
    if (!config) throw new Error('tracing is off');
    tracing = startTracing(config, { exporter });
    services = await createServices({ databaseUrl: `sqlite:${join(dir, 'traced.db')}`, faults: {}, tracer: tracing.tracer });
    const taskQueue = uniqueTaskQueue('traced');
    worker = await createSagaWorker({ connection: env.nativeConnection, config: workerConfig(taskQueue), services, tracing });
    running = worker.run();
    const client = new Client({ connection: env.connection, namespace: 'default', ...tracingClientOptions(tracing) });
    const handle = await startOrder(client, order, { taskQueue });
    await expect(handle.result()).rejects.toThrow();
    // The workflow's spans leave the sandbox through a sink after its last activation: wait for its span.
    for (let i = 0; i < 100 && !exporter.getFinishedSpans().some((s) => s.name === 'RunWorkflow:orderSaga'); i++) {
      await tracing.flush();
      await new Promise((r) => setTimeout(r, 100));
    }
    await tracing.flush();
    spans = exporter.getFinishedSpans();
  });

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await services?.close();
    await tracing?.shutdown();
  });

  const named = (name: string) => spans.filter((s) => s.name === name);
  const one = (name: string) => {
    const found = named(name);
    expect(found, `${name} in ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
    return found[0] as ReadableSpan;
  };
  const parentId = (span: ReadableSpan) => span.parentSpanId;
  /** Whether `ancestor` is on the path from `span` up to its trace's root. */
  const descends = (span: ReadableSpan, ancestor: ReadableSpan) => {
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    for (let at = parentId(span); at !== undefined; at = byId.get(at) && parentId(byId.get(at) as ReadableSpan)) {
      if (at === ancestor.spanContext().spanId) return true;
    }
    return false;
  };

  it('is one trace, from the client start span through the workflow and activities to the services', () => {
    const start = one('StartWorkflow:orderSaga');
    expect(parentId(start)).toBeUndefined();
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([start.spanContext().traceId]));
    const run = one('RunWorkflow:orderSaga');
    expect(descends(run, start)).toBe(true);
    for (const service of ['inventory.reserve', 'payments.authorize', 'payments.capture', 'shipping.create', 'shipping.cancel', 'payments.refund', 'payments.void', 'inventory.release']) {
      expect(descends(one(service), run), service).toBe(true);
    }
  });

  it('runs each compensation as an activity span under the saga workflow span, the service span beneath it', () => {
    const run = one('RunWorkflow:orderSaga');
    for (const [compensation, service] of [
      ['cancelShipment', 'shipping.cancel'],
      ['refundPayment', 'payments.refund'],
      ['voidPayment', 'payments.void'],
      ['releaseStock', 'inventory.release'],
    ] as const) {
      const activity = one(`RunActivity:${compensation}`);
      expect(descends(activity, run), compensation).toBe(true);
      expect(parentId(one(service)), service).toBe(activity.spanContext().spanId);
    }
  });

  it('marks the failing step with error status, in its activity and its service span', () => {
    const step = one('RunActivity:createShipment');
    expect(step.status.code).toBe(SpanStatusCode.ERROR);
    const service = one('shipping.create');
    expect(service.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Undeliverable' });
    expect(service.attributes[serviceSpanAttributes.barrierOutcome]).toBeUndefined();
    expect(one('RunActivity:reserveStock').status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('carries the barrier outcome on the service spans', () => {
    const outcomeOf = (name: string) => one(name).attributes[serviceSpanAttributes.barrierOutcome];
    expect(outcomeOf('inventory.reserve')).toBe('applied');
    expect(outcomeOf('payments.capture')).toBe('applied');
    expect(outcomeOf('payments.refund')).toBe('applied');
    // The shipment never existed: its cancellation had nothing to undo.
    expect(outcomeOf('shipping.cancel')).toBe('nothing_to_undo');
    expect(one('shipping.cancel').attributes[serviceSpanAttributes.barrierPhase]).toBe('compensation');
  });

  it('names the service and nothing personal', () => {
    expect(one('RunWorkflow:orderSaga').resource.attributes['service.name']).toBe('saga-test');
    const text = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })));
    for (const personal of [order.email, order.shippingAddress.name, order.shippingAddress.line1, order.payment.token]) expect(text).not.toContain(personal);
  });

  /** Every failure a span records: its exception events' attributes and its error status. */
  const failuresIn = (traced: ReadableSpan[]) =>
    traced.flatMap((s) => [
      ...s.events.filter((e) => e.name === 'exception').map((e) => ({ span: s.name, exception: e.attributes })),
      ...(s.status.code === SpanStatusCode.ERROR ? [{ span: s.name, status: s.status }] : []),
    ]);

  it('keeps only the failure type of a failed workflow, activity and service call: no message, no stack', () => {
    const failures = failuresIn(spans);
    expect(failures.map((f) => f.span)).toEqual(expect.arrayContaining(['RunWorkflow:orderSaga', 'RunActivity:createShipment', 'shipping.create']));
    for (const failure of failures) {
      if ('exception' in failure) expect(Object.keys(failure.exception ?? {}), failure.span).toEqual(['exception.type']);
      else expect(failure.status.message ?? 'Error', failure.span).toMatch(/^[A-Z][A-Za-z]*$/);
    }
    expect(one('shipping.create').status).toEqual({ code: SpanStatusCode.ERROR, message: 'Undeliverable' });
    expect(one('RunActivity:createShipment').status).toEqual({ code: SpanStatusCode.ERROR, message: 'Undeliverable' });
  });

  describe('a traced registration whose address bounces', () => {
    const registration = sampleRegistration({ email: `ada.lovelace.${Date.now().toString(36)}@bounce.test`, name: 'Ada Lovelace' });
    let traced: ReadableSpan[] = [];

    beforeAll(async () => {
      exporter.reset();
      const client = new Client({ connection: env.connection, namespace: 'default', ...tracingClientOptions(tracing) });
      const handle = await startRegistration(client, registration, { taskQueue: worker.options.taskQueue });
      await expect(handle.result()).rejects.toThrow();
      for (let i = 0; i < 100 && !exporter.getFinishedSpans().some((s) => s.name === 'RunWorkflow:registrationSaga'); i++) {
        await tracing.flush();
        await new Promise((r) => setTimeout(r, 100));
      }
      await tracing.flush();
      traced = exporter.getFinishedSpans();
    });

    it('records its failures by type only, and neither the address nor the name anywhere', () => {
      const failures = failuresIn(traced);
      expect(failures.map((f) => f.span)).toEqual(expect.arrayContaining(['RunWorkflow:registrationSaga', 'RunActivity:sendVerificationEmail']));
      for (const failure of failures) {
        if ('exception' in failure) expect(Object.keys(failure.exception ?? {}), failure.span).toEqual(['exception.type']);
        else expect(failure.status.message ?? 'Error', failure.span).toMatch(/^[A-Z][A-Za-z]*$/);
      }
      expect(traced.find((s) => s.name === 'RunActivity:sendVerificationEmail')?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'MailBounced' });
      const text = JSON.stringify(traced.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })));
      for (const personal of [registration.email, 'Ada Lovelace', 'ada.lovelace']) expect(text).not.toContain(personal);
    });
  });
});

describe('the prebuilt workflow bundle', () => {
  it('carries the tracing interceptors and still replays every recorded history of the sagas', async () => {
    const code = readFileSync(bundlePath, 'utf8');
    expect(code).toContain('OpenTelemetryInboundInterceptor');
    // The orders of today's release (0.3.0 changed the pinned order without a patch: earlier orders replay on their own release's bundle, in the release gate).
    const folders = ['0.3.0/order', '0.1.0/registration'];
    for (const folder of folders) {
      const histories = await readHistories(folder);
      expect(histories.length, folder).toBeGreaterThan(1);
      const replayed: string[] = [];
      for await (const result of Worker.runReplayHistories({ workflowBundle: { code }, ...tracingWorkerOptions(undefined, { prebuiltBundle: true }) }, histories)) {
        expect(result.error, `${folder}/${result.workflowId}: ${String(result.error)}`).toBeUndefined();
        replayed.push(result.workflowId);
      }
      expect(replayed).toEqual(histories.map((h) => h.workflowId));
    }
  });
});
