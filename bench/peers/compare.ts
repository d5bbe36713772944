// The order saga side by side on Temporal, DBOS Transact and Restate, in one run: the same order, the
// same services and idempotency barrier on one PostgreSQL, the same closed-loop load. Repeats are
// interleaved (every system at a level, in an order that rotates, before the next repeat), so load
// from the rest of the machine falls on all of them alike. CPU is counted over every process: this
// one (client, Temporal worker, DBOS runtime, Restate handlers, services), the Temporal server, the
// Restate server and PostgreSQL with its backends.

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { SagaStatus } from '@saga-temporal/saga';
import { createActivities } from '../../src/activities';
import { startLocalPostgres, type LocalPostgres } from '../../tools/cluster/postgres';
import { FailureType } from '../../src/shared/failures';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { createServices, type Services } from '../../src/services';
import { createBenchActivities } from '../activities';
import { childPids, closedLoop, cpuBetween, cpuSnapshot, within } from '../load';
import { orderInput, type OrderOutcome } from '../orders';
import { median, round, summarizeLatencies } from '../stats';
import { startDbosPeer } from './dbos';
import { startRestatePeer } from './restate';

/** The systems compared. */
export type PeerSystem = 'temporal' | 'dbos' | 'restate';

/** What the comparison runs. */
export interface PeersPlan {
  repeats: number;
  /** Untimed orders of each outcome per system before measuring, at 10 in flight. */
  warmup: number;
  levels: { concurrency: number; count: number }[];
  outcomes: OrderOutcome[];
  /** Wall-time budget; runs still to do when it is spent are skipped and the result marked truncated. */
  budgetMs: number;
}

/** `--peers`: 3 repeats of 1, 10 and 50 in flight, success and compensation. */
export const peersPlan: PeersPlan = {
  repeats: 3,
  warmup: 10,
  levels: [
    { concurrency: 1, count: 10 },
    { concurrency: 10, count: 40 },
    { concurrency: 50, count: 100 },
  ],
  outcomes: ['completed', 'compensated'],
  budgetMs: 15 * 60_000,
};

/** `--peers --quick`: two repeats, small counts. */
export const quickPeersPlan: PeersPlan = {
  repeats: 2,
  warmup: 4,
  levels: [
    { concurrency: 1, count: 4 },
    { concurrency: 10, count: 20 },
    { concurrency: 50, count: 50 },
  ],
  outcomes: ['completed', 'compensated'],
  budgetMs: 12 * 60_000,
};

/** One measured run of one system. */
export interface PeerRun {
  count: number;
  errors: number;
  firstError?: string;
  throughput: number;
  p50: number;
  p95: number;
  /** CPU of every process (see the file's head) per saga, in ms. */
  cpuMsPerSaga: number;
  /** The same, this process only. */
  processCpuMsPerSaga: number;
  loadAvg1: number;
}

/** A system at one level and outcome: its runs and their medians. */
export interface PeerCell {
  system: PeerSystem;
  outcome: OrderOutcome;
  concurrency: number;
  runs: PeerRun[];
  median: { throughput: number; p50: number; p95: number; cpuMsPerSaga: number; processCpuMsPerSaga: number; loadAvg1: number };
}

/** Everything the comparison measured. */
export interface PeersResults {
  plan: PeersPlan;
  startedAt: string;
  durationS: number;
  truncated: boolean;
  temporal: { topology: string };
  loadAvgStart: number[];
  loadAvgEnd: number[];
  cells: PeerCell[];
}

/** Where the Temporal side runs: a server the caller started (dev server or cluster). */
export interface PeersOptions {
  plan: PeersPlan;
  connection: NativeConnection;
  client: Client;
  namespace: string;
  /** Pids of the Temporal server's processes (with its own database, if any). */
  temporalPids: readonly number[];
  temporalTopology: string;
  workflowBundle: { code: string };
  /** Free TCP ports, one per call. */
  freePort: () => Promise<number>;
  log: (line: string) => void;
}

