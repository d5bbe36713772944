// The structural levers, each an A/B of the order saga in one run: A is the code or setting before
// the lever, B with it. Repeats are interleaved (A and B back to back, the order alternating), each
// figure is the median over the repeats, and each ratio the median of the per-repeat B/A ratios, so
// load from the rest of the machine falls on both sides alike.

import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, WorkflowFailedError, type WorkflowHandle, type WorkflowStartOptions } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { SagaStatus } from '@saga-temporal/saga';
import { createActivities } from '../src/activities';
import { wrapActivities } from '../src/activities/wrap';
import { loadWorkerConfig } from '../src/config';
import { SagaStatusKey } from '../src/shared/search-attributes';
import type { Services } from '../src/services';
import { workflowPreloadModules } from '../src/workflow-preload';
import { createBenchActivities } from './activities';
import { historyStats, type HistoryStats } from './history';
import { closedLoop, processCpuMs, within } from './load';
import { orderInput, type OrderOutcome } from './orders';
import { tuningVariants } from './plan';
import { median, round, summarizeLatencies } from './stats';

/** A lever: what A and B are, and how each side starts its orders. */
interface Lever {
  name: string;
  a: string;
  b: string;
  /** Which bundle each side's worker runs. */
  bundle: { a: 'plain' | 'preload'; b: 'plain' | 'preload' };
  workflow: { a: string; b: string };
  startOptions: { a: Partial<WorkflowStartOptions>; b: Partial<WorkflowStartOptions> };
  /** Whether the client talks over the worker's own connection (needed for eager start). */
  sharedConnection?: boolean;
  /** Which activities each side's worker runs: the product's, or the product's with a heartbeat as each attempt starts. @default product on both sides */
  activities?: { a: ActivitySet; b: ActivitySet };
  /** Worker options of each side, over the product's defaults. */
  worker?: { a?: Partial<WorkerOptions>; b?: Partial<WorkerOptions> };
  /** How every order of the lever ends: completed, or compensated (shipped to an undeliverable address). @default 'completed' */
  outcome?: OrderOutcome;
}

type ActivitySet = 'product' | 'heartbeat-at-start';

const running = { typedSearchAttributes: [{ key: SagaStatusKey, value: SagaStatus.RUNNING }] };

/** A tuning variant of the worker as a lever: the product's settings (A) against the variant's (B). */
function workerSettingLever(variant: string): Record<string, Lever> {
  const { description, options } = tuningVariants[variant]!;
  return {
    [variant]: {
      name: variant,
      a: "the product's worker settings",
      b: description,
      bundle: { a: 'preload', b: 'preload' },
      workflow: { a: 'orderSaga', b: 'orderSaga' },
      startOptions: { a: running, b: running },
      worker: { b: options },
    },
  };
}

