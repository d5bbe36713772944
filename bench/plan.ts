// What a benchmark run does: the plans (full and quick), the worker settings the tuning section
// compares, and the names of the workflows and activity kinds it runs.

import type { WorkerOptions } from '@temporalio/worker';

/** The workflow types the benchmark starts. */
export type BenchWorkflow = 'orderSaga' | 'plainOrder' | 'stepsSaga' | 'stepsPlain';


/** Which kind of activity the N-step workflows use. */
export type ActivityKind = 'regular' | 'local';

/** A worker configuration the tuning section compares. */
export interface TuningVariant {
  /** What differs from the default, in words. */
  description: string;
  /** Worker options laid over the defaults of `createSagaWorker`. */
  options: Partial<WorkerOptions>;
}

/** The worker settings the tuning section can compare, by name. `default` is what `createSagaWorker` does today. */
export const tuningVariants: Record<string, TuningVariant> = {
  default: { description: 'createSagaWorker defaults: 40 workflow tasks, 200 activities, SDK cache and pollers', options: {} },
  'no-sticky': {
    description: 'maxCachedWorkflows 0: no workflow cache, hence no sticky queue; every task replays the history',
    options: { maxCachedWorkflows: 0 },
  },
  'wft-10': { description: 'maxConcurrentWorkflowTaskExecutions 10', options: { maxConcurrentWorkflowTaskExecutions: 10 } },
  'wft-100': {
    description: 'maxConcurrentWorkflowTaskExecutions 100 with 50 workflow pollers',
    options: { maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentWorkflowTaskPolls: 50 },
  },
  'no-reuse-v8': {
    description: 'reuseV8Context false: a V8 context of its own for every cached workflow instead of one shared context',
    options: { reuseV8Context: false },
  },
  'autoscale-pollers': {
    description: 'autoscaling workflow and activity task pollers',
    options: { workflowTaskPollerBehavior: { type: 'autoscaling' }, activityTaskPollerBehavior: { type: 'autoscaling' } },
  },
};

/** What to run. Every count is bounded, and `budgetMs` stops the run (marking it truncated) if the machine is slower than planned. */
export interface BenchPlan {
  /** Name of the plan, reported with the results. */
  name: string;
  /** Repetitions of every measured run; figures are medians over them. */
  repeats: number;
  /** Untimed orders of each kind before measuring, at concurrency 10. */
  warmup: number;
  /** Order load runs: concurrency levels and how many orders each run completes. */
  load: { concurrency: number; count: number }[];
  /** N-step scaling: step counts, activity kinds, sequential samples (concurrency 1) and one concurrent run. */
  steps: { counts: number[]; kinds: ActivityKind[]; sequential: number; concurrency: number; count: number };
  /** Worker tuning on the successful order saga; `null` skips it. */
  tuning: { concurrency: number; count: number; variants: string[] } | null;
  /** Wall-time budget of the whole run; sections still to run when it is spent are skipped. */
  budgetMs: number;
}

/** The default plan: about 10 minutes on 2 cores when the machine is otherwise idle. */
export const fullPlan: BenchPlan = {
  name: 'full',
  repeats: 3,
  warmup: 30,
  load: [
    { concurrency: 1, count: 10 },
    { concurrency: 10, count: 40 },
    { concurrency: 50, count: 100 },
    // One wave: 200 in flight needs at least 200 orders, and each costs about 0.1 s of CPU here.
    { concurrency: 200, count: 200 },
  ],
  steps: { counts: [2, 4, 8, 16], kinds: ['regular', 'local'], sequential: 4, concurrency: 10, count: 20 },
  tuning: { concurrency: 50, count: 100, variants: ['default', 'no-sticky', 'wft-100', 'autoscale-pollers'] },
  budgetMs: 13 * 60_000,
};

/** `--quick`: every section once with small counts and without the 200-in-flight level, about 1 to 2 minutes. */
export const quickPlan: BenchPlan = {
  name: 'quick',
  repeats: 1,
  warmup: 5,
  load: [
    { concurrency: 1, count: 4 },
    { concurrency: 10, count: 20 },
    { concurrency: 50, count: 50 },
  ],
  steps: { counts: [2, 4, 8, 16], kinds: ['regular', 'local'], sequential: 2, concurrency: 10, count: 10 },
  tuning: { concurrency: 20, count: 40, variants: ['default', 'no-sticky'] },
  budgetMs: 4 * 60_000,
};
