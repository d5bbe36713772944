// `--broker`: what the queued shipment step costs against the direct one. The same order saga runs with
// the carrier in process (the shipment activity calls the shipping service: direct) and through the
// broker (the activity publishes a command on NATS JetStream, the carrier books it and replies, the
// worker completes the step by its task token: queued). Repeats are interleaved (direct and queued back
// to back, the order alternating), so the load of the rest of the machine falls on both sides alike.

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { SagaStatus } from '@saga-temporal/saga';
import { createActivities } from '../src/activities';
import { connectBroker } from '../src/broker/connection';
import { startCarrier, type RunningCarrier } from '../src/carrier/carrier';
import { startCarrierLink } from '../src/carrier/link';
import { loadWorkerConfig } from '../src/config';
import { createServices } from '../src/services';
import { SagaStatusKey } from '../src/shared/search-attributes';
import { brokerServices, startBrokerService } from '../tools/cluster/broker-services';
import type { ManagedProcess } from '../tools/cluster/process';
import { startNats } from '../tools/nats';
import { historyStats } from './history';
import { closedLoop, processCpuMs, within } from './load';
import { orderInput } from './orders';
import { median, round, summarizeLatencies } from './stats';

/** Where the carrier runs on the queued side. */
export type CarrierPlacement = 'process' | 'in-process';

/** What `--broker` runs. */
export interface BrokerPlan {
  /** Interleaved repeats of each level; figures are medians over them. */
  repeats: number;
  /** Untimed orders per side and repeat before measuring, at concurrency 10. */
  warmup: number;
  /** Concurrency levels and how many orders each run completes. */
  levels: { concurrency: number; count: number }[];
  /** `process`: the carrier as a child process (`src/carrier/main.ts`), as `npm start` runs it; `in-process`: `startCarrier` in the benchmark's process. */
  carrier: CarrierPlacement;
  /** Wall-time budget; repeats still to run when it is spent are skipped and the run marked truncated. */
  budgetMs: number;
}

/** `--broker`: 5 interleaved repeats at 1 and 20 in flight, the carrier as its own process. */
export const brokerPlan: BrokerPlan = {
  repeats: 5,
  warmup: 10,
  levels: [
    { concurrency: 1, count: 10 },
    { concurrency: 20, count: 60 },
  ],
  carrier: 'process',
  budgetMs: 12 * 60_000,
};

/** `--broker --quick`: 2 repeats, small counts. */
export const quickBrokerPlan: BrokerPlan = {
  repeats: 2,
  warmup: 4,
  levels: [
    { concurrency: 1, count: 5 },
    { concurrency: 20, count: 30 },
  ],
  carrier: 'process',
  budgetMs: 6 * 60_000,
};

/** The two sides. */
export type BrokerSide = 'direct' | 'queued';

/** One side at one level: medians over the repeats. */
export interface BrokerSideFigures {
  throughput: number;
  p50: number;
  p95: number;
  /** CPU of the benchmark's process (worker, client, the link; the carrier too when it runs in process) per order, in ms. */
  workerCpuMsPerOrder: number;
  /** CPU of the carrier's process per order, in ms; absent when the carrier runs in the worker's process. */
  carrierCpuMsPerOrder?: number;
  /** CPU of the nats-server per order, in ms. */
  natsCpuMsPerOrder?: number;
  /** CPU of the Temporal server per order, in ms, when its pid is known. */
  serverCpuMsPerOrder?: number;
  /** History events of one order of the side (the last of each repeat), median. */
  historyEvents: number;
}

/** One level of the comparison. */
export interface BrokerRow {
  concurrency: number;
  count: number;
  repeats: number;
  direct: BrokerSideFigures;
  queued: BrokerSideFigures;
  /** Queued / direct, the median of the per-repeat ratios. */
  ratio: { throughput: number; p50: number; workerCpu: number };
  errors: number;
  loadAvg1: number[];
}

/** What {@link runBrokerComparison} returns. */
export interface BrokerResults {
  plan: BrokerPlan;
  rows: BrokerRow[];
  truncated: boolean;
}

/** Where the comparison runs. */
export interface BrokerBenchOptions {
  plan: BrokerPlan;
  connection: NativeConnection;
  client: Client;
  namespace: string;
  /** The order workflows' bundle (`benchBundle()`). */
  workflowBundle: { code: string };
  /** The Temporal server's process(es), to meter its CPU. @default not metered */
  serverPid?: number | readonly number[];
  log: (line: string) => void;
}

