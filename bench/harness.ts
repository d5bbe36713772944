// The benchmark itself: runs a plan (bench/plan.ts) against a Temporal server and returns what it
// measured (bench/results.ts). The command line (`bench/main.ts`) and the smoke test both drive it
// through `runBenchmark`, so the harness the test checks is the one that produced the figures.

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { loadWorkerConfig } from '../src/config';
import { FailureType } from '../src/shared/failures';
import { SagaStatus, type SagaFailureDetails } from '@saga-temporal/saga';
import { SagaStatusKey } from '../src/shared/search-attributes';
import { createServices, type Services } from '../src/services';
import { workflowPreloadModules } from '../src/workflow-preload';
import { createBenchActivities } from './activities';
import { historyStats, type HistoryStats } from './history';
import { orderInput, type OrderOutcome } from './orders';
import { closedLoop, processCpuMs, ResourceMeter, within, type ResourceUse } from './load';
import { median, round, summarizeLatencies } from './stats';
import type { orderSaga, plainOrder, stepsPlain, stepsSaga } from './workflows';
import { fullPlan, tuningVariants, type ActivityKind, type BenchPlan } from './plan';
import type { BenchResults, CellMedians, LoadCell, OverheadRow, RunStats, StepsFigures, StepsRow, TuningRow } from './results';

export * from './plan';
export * from './results';
export type { OrderOutcome } from './orders';

/** Where the benchmark runs and what it may use. */
export interface BenchOptions {
  /** Connection of the benchmark's workers. */
  connection: NativeConnection;
  /** Client that starts the workflows. */
  client: Client;
  /** @default "default" */
  namespace?: string;
  /** @default {@link fullPlan} */
  plan?: BenchPlan;
  /** Prebuilt bundle of `bench/workflows.ts`. @default bundled at start */
  workflowBundle?: { code: string };
  /** Database of the services. @default a SQLite file in a fresh temporary folder, removed afterwards */
  databaseUrl?: string;
  /** Address reported with the results. */
  serverAddress: string;
  /** Pid (or pids, for a server of several processes) of a local server whose CPU time is measured. @default not measured */
  serverPid?: number | readonly number[];
  /** What the server is, for the report. @default "external" */
  topology?: 'dev-server' | 'cluster' | 'external';
  /** Connections of further saga workers polling each task queue beside the first, all in this process (one connection each: a connection takes one worker per task queue). @default none */
  moreWorkerConnections?: readonly NativeConnection[];
  /** Whether the benchmark started the server itself. @default false */
  startedServer?: boolean;
  /** Receives progress lines. @default none */
  log?: (line: string) => void;
  /** Per-workflow limit on waiting for a result, in ms. @default 120_000 */
  resultTimeoutMs?: number;
}