/** The levers `--levers` measures, by name. */
export const levers: Record<string, Lever> = {
  'schema-cache': {
    name: 'schema-cache',
    a: 'schemas built by every workflow start',
    b: 'schemas built once per worker thread (zod and the cache preloaded)',
    bundle: { a: 'plain', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSaga' },
    startOptions: { a: running, b: running },
  },
  'start-running': {
    name: 'start-running',
    a: 'SagaStatus=RUNNING upserted by the saga',
    b: 'SagaStatus=RUNNING in the start request',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSaga' },
    startOptions: { a: {}, b: running },
  },
  'eager-start': {
    name: 'eager-start',
    a: 'regular start (client on the worker connection)',
    b: 'requestEagerStart: the first workflow task comes back with the start response',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSaga' },
    startOptions: { a: running, b: { ...running, requestEagerStart: true } },
    sharedConnection: true,
  },
  'heartbeat-at-start': {
    name: 'heartbeat-at-start',
    a: 'each activity heartbeats as it starts, then every second',
    b: 'the first heartbeat after a second (the product)',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSaga' },
    startOptions: { a: running, b: running },
    activities: { a: 'heartbeat-at-start', b: 'product' },
  },
  'eager-activities': {
    name: 'eager-activities',
    a: 'every activity task through a task queue poll (worker asks for no eager activities)',
    b: 'eager activity execution: a step\'s activity task returned with the workflow task completion (the product)',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSaga' },
    startOptions: { a: running, b: running },
    // The server enables it (the dev server and the cluster run with system.enableActivityEagerExecution);
    // a worker that reserves no slot for eager activities turns it off for its own workflows.
    worker: { a: { maxEagerActivityReservationsPerWorkflowTask: 0 } },
  },
  // Worker settings, as levers: interleaved A/B holds up where the tuning section's one-after-the-other
  // variants do not (a loaded machine, the cluster's extra processes).
  ...workerSettingLever('wft-100'),
  ...workerSettingLever('autoscale-pollers'),
  ...workerSettingLever('no-reuse-v8'),
  'local-activities': {
    name: 'local-activities',
    a: 'regular activities (orderSaga)',
    b: 'every step a local activity (orderSagaLocal)',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSagaLocal' },
    startOptions: { a: running, b: running },
  },
  'local-db-steps': {
    name: 'local-db-steps',
    a: 'regular activities (orderSaga)',
    b: 'reserve, authorize, capture, void and release as local activities; shipment, refund, mail and outcome regular (orderSagaLocalDbSteps)',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSaga', b: 'orderSagaLocalDbSteps' },
    startOptions: { a: running, b: running },
  },
  'result-summary': {
    name: 'result-summary',
    a: 'the result carries the five step records (about 1.3 KB, as before 0.3.0)',
    b: 'the result carries the business fields only (the product)',
    bundle: { a: 'preload', b: 'preload' },
    workflow: { a: 'orderSagaWithStepRecords', b: 'orderSaga' },
    startOptions: { a: running, b: running },
  },
  ...sagaLayerLevers('completed'),
  ...sagaLayerLevers('compensated'),
};

/**
 * The saga layer as levers, for orders that end `outcome`: the hand-written workflow (A) against the
 * saga (B), and the saga (A) against the same saga without its `SagaStatus` upserts (B). Named
 * `saga-layer` and `status-upserts`, with `-compensated` for compensated orders.
 */
function sagaLayerLevers(outcome: OrderOutcome): Record<string, Lever> {
  const suffix = outcome === 'completed' ? '' : '-compensated';
  return {
    [`saga-layer${suffix}`]: {
      name: `saga-layer${suffix}`,
      a: 'the same steps, hand-written (plainOrder)',
      b: 'the order saga (the product)',
      bundle: { a: 'preload', b: 'preload' },
      workflow: { a: 'plainOrder', b: 'orderSaga' },
      startOptions: { a: {}, b: running },
      outcome,
    },
    [`status-upserts${suffix}`]: {
      name: `status-upserts${suffix}`,
      a: 'the order saga with its SagaStatus upserts (the product)',
      b: 'the same saga without the search attribute (searchAttribute: false)',
      bundle: { a: 'preload', b: 'preload' },
      workflow: { a: 'orderSaga', b: 'orderSagaWithoutStatus' },
      startOptions: { a: running, b: {} },
      outcome,
    },
  };
}

/** What `--levers` runs. */
export interface LeversPlan {
  repeats: number;
  warmup: number;
  levels: { concurrency: number; count: number }[];
  levers: string[];
  budgetMs: number;
}

/** `--levers`: 5 interleaved repeats at 1 and 50 in flight. */
export const leversPlan: LeversPlan = {
  repeats: 5,
  warmup: 20,
  levels: [
    { concurrency: 1, count: 10 },
    { concurrency: 50, count: 100 },
  ],
  levers: Object.keys(levers),
  budgetMs: 15 * 60_000,
};

/** `--levers --quick`: 2 repeats, small counts. */
export const quickLeversPlan: LeversPlan = {
  repeats: 2,
  warmup: 5,
  levels: [
    { concurrency: 1, count: 4 },
    { concurrency: 50, count: 50 },
  ],
  levers: Object.keys(levers),
  budgetMs: 6 * 60_000,
};

/** One side of one lever at one level: medians over the repeats. */
export interface LeverSide {
  throughput: number;
  p50: number;
  workerCpuMsPerSaga: number;
  serverCpuMsPerSaga?: number;
}

/** One lever at one level. */
export interface LeverRow {
  lever: string;
  a: string;
  b: string;
  concurrency: number;
  repeats: number;
  sideA: LeverSide;
  sideB: LeverSide;
  /** B / A, median of the per-repeat ratios. */
  ratio: { throughput: number; p50: number; workerCpu: number; totalCpu?: number };
  errors: number;
  /** Orders the server started eagerly (its first workflow task returned with the start response), per side, over all repeats. */
  eagerStarts: { a: number; b: number };
  loadAvg1: number[];
  /** The history of one order of each side (the last of the first repeat). */
  history?: { a: HistoryStats; b: HistoryStats };
}

/** Where the levers run. */
export interface LeversOptions {
  plan: LeversPlan;
  connection: NativeConnection;
  client: Client;
  namespace: string;
  services: Services;
  serverPid?: number | readonly number[];
  log: (line: string) => void;
}

interface SideRun {
  throughput: number;
  p50: number;
  workerCpu: number;
  serverCpu?: number;
  errors: number;
}

const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: console.warn, error: console.error };

