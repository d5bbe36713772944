// OpenTelemetry traces of the sagas: one trace per saga, from the client's start through the workflow,
// its steps and compensations (activities) to the service operations. Configured by the standard
// OTEL_* variables and off unless they ask for it: then there is no provider, no interceptor and no
// span, and the worker runs exactly as without this file.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, type ReadableSpan, type SpanExporter, type SpanProcessor, type TimedEvent } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { trace, type Tracer } from '@opentelemetry/api';
import type { ClientOptions } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInboundCallsInterceptor, WorkerOptions } from '@temporalio/worker';
import { ConfigError } from './config';
import { failureType, serviceSpanAttributes } from './services/spans';

type Env = Record<string, string | undefined>;

/** Where spans go: `otlp` (OTLP over HTTP, protobuf) or `console` (one line per span on stdout). */
export type TracesExporter = 'otlp' | 'console';

/** The tracing configuration read from `OTEL_*`. */
export interface TracingConfig {
  readonly exporter: TracesExporter;
  /** The OTLP traces URL. @default "http://localhost:4318/v1/traces" */
  readonly otlpTracesUrl: string;
  /** The `service.name` of every span: `OTEL_SERVICE_NAME`, else the process's role. */
  readonly serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`, decoded. @default {} */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/** An http(s) URL, or undefined; a problem is recorded for anything else. The value is not echoed: it may hold credentials. */
function httpUrl(env: Env, variable: string, problems: string[]): string | undefined {
  const raw = env[variable]?.trim();
  if (!raw) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw;
  } catch {
    // Reported below.
  }
  problems.push(`${variable} must be an http:// or https:// URL`);
  return undefined;
}

/** `key1=value1,key2=value2`, values percent-encoded (the OpenTelemetry specification's format). */
function resourceAttributes(env: Env, problems: string[]): Record<string, string> {
  const raw = env.OTEL_RESOURCE_ATTRIBUTES?.trim();
  const attributes: Record<string, string> = {};
  if (!raw) return attributes;
  for (const [i, pair] of raw.split(',').entries()) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at).trim();
    if (at < 1 || !/^[A-Za-z0-9_.-]+$/.test(key)) {
      problems.push(`OTEL_RESOURCE_ATTRIBUTES must be key=value pairs separated by commas (pair ${i + 1} is not)`);
      continue;
    }
    try {
      attributes[key] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      problems.push(`OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not valid percent-encoding`);
    }
  }
  return attributes;
}

/**
 * Reads the tracing configuration from the standard variables; undefined when tracing is off, which
 * it is unless `OTEL_TRACES_EXPORTER` is `otlp` or `console`, or is unset while an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. `none` and
 * `OTEL_SDK_DISABLED=true` turn it off. Throws {@link ConfigError} listing every invalid value.
 *
 * @param serviceName the `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one
 */
export function tracingConfig(env: Env = process.env, serviceName = 'saga-temporal'): TracingConfig | undefined {
  const problems: string[] = [];
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (disabled && disabled !== 'true' && disabled !== 'false') problems.push(`OTEL_SDK_DISABLED must be true or false, got ${JSON.stringify(env.OTEL_SDK_DISABLED)}`);
  const chosen = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (chosen && !['otlp', 'console', 'none'].includes(chosen)) {
    problems.push(`OTEL_TRACES_EXPORTER must be otlp, console or none, got ${JSON.stringify(env.OTEL_TRACES_EXPORTER)}`);
  }
  for (const variable of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = env[variable]?.trim();
    if (protocol && protocol !== 'http/protobuf') problems.push(`${variable} must be http/protobuf (the only protocol this build exports), got ${JSON.stringify(protocol)}`);
  }
  const tracesEndpoint = httpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', problems);
  const endpoint = httpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', problems);
  const attributes = resourceAttributes(env, problems);
  if (problems.length) throw new ConfigError(problems);

  const exporter = chosen || (tracesEndpoint || endpoint ? 'otlp' : 'none');
  if (disabled === 'true' || exporter === 'none') return undefined;
  return {
    exporter: exporter as TracesExporter,
    otlpTracesUrl: tracesEndpoint ?? `${(endpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, '')}/v1/traces`,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || attributes[ATTR_SERVICE_NAME] || serviceName,
    resourceAttributes: attributes,
  };
}

// Semantic-convention names, written out: the constants moved between releases of the package.
const EXCEPTION_EVENT = 'exception';
const EXCEPTION_TYPE = 'exception.type';
const FAILURE_TYPE = serviceSpanAttributes.failureType;

/**
 * `span` as it may leave the process: each exception event keeps only `exception.type`, and an error
 * status names a type, never a message. The Temporal interceptors record the message and the stack of
 * every failed workflow, activity and client call; a message may quote personal data (an address, a
 * name), and spans go to a collector that the payload codec never sees.
 */