const quietBundler = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/** Bundles `bench/workflows.ts` (the order saga included) for the benchmark's workers. */
export async function benchBundle(): Promise<{ code: string }> {
  const { code } = await bundleWorkflowCode({ workflowsPath: resolve(__dirname, 'workflows.ts'), preloadModules: [...workflowPreloadModules], logger: quietBundler });
  return { code };
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function cellMedians(runs: readonly RunStats[]): CellMedians {
  const m: CellMedians = {
    throughput: round(median(runs.map((r) => r.throughput))),
    p50: round(median(runs.map((r) => r.latencyMs.p50)), 1),
    p95: round(median(runs.map((r) => r.latencyMs.p95)), 1),
    p99: round(median(runs.map((r) => r.latencyMs.p99)), 1),
    cpuMsPerWorkflow: round(median(runs.map((r) => r.cpuMsPerWorkflow))),
    peakRssMb: round(median(runs.map((r) => r.peakRssMb)), 1),
  };
  const server = runs.flatMap((r) => (r.serverCpuMsPerWorkflow === undefined ? [] : [r.serverCpuMsPerWorkflow]));
  if (server.length > 0) m.serverCpuMsPerWorkflow = round(median(server));
  return m;
}

/** Runs the benchmark plan and returns what it measured. */
export async function runBenchmark(options: BenchOptions): Promise<BenchResults> {
  const plan = options.plan ?? fullPlan;
  const log = options.log ?? (() => undefined);
  const { client } = options;
  const namespace = options.namespace ?? 'default';
  const resultTimeoutMs = options.resultTimeoutMs ?? 120_000;
  const t0 = performance.now();
  const deadline = t0 + plan.budgetMs;
  const startedAt = new Date().toISOString();
  const loadAvgStart = loadavg().map((l) => round(l));
  const cpuStart = process.cpuUsage();
  const serverCpuStart = options.serverPid === undefined ? undefined : processCpuMs(options.serverPid);
  let truncated = false;
  const outOfTime = (): boolean => {
    if (performance.now() > deadline) truncated = true;
    return truncated;
  };

  const tag = `b${Date.now().toString(36)}`;
  let seq = 0;
  const bundle = options.workflowBundle ?? (await benchBundle());
  const tempDir = options.databaseUrl ? undefined : mkdtempSync(join(tmpdir(), 'saga-bench-'));
  const databaseUrl = options.databaseUrl ?? `sqlite:${join(tempDir!, 'services.db')}`;
  const services: Services = await createServices({ databaseUrl, faults: {} });
  const activities = { ...createActivities(services), ...createBenchActivities() };
  const defaults = loadWorkerConfig({ NODE_ENV: 'development' });

  async function withWorker<T>(taskQueue: string, overrides: Partial<WorkerOptions>, fn: () => Promise<T>): Promise<T> {
    const workers = await Promise.all(
      [options.connection, ...(options.moreWorkerConnections ?? [])].map((connection) =>
        Worker.create({
          connection,
          namespace,
          taskQueue,
          activities,
          workflowBundle: bundle,
          maxConcurrentActivityTaskExecutions: defaults.maxConcurrentActivities,
          maxConcurrentWorkflowTaskExecutions: defaults.maxConcurrentWorkflowTasks,
          ...overrides,
        }),
      ),
    );
    const running = workers.map((worker) => worker.run());
    try {
      return await fn();
    } finally {
      for (const worker of workers) worker.shutdown();
      await Promise.all(running);
    }
  }

  async function runOrder(taskQueue: string, workflow: 'orderSaga' | 'plainOrder', outcome: OrderOutcome): Promise<string> {
    const orderId = `${tag}-${++seq}`;
    const workflowId = `bench-${workflow}-${orderId}`;
    const handle: WorkflowHandle<typeof orderSaga | typeof plainOrder> = await client.workflow.start(workflow, {
      taskQueue,
      workflowId,
      args: [orderInput(orderId, outcome)],
      // As the app's starters do: the saga is RUNNING from its start request (see src/sagas.ts).
      ...(workflow === 'orderSaga' ? { typedSearchAttributes: [{ key: SagaStatusKey, value: SagaStatus.RUNNING }] } : {}),
    });
    const settled = await within(
      handle.result().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      resultTimeoutMs,
      workflowId,
    );
    if (outcome === 'completed') {
      if (!settled.ok) throw new Error(`${workflowId} failed: ${String(settled.error)}`);
      if (settled.value.status !== 'COMPLETED' || !settled.value.confirmationSent) throw new Error(`${workflowId} did not complete fully`);
    } else {
      if (settled.ok) throw new Error(`${workflowId} completed but was expected to compensate`);
      const cause = settled.error instanceof WorkflowFailedError ? settled.error.cause : undefined;
      if (!(cause instanceof ApplicationFailure) || cause.type !== FailureType.Undeliverable) throw new Error(`${workflowId} failed unexpectedly: ${String(settled.error)}`);
      if (workflow === 'orderSaga' && (cause.details?.[0] as SagaFailureDetails | undefined)?.status !== 'COMPENSATED') {
        throw new Error(`${workflowId} ended without compensating everything`);
      }
    }
    return workflowId;
  }

  async function runSteps(taskQueue: string, workflow: 'stepsSaga' | 'stepsPlain', steps: number, kind: ActivityKind): Promise<string> {
    const workflowId = `bench-${workflow}-${tag}-${++seq}`;
    const handle: WorkflowHandle<typeof stepsSaga | typeof stepsPlain> = await client.workflow.start(workflow, {
      taskQueue,
      workflowId,
      args: [{ steps, local: kind === 'local' }],
    });
    const sum = await within(handle.result(), resultTimeoutMs, workflowId);
    if (sum !== (steps * (steps - 1)) / 2) throw new Error(`${workflowId} returned ${sum}`);
    return workflowId;
  }

  // One more run on its own, so the history measured is that of an uncontended workflow.
  const probe = async (run: () => Promise<string>): Promise<HistoryStats> => historyStats(client.workflow.getHandle(await run()));

  async function measure(count: number, concurrency: number, job: () => Promise<unknown>): Promise<RunStats> {
    const meter = new ResourceMeter(options.serverPid);
    meter.start();
    const loop = await closedLoop(count, concurrency, job);
    const use: ResourceUse = meter.stop();
    const done = loop.latencies.length;
    const stats: RunStats = {
      count,
      errors: loop.errors.length,
      elapsedMs: round(loop.elapsedMs, 1),
      throughput: round((done * 1000) / loop.elapsedMs),
      latencyMs: (({ p50, p95, p99, max }) => ({ p50: round(p50, 1), p95: round(p95, 1), p99: round(p99, 1), max: round(max, 1) }))(summarizeLatencies(loop.latencies)),
      cpuMsPerWorkflow: round(use.cpuMs / count),
      peakRssMb: round(use.peakRssMb, 1),
      loadAvg1: round(loadavg()[0] ?? 0),
    };
    if (use.serverCpuMs !== undefined) stats.serverCpuMsPerWorkflow = round(use.serverCpuMs / count);
    if (loop.errors[0] !== undefined) stats.firstError = loop.errors[0];
    return stats;
  }

  const load: LoadCell[] = [];
  const overhead: OverheadRow[] = [];
  const stepsRows: StepsRow[] = [];
  const tuning: TuningRow[] = [];
  const orderHistories: BenchResults['orderHistories'] = [];
  const orderKinds: { workflow: 'orderSaga' | 'plainOrder'; outcome: OrderOutcome }[] = [
    { workflow: 'orderSaga', outcome: 'completed' },
    { workflow: 'plainOrder', outcome: 'completed' },
    { workflow: 'orderSaga', outcome: 'compensated' },
    { workflow: 'plainOrder', outcome: 'compensated' },
  ];

  try {
    const mainQueue = `${tag}-main`;
    await withWorker(mainQueue, {}, async () => {
      // Warm-up: the JIT, the workflow cache, SQLite's statement cache and the server's queues.
      log(`warming up (${plan.warmup} orders of each kind)`);
      for (const { workflow, outcome } of orderKinds) {
        const warm = await closedLoop(plan.warmup, 10, () => runOrder(mainQueue, workflow, outcome));
        if (warm.errors.length > 0) throw new Error(`Warm-up of ${workflow} (${outcome}) failed: ${warm.errors[0]}`);
      }
      for (const kind of plan.steps.kinds) {
        for (const workflow of ['stepsSaga', 'stepsPlain'] as const) await closedLoop(Math.min(plan.warmup, 10), 5, () => runSteps(mainQueue, workflow, 4, kind));
      }

      // Order load: every concurrency level in every repeat, the four kinds back to back.
      const cells = new Map<string, LoadCell>();
      for (let r = 0; r < plan.repeats && !outOfTime(); r++) {
        for (const { concurrency, count } of plan.load) {
          if (outOfTime()) break;
          for (const { workflow, outcome } of rotate(orderKinds, r)) {
            const key = `${workflow}/${outcome}/${concurrency}`;
            const cell = cells.get(key) ?? { workflow, outcome, concurrency, count, runs: [], median: cellMedians([]) };
            cells.set(key, cell);
            const run = await measure(count, concurrency, () => runOrder(mainQueue, workflow, outcome));
            cell.runs.push(run);
            log(`load r${r + 1} ${workflow} ${outcome} c=${concurrency}: ${run.throughput}/s p50 ${run.latencyMs.p50} ms${run.errors ? `, ${run.errors} errors` : ''}`);
          }
        }
      }
      for (const cell of cells.values()) {
        cell.median = cellMedians(cell.runs);
        load.push(cell);
      }
      for (const { workflow, outcome } of orderKinds) {
        orderHistories.push({ workflow, outcome, history: await probe(() => runOrder(mainQueue, workflow, outcome)) });
      }
      overhead.push(...overheadRows(cells, plan.load));

      // Steps scaling: sequential runs for the per-saga time, a concurrent run for throughput and CPU.
      for (const kind of plan.steps.kinds) {
        for (const steps of plan.steps.counts) {
          if (outOfTime()) break;
          const runs = { stepsSaga: { seq: [] as RunStats[], conc: [] as RunStats[] }, stepsPlain: { seq: [] as RunStats[], conc: [] as RunStats[] } };
          for (let r = 0; r < plan.repeats; r++) {
            for (const workflow of rotate(['stepsSaga', 'stepsPlain'] as const, r)) {
              runs[workflow].seq.push(await measure(plan.steps.sequential, 1, () => runSteps(mainQueue, workflow, steps, kind)));
              runs[workflow].conc.push(await measure(plan.steps.count, plan.steps.concurrency, () => runSteps(mainQueue, workflow, steps, kind)));
            }
          }
          const figures = async (workflow: 'stepsSaga' | 'stepsPlain'): Promise<StepsFigures> => ({
            latencyP50Ms: round(median(runs[workflow].seq.map((r) => r.latencyMs.p50)), 1),
            throughput: round(median(runs[workflow].conc.map((r) => r.throughput))),
            cpuMsPerWorkflow: round(median(runs[workflow].conc.map((r) => r.cpuMsPerWorkflow))),
            history: await probe(() => runSteps(mainQueue, workflow, steps, kind)),
          });
          const ratio = (pick: (r: RunStats) => number, set: 'seq' | 'conc'): number =>
            round(median(runs.stepsSaga[set].map((s, i) => pick(s) / pick(runs.stepsPlain[set][i]!))), 3);
          const row: StepsRow = {
            steps,
            kind,
            saga: await figures('stepsSaga'),
            plain: await figures('stepsPlain'),
            ratio: { latencyP50: ratio((r) => r.latencyMs.p50, 'seq'), throughput: ratio((r) => r.throughput, 'conc'), cpu: ratio((r) => r.cpuMsPerWorkflow, 'conc') },
          };
          stepsRows.push(row);
          log(`steps ${steps} ${kind}: saga ${row.saga.latencyP50Ms} ms / plain ${row.plain.latencyP50Ms} ms, ${row.saga.history.events} / ${row.plain.history.events} events`);
        }
      }
    });

    // Worker tuning: a fresh worker (and task queue) per variant and repeat, so no cache carries over.
    if (plan.tuning) {
      const { concurrency, count, variants } = plan.tuning;
      const rows = new Map<string, TuningRow>();
      for (let r = 0; r < plan.repeats && !outOfTime(); r++) {
        for (const name of rotate(variants, r)) {
          if (outOfTime()) break;
          const variant = tuningVariants[name];
          if (!variant) throw new Error(`Unknown tuning variant ${name}; known: ${Object.keys(tuningVariants).join(', ')}`);
          const queue = `${tag}-tune-${name}-${r}`;
          const run = await withWorker(queue, variant.options, async () => {
            await closedLoop(Math.min(plan.warmup, 20), 10, () => runOrder(queue, 'orderSaga', 'completed'));
            return measure(count, concurrency, () => runOrder(queue, 'orderSaga', 'completed'));
          });
          const row = rows.get(name) ?? { variant: name, description: variant.description, runs: [], median: cellMedians([]) };
          rows.set(name, row);
          row.runs.push(run);
          log(`tuning r${r + 1} ${name}: ${run.throughput}/s p50 ${run.latencyMs.p50} ms${run.errors ? `, ${run.errors} errors` : ''}`);
        }
      }
      for (const row of rows.values()) {
        row.median = cellMedians(row.runs);
        tuning.push(row);
      }
    }

    const usage = process.cpuUsage(cpuStart);
    const serverCpuEnd = options.serverPid === undefined ? undefined : processCpuMs(options.serverPid);
    const resources: BenchResults['resources'] = {
      cpuUserS: round(usage.user / 1e6, 1),
      cpuSystemS: round(usage.system / 1e6, 1),
      maxRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
    };
    if (serverCpuStart !== undefined && serverCpuEnd !== undefined) resources.serverCpuS = round((serverCpuEnd - serverCpuStart) / 1000, 1);

    const cpuModel = cpus()[0]?.model ?? 'unknown';
    return {
      schema: 1,
      plan,
      startedAt,
      finishedAt: new Date().toISOString(),
      durationS: round((performance.now() - t0) / 1000, 1),
      truncated,
      machine: {
        cpus: cpus().length,
        cpuModel,
        memoryGb: round(totalmem() / 2 ** 30, 1),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        loadAvgStart,
        loadAvgEnd: loadavg().map((l) => round(l)),
      },
      server: { address: options.serverAddress, startedByBenchmark: options.startedServer ?? false, topology: options.topology ?? 'external', sagaWorkers: 1 + (options.moreWorkerConnections?.length ?? 0) },
      database: databaseUrl.startsWith('sqlite:') ? (databaseUrl === 'sqlite::memory:' ? 'sqlite (memory)' : 'sqlite (file, WAL)') : 'postgres',
      load,
      overhead,
      steps: stepsRows,
      tuning,
      recommendation: recommend(tuning),
      orderHistories,
      resources,
    };
  } finally {
    await services.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Saga against plain for every outcome and concurrency level: per-repeat ratios, median over the repeats. */
function overheadRows(cells: ReadonlyMap<string, LoadCell>, levels: BenchPlan['load']): OverheadRow[] {
  const rows: OverheadRow[] = [];
  for (const outcome of ['completed', 'compensated'] as const) {
    for (const { concurrency } of levels) {
      const saga = cells.get(`orderSaga/${outcome}/${concurrency}`);
      const plain = cells.get(`plainOrder/${outcome}/${concurrency}`);
      const n = Math.min(saga?.runs.length ?? 0, plain?.runs.length ?? 0);
      if (!saga || !plain || n === 0) continue;
      const pairs = Array.from({ length: n }, (_, i) => [saga.runs[i]!, plain.runs[i]!] as const);
      const throughputRatio = median(pairs.map(([s, p]) => s.throughput / p.throughput));
      const row: OverheadRow = {
        outcome,
        concurrency,
        throughputRatio: round(throughputRatio, 3),
        latencyP50Ratio: round(median(pairs.map(([s, p]) => s.latencyMs.p50 / p.latencyMs.p50)), 3),
        cpuRatio: round(median(pairs.map(([s, p]) => s.cpuMsPerWorkflow / p.cpuMsPerWorkflow)), 3),
        throughputOverheadPct: round((1 / throughputRatio - 1) * 100, 1),
      };
      const total = (r: RunStats) => (r.serverCpuMsPerWorkflow === undefined ? undefined : r.cpuMsPerWorkflow + r.serverCpuMsPerWorkflow);
      const totals = pairs.flatMap(([s, p]) => {
        const [ts, tp] = [total(s), total(p)];
        return ts === undefined || tp === undefined ? [] : [ts / tp];
      });
      if (totals.length > 0) row.totalCpuRatio = round(median(totals), 3);
      rows.push(row);
    }
  }
  return rows;
}

// Machines are noisy: a variant must beat the default by more than this to be worth a change.
const NOISE = 0.05;

function recommend(rows: readonly TuningRow[]): BenchResults['recommendation'] {
  const clean = rows.filter((row) => row.runs.every((run) => run.errors === 0));
  const best = [...clean].sort((a, b) => b.median.throughput - a.median.throughput)[0];
  const base = rows.find((row) => row.variant === 'default');
  if (!best || !base) return null;
  const vsDefault = best.median.throughput / base.median.throughput;
  return { variant: best.variant, throughputVsDefault: round(vsDefault, 3), beatsDefault: best.variant !== 'default' && vsDefault > 1 + NOISE };
}
