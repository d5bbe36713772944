// What a benchmark run measured, as written to results-<timestamp>.json and read by the report.

import type { HistoryStats } from './history';
import type { OrderOutcome } from './orders';
import type { ActivityKind, BenchPlan } from './plan';
import type { LatencySummary } from './stats';

/** One measured run. */
export interface RunStats {
  /** Workflows started. */
  count: number;
  /** Workflows that failed, timed out or ended otherwise than expected. */
  errors: number;
  /** First error message, to diagnose a run with errors. */
  firstError?: string;
  elapsedMs: number;
  /** Workflows that ended as expected, per second of wall time. */
  throughput: number;
  /** End-to-end latency, from the start call to the result. */
  latencyMs: LatencySummary;
  /** CPU time of the benchmark process (worker and client) per workflow, in ms. */
  cpuMsPerWorkflow: number;
  /** CPU time of the Temporal server per workflow, in ms, when it is a local process. */
  serverCpuMsPerWorkflow?: number;
  /** Highest RSS of the benchmark process during the run, in MiB. */
  peakRssMb: number;
  /** One-minute load average when the run ended. */
  loadAvg1: number;
}

/** Medians over the repeats of a cell. */
export interface CellMedians {
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  cpuMsPerWorkflow: number;
  serverCpuMsPerWorkflow?: number;
  peakRssMb: number;
}

/** Order load at one concurrency, for one workflow and outcome. */
export interface LoadCell {
  workflow: 'orderSaga' | 'plainOrder';
  outcome: OrderOutcome;
  concurrency: number;
  count: number;
  runs: RunStats[];
  median: CellMedians;
}

/** The saga layer's cost at one concurrency and outcome: saga divided by plain, measured in the same repeat, median over repeats. */
export interface OverheadRow {
  outcome: OrderOutcome;
  concurrency: number;
  /** Saga throughput / plain throughput: below 1 means the saga completes fewer per second. */
  throughputRatio: number;
  /** Saga p50 latency / plain p50 latency: above 1 means the saga takes longer. */
  latencyP50Ratio: number;
  /** Saga CPU per workflow / plain CPU per workflow, in the benchmark process. */
  cpuRatio: number;
  /** The same for the benchmark process and the Temporal server together, when the server's CPU is known: on a machine where both share the cores, the best measure of what the layer costs. */
  totalCpuRatio?: number;
  /** The overhead in percent: (plain throughput / saga throughput - 1) * 100. */
  throughputOverheadPct: number;
}

/** One N-step workflow's figures. */
export interface StepsFigures {
  /** Median over repeats of the p50 latency of sequential runs (concurrency 1), in ms. */
  latencyP50Ms: number;
  /** Median throughput of the concurrent run. */
  throughput: number;
  /** Median CPU of the benchmark process per workflow in the concurrent run, in ms. */
  cpuMsPerWorkflow: number;
  history: HistoryStats;
}

/** The saga and plain N-step workflows for one step count and activity kind. */
export interface StepsRow {
  steps: number;
  kind: ActivityKind;
  saga: StepsFigures;
  plain: StepsFigures;
  /** Saga / plain, median of the per-repeat ratios. */
  ratio: { latencyP50: number; throughput: number; cpu: number };
}

/** One worker configuration's figures. */
export interface TuningRow {
  variant: string;
  description: string;
  runs: RunStats[];
  median: CellMedians;
}

/** Everything one benchmark run measured; written as JSON. */
export interface BenchResults {
  /** Version of this shape. */
  schema: 1;
  plan: BenchPlan;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  /** Whether the budget ran out and later runs were skipped. */
  truncated: boolean;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  server: { address: string; startedByBenchmark: boolean; topology: 'dev-server' | 'cluster' | 'external'; sagaWorkers: number };
  database: string;
  load: LoadCell[];
  overhead: OverheadRow[];
  steps: StepsRow[];
  tuning: TuningRow[];
  /** The tuning variant with the highest median throughput and no errors, and whether it beats the default beyond the noise. */
  recommendation: { variant: string; throughputVsDefault: number; beatsDefault: boolean } | null;
  /** Histories of one order of each workflow and outcome. */
  orderHistories: { workflow: 'orderSaga' | 'plainOrder'; outcome: OrderOutcome; history: HistoryStats }[];
  /** The benchmark process over the whole run. */
  resources: { cpuUserS: number; cpuSystemS: number; maxRssMb: number; serverCpuS?: number };
}