// As in the Temporal sections: an order that does not end within 2 minutes counts as an error.
const ORDER_TIMEOUT_MS = 120_000;

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Starts PostgreSQL and the three systems, runs the plan, stops everything. */
export async function runPeers(options: PeersOptions): Promise<PeersResults> {
  const { plan, log } = options;
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadAvgStart = loadavg().map((l) => round(l));
  const dir = mkdtempSync(join(tmpdir(), 'saga-bench-peers-'));
  // PostgreSQL runs as the postgres user when this runs as root.
  chmodSync(dir, 0o755);
  let postgres: LocalPostgres | undefined;
  let services: Services | undefined;
  const stops: (() => Promise<void>)[] = [];
  let truncated = false;
  try {
    postgres = startLocalPostgres({ dir: join(dir, 'pg'), port: await options.freePort(), superuserPassword: 'bench' });
    const admin = new PgClient({ connectionString: postgres.adminUrl });
    await admin.connect();
    for (const db of ['services', 'dbos_system']) await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    services = await createServices({ databaseUrl: withDatabase(postgres.adminUrl, 'services'), faults: {} });
    const svc = services;

    const taskQueue = `peers-${Date.now().toString(36)}`;
    const worker = await Worker.create({
      connection: options.connection,
      namespace: options.namespace,
      taskQueue,
      workflowBundle: options.workflowBundle,
      activities: { ...createActivities(svc), ...createBenchActivities() },
    });
    const running = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await running;
    });
    const dbos = await startDbosPeer({ systemDatabaseUrl: withDatabase(postgres.adminUrl, 'dbos_system'), services: svc });
    stops.push(() => dbos.stop());
    const ports = { ingress: await options.freePort(), admin: await options.freePort(), node: await options.freePort(), endpoint: await options.freePort() };
    const restate = await startRestatePeer({ services: svc, dir: join(dir, 'restate'), ports });
    stops.push(() => restate.stop());

    const tag = `p${Date.now().toString(36)}`;
    let seq = 0;
    const runOrder: Record<PeerSystem, (outcome: OrderOutcome) => Promise<void>> = {
      async temporal(outcome) {
        const orderId = `${tag}-t${++seq}`;
        const handle = await options.client.workflow.start('orderSaga', {
          taskQueue,
          workflowId: `order-${orderId}`,
          args: [orderInput(orderId, outcome)],
          typedSearchAttributes: [{ key: SagaStatusKey, value: SagaStatus.RUNNING }],
        });
        const settled = await handle.result().then(
          (value: { status: string }) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        );
        const cause = !settled.ok && settled.error instanceof WorkflowFailedError ? settled.error.cause : undefined;
        if (outcome === 'completed' ? !settled.ok : !(cause instanceof ApplicationFailure && cause.type === FailureType.Undeliverable)) {
          throw new Error(`temporal ${orderId}: ${settled.ok ? 'completed' : String(settled.error)}`);
        }
      },
      async dbos(outcome) {
        const orderId = `${tag}-d${++seq}`;
        await expectOutcome('dbos', outcome, dbos.runOrder(`order-${orderId}`, orderInput(orderId, outcome)));
      },
      async restate(outcome) {
        const orderId = `${tag}-r${++seq}`;
        await expectOutcome('restate', outcome, restate.runOrder(`order-${orderId}`, orderInput(orderId, outcome)));
      },
    };

    const pgPids = () => {
      const pid = postgres?.pid();
      return pid === undefined ? [] : [pid, ...childPids(pid)];
    };
    const allPids = () => [...options.temporalPids, restate.pid, ...pgPids()];

    const systems: PeerSystem[] = ['temporal', 'dbos', 'restate'];
    for (const system of systems) {
      for (const outcome of plan.outcomes) {
        const warm = await closedLoop(plan.warmup, 10, () => within(runOrder[system](outcome), ORDER_TIMEOUT_MS, `${system} order`));
        if (warm.errors.length > 0) throw new Error(`Warm-up of ${system} (${outcome}) failed: ${warm.errors[0]}`);
      }
    }
    const cells = new Map<string, PeerCell>();
    const deadline = t0 + plan.budgetMs;
    for (let r = 0; r < plan.repeats && !truncated; r++) {
      for (const { concurrency, count } of plan.levels) {
        for (const outcome of plan.outcomes) {
          for (const system of rotate(systems, r + concurrency)) {
            if (performance.now() > deadline) {
              truncated = true;
              break;
            }
            const self = process.cpuUsage();
            const before = cpuSnapshot(allPids());
            const loop = await closedLoop(count, concurrency, () => within(runOrder[system](outcome), ORDER_TIMEOUT_MS, `${system} order`));
            const others = cpuBetween(before, cpuSnapshot(allPids()));
            const { user, system: sys } = process.cpuUsage(self);
            const ownMs = (user + sys) / 1000;
            const lat = summarizeLatencies(loop.latencies);
            const run: PeerRun = {
              count,
              errors: loop.errors.length,
              throughput: round((loop.latencies.length * 1000) / loop.elapsedMs),
              p50: round(lat.p50, 1),
              p95: round(lat.p95, 1),
              cpuMsPerSaga: round((ownMs + others) / count),
              processCpuMsPerSaga: round(ownMs / count),
              loadAvg1: round(loadavg()[0] ?? 0),
            };
            if (loop.errors[0] !== undefined) run.firstError = loop.errors[0];
            const key = `${system}/${outcome}/${concurrency}`;
            const cell = cells.get(key) ?? { system, outcome, concurrency, runs: [], median: { throughput: 0, p50: 0, p95: 0, cpuMsPerSaga: 0, processCpuMsPerSaga: 0, loadAvg1: 0 } };
            cells.set(key, cell);
            cell.runs.push(run);
            log(`peers r${r + 1} ${system} ${outcome} c=${concurrency}: ${run.throughput}/s p50 ${run.p50} ms, ${run.cpuMsPerSaga} ms CPU/saga, load ${run.loadAvg1}${run.errors ? `, ${run.errors} errors: ${run.firstError}` : ''}`);
          }
        }
      }
    }
    for (const cell of cells.values()) {
      const m = (pick: (r: PeerRun) => number, digits = 2) => round(median(cell.runs.map(pick)), digits);
      cell.median = { throughput: m((r) => r.throughput), p50: m((r) => r.p50, 1), p95: m((r) => r.p95, 1), cpuMsPerSaga: m((r) => r.cpuMsPerSaga), processCpuMsPerSaga: m((r) => r.processCpuMsPerSaga), loadAvg1: m((r) => r.loadAvg1) };
    }
    return {
      plan,
      startedAt,
      durationS: round((performance.now() - t0) / 1000, 1),
      truncated,
      temporal: { topology: options.temporalTopology },
      loadAvgStart,
      loadAvgEnd: loadavg().map((l) => round(l)),
      cells: [...cells.values()],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await services?.close();
    postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function expectOutcome(system: PeerSystem, outcome: OrderOutcome, result: Promise<{ status: string }>): Promise<void> {
  const settled = await result.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome === 'completed' && settled.ok && settled.value.status === 'COMPLETED') return;
  if (outcome === 'compensated' && !settled.ok && settled.error instanceof Error && settled.error.name === FailureType.Undeliverable) return;
  throw new Error(`${system}: expected ${outcome}, got ${settled.ok ? JSON.stringify(settled.value) : String(settled.error)}`);
}

/** The comparison as a Markdown table: one row per system, outcome and level (medians). */
export function formatPeers(results: PeersResults): string {
  const rows = [...results.cells].sort((a, b) => a.outcome.localeCompare(b.outcome) || a.concurrency - b.concurrency || a.system.localeCompare(b.system));
  const lines = [
    `Peers (${results.plan.repeats} interleaved repeats, medians; Temporal on ${results.temporal.topology}; load average ${results.loadAvgStart[0]} → ${results.loadAvgEnd[0]}${results.truncated ? '; TRUNCATED' : ''}):`,
    '',
    '| system | outcome | in flight | sagas/s | p50 ms | p95 ms | CPU ms/saga, all processes | CPU ms/saga, this process | load avg | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of rows) {
    const errors = c.runs.reduce((n, r) => n + r.errors, 0);
    lines.push(`| ${c.system} | ${c.outcome} | ${c.concurrency} | ${c.median.throughput} | ${c.median.p50} | ${c.median.p95} | ${c.median.cpuMsPerSaga} | ${c.median.processCpuMsPerSaga} | ${c.median.loadAvg1} | ${errors} |`);
  }
  return lines.join('\n');
}