interface SideRun {
  throughput: number;
  p50: number;
  p95: number;
  workerCpu: number;
  carrierCpu?: number;
  natsCpu?: number;
  serverCpu?: number;
  historyEvents: number;
  errors: number;
}

const running = { typedSearchAttributes: [{ key: SagaStatusKey, value: SagaStatus.RUNNING }] };

/** Starts a single-node NATS server, the carrier and the link, runs the plan, and stops them all again. */
export async function runBrokerComparison(options: BrokerBenchOptions): Promise<BrokerResults> {
  const { plan, log } = options;
  if (plan.repeats < 1 || plan.levels.length === 0) throw new Error('The broker plan needs at least one repeat and one level');
  const deadline = Date.now() + plan.budgetMs;
  const dir = mkdtempSync(join(tmpdir(), 'saga-bench-broker-'));
  // A database file, not memory: the carrier's process books in the worker's database.
  const databaseUrl = `sqlite:${join(dir, 'services.db')}`;
  const nats = await startNats({ dataDir: join(dir, 'nats') });
  const services = await createServices({ databaseUrl, faults: {} });
  const connection = await connectBroker({ servers: nats.servers, name: 'saga-bench-worker' });
  let child: ManagedProcess | undefined;
  let inProcess: RunningCarrier | undefined;
  const link = await startCarrierLink({ connection, client: options.client, replicas: 1, shipping: services.shipping });
  try {
    if (plan.carrier === 'process') {
      const carrier = brokerServices.find((s) => s.name === 'carrier')!;
      child = await startBrokerService(carrier, { servers: nats.servers, replicas: 1, databaseUrl, logLevel: 'warn' }, dir);
    } else {
      inProcess = await startCarrier({ brokerConfig: { servers: nats.servers, replicas: 1 }, databaseUrl, logLevel: 'warn' });
    }
    // The activities `createSagaWorker` registers without and with its `carrier` option.
    const activities: Record<BrokerSide, ReturnType<typeof createActivities>> = {
      direct: createActivities(services),
      queued: createActivities({ ...services, shipping: link.shipping }),
    };
    const defaults = loadWorkerConfig({ NODE_ENV: 'development' });
    const natsPid = nats.nodes[0]?.process.pid;
    const tag = `b${Date.now().toString(36)}`;
    let seq = 0;
    let truncated = false;
    const rows: BrokerRow[] = [];

    for (const { concurrency, count } of plan.levels) {
      const runs: Record<BrokerSide, SideRun[]> = { direct: [], queued: [] };
      const loads: number[] = [];
      for (let r = 0; r < plan.repeats; r++) {
        if (Date.now() > deadline) {
          truncated = true;
          break;
        }
        for (const side of r % 2 === 0 ? (['direct', 'queued'] as const) : (['queued', 'direct'] as const)) {
          // A fresh worker and task queue per side and repeat: no workflow cache carries over.
          const taskQueue = `${tag}-${side}-${r}-${concurrency}`;
          const worker = await Worker.create({
            connection: options.connection,
            namespace: options.namespace,
            taskQueue,
            activities: activities[side],
            workflowBundle: options.workflowBundle,
            maxConcurrentActivityTaskExecutions: defaults.maxConcurrentActivities,
            maxConcurrentWorkflowTaskExecutions: defaults.maxConcurrentWorkflowTasks,
          });
          const done = worker.run();
          try {
            let last = '';
            const order = async () => {
              const orderId = `${tag}-${++seq}`;
              const handle = await options.client.workflow.start('orderSaga', { taskQueue, workflowId: `order-${orderId}`, args: [orderInput(orderId, 'completed')], ...running });
              const result = (await within(handle.result(), 120_000, handle.workflowId)) as { status?: string };
              if (result.status !== 'COMPLETED') throw new Error(`${orderId} ended ${JSON.stringify(result)}`);
              last = handle.workflowId;
            };
            await closedLoop(plan.warmup, 10, order);
            const carrierPid = child?.pid;
            const before = { worker: process.cpuUsage(), carrier: meter(carrierPid), nats: meter(natsPid), server: meter(options.serverPid) };
            const loop = await closedLoop(count, concurrency, order);
            const used = process.cpuUsage(before.worker);
            const after = { carrier: meter(carrierPid), nats: meter(natsPid), server: meter(options.serverPid) };
            const perOrder = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : (b - a) / count);
            const latency = summarizeLatencies(loop.latencies);
            const history = last ? await historyStats(options.client.workflow.getHandle(last)) : undefined;
            const run: SideRun = {
              throughput: (loop.latencies.length * 1000) / loop.elapsedMs,
              p50: latency.p50,
              p95: latency.p95,
              workerCpu: (used.user + used.system) / 1000 / count,
              historyEvents: history?.events ?? Number.NaN,
              errors: loop.errors.length,
              ...defined('carrierCpu', perOrder(before.carrier, after.carrier)),
              ...defined('natsCpu', perOrder(before.nats, after.nats)),
              ...defined('serverCpu', perOrder(before.server, after.server)),
            };
            runs[side].push(run);
            log(
              `broker ${side} r${r + 1} c=${concurrency}: ${round(run.throughput)}/s p50 ${round(run.p50)} ms, worker ${round(run.workerCpu)} ms CPU/order` +
                `${run.carrierCpu === undefined ? '' : `, carrier ${round(run.carrierCpu)}`}${run.natsCpu === undefined ? '' : `, nats ${round(run.natsCpu)}`}, ${run.historyEvents} events` +
                `${run.errors ? `, ${run.errors} errors: ${loop.errors[0]}` : ''}`,
            );
          } finally {
            worker.shutdown();
            await done;
          }
        }
        loads.push(round(loadavg()[0] ?? 0));
      }
      const n = Math.min(runs.direct.length, runs.queued.length);
      if (n === 0) continue;
      const ratio = (pick: (x: SideRun) => number) => round(median(Array.from({ length: n }, (_, i) => pick(runs.queued[i]!) / pick(runs.direct[i]!))), 3);
      rows.push({
        concurrency,
        count,
        repeats: n,
        direct: figures(runs.direct),
        queued: figures(runs.queued),
        ratio: { throughput: ratio((x) => x.throughput), p50: ratio((x) => x.p50), workerCpu: ratio((x) => x.workerCpu) },
        errors: [...runs.direct, ...runs.queued].reduce((k, x) => k + x.errors, 0),
        loadAvg1: loads,
      });
    }
    return { plan, rows, truncated };
  } finally {
    await link.stop();
    await child?.stop(5_000);
    await inProcess?.stop();
    await connection.close();
    await nats.stop();
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function meter(pid: number | readonly number[] | undefined): number | undefined {
  return pid === undefined ? undefined : processCpuMs(pid);
}

function defined<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function figures(list: readonly SideRun[]): BrokerSideFigures {
  const optional = (pick: (x: SideRun) => number | undefined) => {
    const values = list.flatMap((x) => {
      const v = pick(x);
      return v === undefined ? [] : [v];
    });
    return values.length === 0 ? undefined : round(median(values));
  };
  return {
    throughput: round(median(list.map((x) => x.throughput))),
    p50: round(median(list.map((x) => x.p50)), 1),
    p95: round(median(list.map((x) => x.p95)), 1),
    workerCpuMsPerOrder: round(median(list.map((x) => x.workerCpu))),
    ...defined('carrierCpuMsPerOrder', optional((x) => x.carrierCpu)),
    ...defined('natsCpuMsPerOrder', optional((x) => x.natsCpu)),
    ...defined('serverCpuMsPerOrder', optional((x) => x.serverCpu)),
    historyEvents: median(list.map((x) => x.historyEvents)),
  };
}

/** The comparison as a Markdown table, one line per side and level. */
export function formatBroker(results: BrokerResults): string {
  const n = (v: number | undefined) => (v === undefined ? '–' : String(v));
  const lines = [
    `Carrier ${results.plan.carrier === 'process' ? 'as its own process' : "in the worker's process"} on the queued side; medians over the repeats${results.truncated ? ' (TRUNCATED: budget spent)' : ''}.`,
    '',
    '| in flight | side | repeats × n | orders/s | p50 ms | p95 ms | worker CPU ms/order | carrier CPU ms/order | nats CPU ms/order | server CPU ms/order | history events/order | queued/direct: throughput, p50, worker CPU | load avg | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results.rows) {
    for (const side of ['direct', 'queued'] as const) {
      const f = r[side];
      lines.push(
        `| ${r.concurrency} | ${side} | ${r.repeats} × ${r.count} | ${f.throughput} | ${f.p50} | ${f.p95} | ${f.workerCpuMsPerOrder} | ${n(f.carrierCpuMsPerOrder)} | ${n(f.natsCpuMsPerOrder)} | ${n(f.serverCpuMsPerOrder)} | ${f.historyEvents} | ` +
          `${side === 'queued' ? `${r.ratio.throughput}, ${r.ratio.p50}, ${r.ratio.workerCpu}` : ''} | ${Math.min(...r.loadAvg1)}–${Math.max(...r.loadAvg1)} | ${side === 'queued' ? r.errors : ''} |`,
      );
    }
  }
  return lines.join('\n');
}