export function scrubFailureDetails(span: ReadableSpan): ReadableSpan {
  const exceptionType = (event: TimedEvent) => event.attributes?.[EXCEPTION_TYPE];
  const recorded = span.events.filter((e) => e.name === EXCEPTION_EVENT);
  if (!recorded.length && span.status.message === undefined) return span;
  const events = span.events.map((e) => (e.name === EXCEPTION_EVENT ? { ...e, attributes: exceptionType(e) === undefined ? {} : { [EXCEPTION_TYPE]: exceptionType(e) } } : e));
  // Service and activity spans carry the business failure's type (services/spans.ts and
  // activityFailureTypeOnSpan); the others have the exception's class name (ApplicationFailure, ...).
  const type = span.attributes[FAILURE_TYPE] ?? recorded.map(exceptionType).find((t) => t !== undefined);
  const status = { code: span.status.code, ...(span.status.message === undefined || type === undefined ? {} : { message: String(type) }) };
  // A view, not a copy: every other field (and getter) of the span reads through.
  return new Proxy(span, { get: (target, property) => (property === 'events' ? events : property === 'status' ? status : Reflect.get(target, property, target)) });
}

/** `processor`, handed each ended span through {@link scrubFailureDetails}. */
export function scrubbingProcessor(processor: SpanProcessor): SpanProcessor {
  return {
    onStart: (span, context) => processor.onStart(span, context),
    onEnd: (span) => processor.onEnd(scrubFailureDetails(span)),
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}

/**
 * Puts the failure type of a failed activity (an `ApplicationFailure`'s `type`, such as `MailBounced`)
 * on the active span, the activity's, so that its scrubbed status still says what went wrong.
 */
export const activityFailureTypeOnSpan: ActivityInboundCallsInterceptor = {
  async execute(input, next) {
    try {
      return await next(input);
    } catch (err) {
      trace.getActiveSpan()?.setAttribute(FAILURE_TYPE, failureType(err));
      throw err;
    }
  },
};

/** A running tracer provider, registered as the process's global one. */
export interface Tracing {
  /** The tracer of the app's own spans (the service operations) and of the interceptors. */
  readonly tracer: Tracer;
  readonly resource: Resource;
  /**
   * The provider's span processor (scrubbing failure details, batching, then exporting); the
   * workflows' spans reach it through the worker's `exporter` sink.
   */
  readonly processor: SpanProcessor;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops the provider. */
  shutdown(): Promise<void>;
}

/**
 * Starts a tracer provider for `config` and registers it globally, with the AsyncLocalStorage context
 * manager (a service's span is a child of its activity's) and the W3C trace context propagator. Spans
 * leave with their failures reduced to types ({@link scrubFailureDetails}).
 * `exporter` replaces the configured one (tests pass an in-memory exporter).
 */
export function startTracing(config: TracingConfig, options: { exporter?: SpanExporter } = {}): Tracing {
  const resource = new Resource({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName });
  const exporter = options.exporter ?? (config.exporter === 'otlp' ? new OTLPTraceExporter({ url: config.otlpTracesUrl }) : new ConsoleSpanExporter());
  const processor = scrubbingProcessor(new BatchSpanProcessor(exporter));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  return {
    tracer: provider.getTracer('saga-temporal'),
    resource,
    processor,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

let started: { tracing: Tracing | undefined } | undefined;

/**
 * The process's tracing, started from `OTEL_*` on the first call and the same for every later caller
 * (the worker and the demo's client share it in `npm start`); undefined when the variables leave
 * tracing off. Spans not yet exported are exported before the process exits.
 *
 * @param serviceName the `service.name` unless `OTEL_SERVICE_NAME` names another
 */
export function processTracing(env: Env = process.env, serviceName = 'saga-client'): Tracing | undefined {
  if (!started) {
    const config = tracingConfig(env, serviceName);
    const tracing = config && startTracing(config);
    started = { tracing };
    if (tracing) process.once('beforeExit', () => void tracing.shutdown());
  }
  return started.tracing;
}

/**
 * Options of `new Client(...)` that trace what the client starts (a span whose context travels to the
 * workflow in its headers), from `OTEL_*`: none when tracing is off.
 *
 * @example new Client({ connection, namespace, ...clientTracing(env) })
 */
export function clientTracing(env: Env = process.env): Pick<ClientOptions, 'interceptors'> {
  return tracingClientOptions(processTracing(env, 'saga-client'));
}

/** The client's interceptors for `tracing`; none without it. */
export function tracingClientOptions(tracing: Tracing | undefined): Pick<ClientOptions, 'interceptors'> {
  return tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] } } : {};
}

/**
 * The workflow interceptor modules of tracing, which every workflow bundle the worker may load
 * contains: the worker's own bundling (when tracing is on) and the prebuilt bundle (always, see
 * `scripts/build-bundle.ts`).
 */
export const workflowTracingModules: readonly string[] = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

/**
 * What the worker adds to trace the sagas: the activity interceptors, the workflow interceptor modules
 * for its own bundling, and the `exporter` sink through which the workflows' spans leave the sandbox.
 * With tracing off, nothing, except for a prebuilt bundle (which has the workflow interceptors
 * compiled in): a sink that drops its spans, so that none is reported as unregistered.
 */
export function tracingWorkerOptions(tracing: Tracing | undefined, opts: { prebuiltBundle: boolean }): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing) return opts.prebuiltBundle ? { sinks: { exporter: { export: { fn: () => undefined } } } } : {};
  const interceptorOptions = { tracer: tracing.tracer };
  return {
    interceptors: {
      workflowModules: [...workflowTracingModules],
      // The first is the outermost: the failure type is set inside the activity's span.
      activity: [
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, interceptorOptions), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
        () => ({ inbound: activityFailureTypeOnSpan }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) },
  };
}
