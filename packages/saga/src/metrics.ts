// Saga-level metrics through the workflow's `metricMeter`: the SDK drops every value recorded while a
// workflow replays, so a worker restart or a cache eviction never counts a saga twice. The worker adds
// `namespace`, `taskQueue` and `workflowType` to every value; the labels added here are bounded by the
// code (step names, statuses, failure types), never by data (no ids).
//
// Everything is derived from the saga's own state at each status change, so the engine itself stays
// free of metric calls and its pure unit tests need no workflow context.

import type { MetricCounter, MetricHistogram } from '@temporalio/common';
import { metricMeter, workflowInfo } from '@temporalio/workflow';
import { SagaStatus, StepStatus, type SagaState } from './types';

/**
 * Names of the metrics a saga records, as the worker exports them (the SDK's `temporal_` prefix is for
 * its own metrics only). Every value also carries the worker's `namespace`, `taskQueue` and
 * `workflowType` labels.
 */
export const sagaMetricNames = {
  /** Counter: sagas whose body started. */
  started: 'saga_started',
  /** Counter, label `status`: sagas that reached COMPLETED, COMPENSATED, CANCELLED, COMPENSATION_FAILED or FORWARD_FAILED. A repaired saga counts COMPENSATION_FAILED, then COMPENSATED. */
  outcomes: 'saga_outcomes',
  /** Counter, labels `step`, `failure_type`: forward steps that failed (optional steps included). */
  stepFailures: 'saga_step_failures',
  /** Counter, labels `step`, `outcome` (`completed` | `failed`): compensation attempts that ended. */
  compensations: 'saga_compensations',
  /** Histogram, label `step`: the engine attempt (1 = first, more after operator retries) at which a compensation succeeded. */
  compensationAttempts: 'saga_compensation_attempts',
  /** Histogram (milliseconds), label `status`: workflow time from the saga's start to its outcome. */
  duration: 'saga_duration',
  /** Histogram (milliseconds), label `outcome`: workflow time from the first compensation to the end of unwinding. */
  compensationDuration: 'saga_compensation_duration',
  /** Counter: sagas that entered COMPENSATION_FAILED and wait for (or need) an operator. */
  operatorWaits: 'saga_operator_waits',
  /**
   * Counter, label `action` (`retry` | `skip` | `mark_compensated`): sagas an operator's update took out
   * of COMPENSATION_FAILED. A retry (of every failed compensation or of some) that leaves a failure
   * re-enters it, and a skip counts once it resolves the last failure, so waits minus resolutions is
   * the number waiting.
   */
  operatorResolutions: 'saga_operator_resolutions',
} as const;

const settled: ReadonlySet<SagaStatus> = new Set([SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED, SagaStatus.COMPENSATION_FAILED, SagaStatus.FORWARD_FAILED]);

interface Instruments {
  started: MetricCounter;
  outcomes: MetricCounter;
  stepFailures: MetricCounter;
  compensations: MetricCounter;
  compensationAttempts: MetricHistogram;
  duration: MetricHistogram;
  compensationDuration: MetricHistogram;
  operatorWaits: MetricCounter;
  operatorResolutions: MetricCounter;
}

function instruments(): Instruments {
  const n = sagaMetricNames;
  return {
    started: metricMeter.createCounter(n.started, 'sagas', 'Sagas whose body started'),
    outcomes: metricMeter.createCounter(n.outcomes, 'sagas', 'Sagas that reached an outcome, by saga status'),
    stepFailures: metricMeter.createCounter(n.stepFailures, 'steps', 'Forward steps that failed, by step and failure type'),
    compensations: metricMeter.createCounter(n.compensations, 'compensations', 'Compensation attempts that ended, by step and outcome'),
    compensationAttempts: metricMeter.createHistogram(n.compensationAttempts, 'int', 'attempts', 'Engine attempt at which a compensation succeeded'),
    duration: metricMeter.createHistogram(n.duration, 'int', 'ms', 'Saga duration from start to outcome'),
    compensationDuration: metricMeter.createHistogram(n.compensationDuration, 'int', 'ms', 'Time spent unwinding'),
    operatorWaits: metricMeter.createCounter(n.operatorWaits, 'sagas', 'Sagas that entered COMPENSATION_FAILED'),
    operatorResolutions: metricMeter.createCounter(n.operatorResolutions, 'sagas', 'Sagas an operator brought out of COMPENSATION_FAILED'),
  };
}

/** The operator's update that moves a saga out of COMPENSATION_FAILED, as the saga names it. */
export type OperatorResolution = 'retry' | 'skip' | 'markCompensated';

const resolutionLabels: Record<OperatorResolution, string> = { retry: 'retry', skip: 'skip', markCompensated: 'mark_compensated' };

/** Records a saga's metrics from its state at each status change. One per saga. */
export class SagaMetrics {
  private readonly counted = new Set<string>();
  private previous: SagaStatus | undefined;
  private unwindStartedAt: number | undefined;
  private instruments: Instruments | undefined;

  /** Call after every status change with the state as it is then, and the operator's update being applied, if any. */
  onStatus(status: SagaStatus, state: SagaState, resolving?: OperatorResolution): void {
    const m = (this.instruments ??= instruments());
    const now = Date.now();
    if (status === SagaStatus.RUNNING && this.previous === undefined) m.started.add(1);
    if (status === SagaStatus.COMPENSATING && this.unwindStartedAt === undefined) this.unwindStartedAt = now;
    this.countSteps(m, state);
    if (this.previous === SagaStatus.COMPENSATION_FAILED && status !== SagaStatus.COMPENSATION_FAILED) {
      const action = resolving ?? (status === SagaStatus.COMPENSATING ? 'retry' : 'markCompensated');
      m.operatorResolutions.add(1, { action: resolutionLabels[action] });
    }
    if (status !== this.previous && settled.has(status)) {
      m.outcomes.add(1, { status });
      m.duration.record(Math.max(0, now - workflowInfo().startTime.getTime()), { status });
      if (this.unwindStartedAt !== undefined && status !== SagaStatus.COMPLETED) {
        m.compensationDuration.record(Math.max(0, now - this.unwindStartedAt), { outcome: status === SagaStatus.COMPENSATION_FAILED ? 'failed' : 'completed' });
      }
      if (status === SagaStatus.COMPENSATION_FAILED) m.operatorWaits.add(1);
    }
    this.previous = status;
  }

  // Each forward failure once, and each compensation attempt once when it ends: the state only grows,
  // so a key per step (and per compensation attempt) is enough to never count a record twice.
  private countSteps(m: Instruments, state: SagaState): void {
    for (const step of state.steps) {
      if (step.error && this.once(`step:${step.name}`)) {
        m.stepFailures.add(1, { step: step.name, failure_type: step.error.type ?? 'Error' });
      }
      const c = step.compensation;
      if (!c || c.attempt === 0) continue;
      const outcome = c.status === StepStatus.DONE ? 'completed' : c.status === StepStatus.FAILED ? 'failed' : undefined;
      if (outcome && this.once(`compensation:${step.name}:${c.attempt}`)) {
        m.compensations.add(1, { step: step.name, outcome });
        if (outcome === 'completed') m.compensationAttempts.record(c.attempt, { step: step.name });
      }
    }
  }

  private once(key: string): boolean {
    if (this.counted.has(key)) return false;
    this.counted.add(key);
    return true;
  }
}
