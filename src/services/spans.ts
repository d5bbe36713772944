// Traces of the service operations: each operation that faults can reach runs in a span of its own, a
// child of the calling activity's, named `<service>.<operation>`, with the barrier's decision as an
// attribute. A wrapper, like faults, applied only when tracing is on.
import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { BarrierOutcome } from '@saga-temporal/barrier';
import { wrapOperations, type InjectedFault, type ServiceName } from './faults';

/** The attributes the service spans carry. Values are bounded names, never ids nor personal data. */
export const serviceSpanAttributes = {
  service: 'saga.service',
  operation: 'saga.operation',
  barrierPhase: 'saga.barrier.phase',
  barrierOutcome: 'saga.barrier.outcome',
  failureType: 'saga.failure_type',
  injectedFault: 'saga.injected_fault',
} as const;

/** The failure's type (an `ApplicationFailure`'s `type`, else the error's name): a span's status names no message, which may hold personal data. */
export function failureType(err: unknown): string {
  const type = (err as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && type) return type;
  return err instanceof Error ? err.name : 'Error';
}

/**
 * Returns `service` with each of its operations run in a span of `tracer`; the span ends with the
 * operation, in error status with the failure's type when it throws. Other members pass through.
 */
export function withSpans<T extends object>(service: ServiceName, target: T, tracer: Tracer): T {
  return wrapOperations(service, target, (operation, call) =>
    tracer.startActiveSpan(`${service}.${operation}`, { attributes: { [serviceSpanAttributes.service]: service, [serviceSpanAttributes.operation]: operation } }, async (span) => {
      try {
        return await call();
      } catch (err) {
        const type = failureType(err);
        span.setAttribute(serviceSpanAttributes.failureType, type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: type });
        throw err;
      } finally {
        span.end();
      }
    }),
  );
}

/** Puts the barrier's decision on the active span: the service operation's, when {@link withSpans} wraps the service. */
export function barrierOutcomeOnSpan(outcome: BarrierOutcome): void {
  trace.getActiveSpan()?.setAttributes({ [serviceSpanAttributes.barrierPhase]: outcome.phase, [serviceSpanAttributes.barrierOutcome]: outcome.outcome });
}

/** Puts an injected fault on the active span. */
export function injectedFaultOnSpan(fault: InjectedFault): void {
  trace.getActiveSpan()?.setAttribute(serviceSpanAttributes.injectedFault, fault.fault);
}