/** Runs every lever of the plan and returns a row per lever and level. */
export async function runLevers(options: LeversOptions): Promise<{ rows: LeverRow[]; truncated: boolean }> {
  const { plan, log } = options;
  const deadline = Date.now() + plan.budgetMs;
  const workflowsPath = resolve(__dirname, 'workflows.ts');
  const bundles = {
    plain: { code: (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code },
    preload: { code: (await bundleWorkflowCode({ workflowsPath, preloadModules: [...workflowPreloadModules], logger: quiet })).code },
  };
  const product = { ...createActivities(options.services), ...createBenchActivities() };
  const activitySets: Record<ActivitySet, typeof product> = {
    product,
    // What the product did before: one heartbeat as every attempt starts (the SDK sends the first at once).
    'heartbeat-at-start': wrapActivities(product, (_name, fn) => async (input) => {
      Context.current().heartbeat();
      return fn(input);
    }),
  };
  const defaults = loadWorkerConfig({ NODE_ENV: 'development' });
  const sharedClient = new Client({ connection: options.connection, namespace: options.namespace });
  const tag = `l${Date.now().toString(36)}`;
  let seq = 0;
  let truncated = false;
  const rows: LeverRow[] = [];

  for (const name of plan.levers) {
    const lever = levers[name];
    if (!lever) throw new Error(`Unknown lever ${name}; known: ${Object.keys(levers).join(', ')}`);
    const client = lever.sharedConnection ? sharedClient : options.client;
    for (const { concurrency, count } of plan.levels) {
      const runs: { a: SideRun[]; b: SideRun[] } = { a: [], b: [] };
      const loads: number[] = [];
      const eager = { a: 0, b: 0 };
      const histories: Partial<Record<'a' | 'b', HistoryStats>> = {};
      for (let r = 0; r < plan.repeats; r++) {
        if (Date.now() > deadline) {
          truncated = true;
          break;
        }
        for (const side of r % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
          // A fresh worker and task queue per side and repeat: no workflow cache carries over.
          const taskQueue = `${tag}-${name}-${side}-${r}-${concurrency}`;
          const worker = await Worker.create({
            connection: options.connection,
            namespace: options.namespace,
            taskQueue,
            activities: activitySets[lever.activities?.[side] ?? 'product'],
            workflowBundle: bundles[lever.bundle[side]],
            maxConcurrentActivityTaskExecutions: defaults.maxConcurrentActivities,
            maxConcurrentWorkflowTaskExecutions: defaults.maxConcurrentWorkflowTasks,
            ...lever.worker?.[side],
          });
          const done = worker.run();
          try {
            let last: WorkflowHandle | undefined;
            const order = async () => {
              const orderId = `${tag}-${++seq}`;
              const outcome = lever.outcome ?? 'completed';
              const handle = await client.workflow.start(lever.workflow[side], { taskQueue, workflowId: `order-${orderId}`, args: [orderInput(orderId, outcome)], ...lever.startOptions[side] });
              if (handle.eagerlyStarted) eager[side] += 1;
              const settled = await within(
                handle.result().then(
                  (value: unknown) => ({ ok: true as const, value: value as { status?: string } }),
                  (error: unknown) => ({ ok: false as const, error }),
                ),
                120_000,
                handle.workflowId,
              );
              if (outcome === 'completed') {
                if (!settled.ok) throw settled.error;
                if (settled.value.status !== 'COMPLETED') throw new Error(`${orderId} ended ${JSON.stringify(settled.value)}`);
              } else {
                // Compensated: the workflow fails with the shipment's Undeliverable after undoing the rest.
                const cause = !settled.ok && settled.error instanceof WorkflowFailedError ? settled.error.cause : undefined;
                if (!(cause instanceof ApplicationFailure) || cause.type !== 'Undeliverable') throw new Error(`${orderId} did not compensate: ${settled.ok ? JSON.stringify(settled.value) : String(settled.error)}`);
              }
              last = handle;
            };
            await closedLoop(plan.warmup, 10, order);
            const cpu = process.cpuUsage();
            const server = options.serverPid === undefined ? undefined : processCpuMs(options.serverPid);
            const loop = await closedLoop(count, concurrency, order);
            const used = process.cpuUsage(cpu);
            const serverNow = options.serverPid === undefined ? undefined : processCpuMs(options.serverPid);
            const run: SideRun = {
              throughput: (loop.latencies.length * 1000) / loop.elapsedMs,
              p50: summarizeLatencies(loop.latencies).p50,
              workerCpu: (used.user + used.system) / 1000 / count,
              errors: loop.errors.length,
            };
            if (server !== undefined && serverNow !== undefined) run.serverCpu = (serverNow - server) / count;
            runs[side].push(run);
            if (r === 0 && last) histories[side] = await historyStats(last);
            log(`lever ${name} ${side.toUpperCase()} r${r + 1} c=${concurrency}: ${round(run.throughput)}/s p50 ${round(run.p50)} ms, worker ${round(run.workerCpu)} ms CPU/saga${run.errors ? `, ${run.errors} errors: ${loop.errors[0]}` : ''}`);
          } catch (err) {
            if (!(err instanceof WorkflowFailedError)) throw err;
            throw new Error(`lever ${name} ${side}: ${err.message}: ${String(err.cause)}`);
          } finally {
            worker.shutdown();
            await done;
          }
        }
        loads.push(round(loadavg()[0] ?? 0));
      }
      const n = Math.min(runs.a.length, runs.b.length);
      if (n === 0) continue;
      const pairs = Array.from({ length: n }, (_, i) => [runs.a[i]!, runs.b[i]!] as const);
      const side = (list: SideRun[]): LeverSide => {
        const s: LeverSide = {
          throughput: round(median(list.map((x) => x.throughput))),
          p50: round(median(list.map((x) => x.p50)), 1),
          workerCpuMsPerSaga: round(median(list.map((x) => x.workerCpu))),
        };
        const server = list.flatMap((x) => (x.serverCpu === undefined ? [] : [x.serverCpu]));
        if (server.length > 0) s.serverCpuMsPerSaga = round(median(server));
        return s;
      };
      const ratio = (pick: (x: SideRun) => number | undefined) => {
        const values = pairs.flatMap(([a, b]) => {
          const [va, vb] = [pick(a), pick(b)];
          return va === undefined || vb === undefined ? [] : [vb / va];
        });
        return values.length === 0 ? undefined : round(median(values), 3);
      };
      const total = ratio((x) => (x.serverCpu === undefined ? undefined : x.workerCpu + x.serverCpu));
      rows.push({
        lever: name,
        a: lever.a,
        b: lever.b,
        concurrency,
        repeats: n,
        sideA: side(runs.a),
        sideB: side(runs.b),
        ratio: { throughput: ratio((x) => x.throughput)!, p50: ratio((x) => x.p50)!, workerCpu: ratio((x) => x.workerCpu)!, ...(total === undefined ? {} : { totalCpu: total }) },
        errors: [...runs.a, ...runs.b].reduce((k, x) => k + x.errors, 0),
        eagerStarts: eager,
        loadAvg1: loads,
        ...(histories.a && histories.b ? { history: { a: histories.a, b: histories.b } } : {}),
      });
    }
  }
  return { rows, truncated };
}

/** The levers as a Markdown table. */
export function formatLevers(rows: readonly LeverRow[]): string {
  const lines = [
    '| lever | in flight | repeats | A sagas/s | B sagas/s | throughput B/A | p50 B/A | worker CPU A → B ms/saga | worker CPU B/A | worker + server CPU B/A | eager starts A / B | events A → B | payload bytes A → B | load avg | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.lever} | ${r.concurrency} | ${r.repeats} | ${r.sideA.throughput} | ${r.sideB.throughput} | ${r.ratio.throughput} | ${r.ratio.p50} | ${r.sideA.workerCpuMsPerSaga} → ${r.sideB.workerCpuMsPerSaga} | ${r.ratio.workerCpu} | ${r.ratio.totalCpu ?? '–'} | ${r.eagerStarts.a} / ${r.eagerStarts.b} | ${r.history ? `${r.history.a.events} → ${r.history.b.events}` : '–'} | ${r.history ? `${r.history.a.payloadBytes} → ${r.history.b.payloadBytes}` : '–'} | ${Math.min(...r.loadAvg1)}–${Math.max(...r.loadAvg1)} | ${r.errors} |`,
    );
  }
  return lines.join('\n');
}
