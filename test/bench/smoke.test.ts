import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runBenchmark, type BenchPlan, type BenchResults } from '../../bench/harness';
import { formatLevers, runLevers } from '../../bench/levers';
import { formatBroker, runBrokerComparison } from '../../bench/broker';
import { formatReport, writeResults } from '../../bench/report';
import { createServices } from '../../src/services';
import { bundleFor, createDevServerEnv } from '../helpers';

// Every section of the benchmark with the smallest counts that still exercise it. Only the shape of
// the results is checked: times on a shared machine say nothing about correctness.
const plan: BenchPlan = {
  name: 'smoke',
  repeats: 1,
  warmup: 1,
  load: [
    { concurrency: 1, count: 1 },
    { concurrency: 2, count: 2 },
  ],
  steps: { counts: [2], kinds: ['regular', 'local'], sequential: 1, concurrency: 1, count: 1 },
  tuning: { concurrency: 2, count: 2, variants: ['default', 'no-sticky'] },
  budgetMs: 5 * 60_000,
};

let env: TestWorkflowEnvironment;
let results: BenchResults;
let outDir: string;

beforeAll(async () => {
  env = await createDevServerEnv();
  outDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  results = await runBenchmark({
    connection: env.nativeConnection,
    client: env.client,
    namespace: env.namespace ?? 'default',
    plan,
    workflowBundle: await bundleFor('../bench/workflows.ts'),
    databaseUrl: 'sqlite::memory:',
    serverAddress: 'test dev server',
  });
}, 240_000);

afterAll(async () => {
  await env?.teardown();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

const finiteNonNegative = expect.any(Number);

function expectRunShape(run: unknown): void {
  expect(run).toMatchObject({
    count: expect.any(Number),
    errors: 0,
    elapsedMs: finiteNonNegative,
    throughput: finiteNonNegative,
    latencyMs: { p50: finiteNonNegative, p95: finiteNonNegative, p99: finiteNonNegative, max: finiteNonNegative },
    cpuMsPerWorkflow: finiteNonNegative,
    peakRssMb: finiteNonNegative,
    loadAvg1: finiteNonNegative,
  });
}

describe('npm run bench harness', () => {
  it('completes the plan within its budget and describes the machine and the run', () => {
    expect(results.schema).toBe(1);
    expect(results.truncated).toBe(false);
    expect(results.plan).toEqual(plan);
    expect(results.database).toBe('sqlite (memory)');
    expect(results.machine.cpus).toBeGreaterThan(0);
    expect(results.machine.loadAvgStart).toHaveLength(3);
    expect(Date.parse(results.finishedAt)).toBeGreaterThanOrEqual(Date.parse(results.startedAt));
    expect(results.resources.maxRssMb).toBeGreaterThan(0);
  });

  it('measures the saga and the plain workflow, completed and compensated, at every concurrency level, without errors', () => {
    const cells = results.load.map((c) => `${c.workflow}/${c.outcome}/${c.concurrency}`).sort();
    expect(cells).toEqual(
      ['orderSaga', 'plainOrder']
        .flatMap((w) => ['completed', 'compensated'].flatMap((o) => [1, 2].map((c) => `${w}/${o}/${c}`)))
        .sort(),
    );
    for (const cell of results.load) {
      expect(cell.runs).toHaveLength(plan.repeats);
      cell.runs.forEach(expectRunShape);
      expect(cell.median.throughput).toBeGreaterThan(0);
    }
  });

  it('reports the saga layer overhead as saga/plain ratios for each outcome and concurrency', () => {
    expect(results.overhead.map((o) => `${o.outcome}/${o.concurrency}`).sort()).toEqual(['compensated/1', 'compensated/2', 'completed/1', 'completed/2']);
    for (const row of results.overhead) {
      expect(row.throughputRatio).toBeGreaterThan(0);
      expect(row.latencyP50Ratio).toBeGreaterThan(0);
      expect(row.cpuRatio).toBeGreaterThan(0);
      expect(Number.isFinite(row.throughputOverheadPct)).toBe(true);
    }
  });

  it('measures steps scaling for regular and local activities, with the saga writing more history than the plain workflow', () => {
    expect(results.steps.map((s) => `${s.steps}/${s.kind}`)).toEqual(['2/regular', '2/local']);
    for (const row of results.steps) {
      expect(row.saga.history.events).toBeGreaterThan(row.plain.history.events);
      expect(row.saga.history.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES).toBe(2);
      expect(row.plain.history.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES).toBeUndefined();
      expect(row.saga.history.payloadBytes).toBeGreaterThan(0);
      expect(row.saga.history.historyBytes).toBeGreaterThan(row.saga.history.payloadBytes);
    }
    const local = results.steps.find((s) => s.kind === 'local')!;
    expect(local.plain.history.eventTypes.ACTIVITY_TASK_SCHEDULED).toBeUndefined();
    expect(local.plain.history.eventTypes.MARKER_RECORDED).toBe(2);
  });

  it('keeps one history per order workflow and outcome: five activities and the outcome on success, compensations and the outcome after the failed shipment', () => {
    const byKey = Object.fromEntries(results.orderHistories.map((h) => [`${h.workflow}/${h.outcome}`, h.history]));
    expect(Object.keys(byKey).sort()).toEqual(['orderSaga/compensated', 'orderSaga/completed', 'plainOrder/compensated', 'plainOrder/completed']);
    // Reserve, authorize, capture, ship, confirm, then record the outcome (since 0.3.0).
    expect(byKey['orderSaga/completed']!.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(6);
    expect(byKey['plainOrder/completed']!.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(6);
    // Reserve, authorize, capture, ship (fails), then cancel shipment, refund, void and release, then record the outcome.
    expect(byKey['orderSaga/compensated']!.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(9);
    expect(byKey['plainOrder/compensated']!.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(9);
    // Started RUNNING: one upsert on success (COMPLETED), two when compensating (COMPENSATING, COMPENSATED).
    expect(byKey['orderSaga/completed']!.sagaStatusUpserts).toBe(1);
    expect(byKey['orderSaga/compensated']!.sagaStatusUpserts).toBe(2);
    // No patch is asked by a new order since 0.2.0 (the pivot patch left it): no marker, no TemporalChangeVersion upsert.
    expect(byKey['orderSaga/completed']!.patchEvents).toBe(0);
    expect(byKey['orderSaga/compensated']!.patchEvents).toBe(0);
    expect(byKey['plainOrder/completed']!.patchEvents).toBe(0);
  });

  it("writes the hand-written workflow's history plus one event on success and plus two when compensating: its SagaStatus upserts (the issue's target)", () => {
    // Lengths at the fewest workflow tasks each outcome takes (6 on success, 8 when compensating): two
    // parallel activities whose completions land in two workflow tasks instead of one, which the
    // machine's load decides for either workflow alike, add a task's three events; they are taken off.
    const length = (workflow: string, outcome: 'completed' | 'compensated') => {
      const { history } = results.orderHistories.find((h) => h.workflow === workflow && h.outcome === outcome)!;
      const extraTasks = (history.eventTypes.WORKFLOW_TASK_COMPLETED ?? 0) - (outcome === 'completed' ? 6 : 8);
      expect(extraTasks, `${workflow}/${outcome}: workflow tasks beyond the fewest`).toBeGreaterThanOrEqual(0);
      expect(extraTasks, `${workflow}/${outcome}: workflow tasks beyond the fewest`).toBeLessThanOrEqual(2);
      return history.events - 3 * extraTasks;
    };
    // Since 0.3.0 both record the order's outcome at the end: six events more each (the activity's
    // scheduled, started and completed, and one more workflow task's three), the difference unchanged.
    expect(length('orderSaga', 'completed')).toBe(39);
    expect(length('plainOrder', 'completed')).toBe(38);
    expect(length('orderSaga', 'completed') - length('plainOrder', 'completed')).toBe(1);
    expect(length('orderSaga', 'compensated')).toBe(55);
    expect(length('plainOrder', 'compensated')).toBe(53);
    expect(length('orderSaga', 'compensated') - length('plainOrder', 'compensated')).toBe(2);
  });

  it('compares the worker tuning variants and recommends one of them', () => {
    expect(results.tuning.map((t) => t.variant).sort()).toEqual(['default', 'no-sticky']);
    results.tuning.forEach((t) => t.runs.forEach(expectRunShape));
    expect(['default', 'no-sticky']).toContain(results.recommendation?.variant);
    expect(typeof results.recommendation?.beatsDefault).toBe('boolean');
  });

  it('measures each structural lever as an A/B pair, both sides without errors, completed or compensated as the lever says', async () => {
    const services = await createServices({ databaseUrl: 'sqlite::memory:', faults: {} });
    try {
      const { rows, truncated } = await runLevers({
        plan: { repeats: 1, warmup: 1, levels: [{ concurrency: 1, count: 1 }], levers: ['local-activities', 'eager-start', 'eager-activities', 'heartbeat-at-start', 'local-db-steps', 'result-summary', 'saga-layer-compensated', 'status-upserts-compensated'], budgetMs: 3 * 60_000 },
        connection: env.nativeConnection,
        client: env.client,
        namespace: env.namespace ?? 'default',
        services,
        log: () => undefined,
      });
      expect(truncated).toBe(false);
      expect(rows.map((r) => r.lever)).toEqual(['local-activities', 'eager-start', 'eager-activities', 'heartbeat-at-start', 'local-db-steps', 'result-summary', 'saga-layer-compensated', 'status-upserts-compensated']);
      for (const row of rows) {
        expect(row.errors).toBe(0);
        expect(row.sideA.throughput).toBeGreaterThan(0);
        expect(row.sideB.throughput).toBeGreaterThan(0);
        expect(row.ratio.workerCpu).toBeGreaterThan(0);
      }
      // Warm-up and measured orders alike: with the client on the worker's connection the server hands the first task back with the start.
      const eager = rows.find((r) => r.lever === 'eager-start')!;
      expect(eager.eagerStarts.a).toBe(0);
      expect(eager.eagerStarts.b).toBeGreaterThan(0);
      // A completed order runs reserve, authorize and capture as local activities on side B: three
      // markers instead of three activities, each marker with its step's summary; shipment, mail and
      // the outcome stay activities.
      const local = rows.find((r) => r.lever === 'local-db-steps')!.history!;
      expect(local.a.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(6);
      expect(local.a.localActivityMarkers).toEqual({ total: 0, withSummary: 0 });
      expect(local.b.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(3);
      expect(local.b.localActivityMarkers).toEqual({ total: 3, withSummary: 3 });
      // The step records the result no longer carries: more than a kilobyte of payload per order.
      const summary = rows.find((r) => r.lever === 'result-summary')!.history!;
      expect(summary.a.payloadBytes - summary.b.payloadBytes).toBeGreaterThan(1000);
      expect(summary.a.eventTypes.ACTIVITY_TASK_SCHEDULED).toBe(summary.b.eventTypes.ACTIVITY_TASK_SCHEDULED);
      // Compensated orders on both sides: the hand-written workflow writes 53 events, the saga 55 (its
      // COMPENSATING and COMPENSATED upserts), and the saga without its search attribute 53 again. At
      // the fewest workflow tasks (8): parallel compensations whose completions land in two tasks, which
      // the load decides, add a task's three events; they are taken off, as for the order histories above.
      const fewest = (h: { events: number; eventTypes: Record<string, number> }) => {
        const extraTasks = (h.eventTypes.WORKFLOW_TASK_COMPLETED ?? 0) - 8;
        expect(extraTasks).toBeGreaterThanOrEqual(0);
        expect(extraTasks).toBeLessThanOrEqual(2);
        return h.events - 3 * extraTasks;
      };
      const layer = rows.find((r) => r.lever === 'saga-layer-compensated')!.history!;
      expect([fewest(layer.a), fewest(layer.b)]).toEqual([53, 55]);
      expect(layer.a.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES ?? 0).toBe(0);
      expect(layer.b.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES).toBe(2);
      const upserts = rows.find((r) => r.lever === 'status-upserts-compensated')!.history!;
      expect([fewest(upserts.a), fewest(upserts.b)]).toEqual([55, 53]);
      expect(upserts.a.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES).toBe(2);
      expect(upserts.b.eventTypes.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES ?? 0).toBe(0);
      expect(formatLevers(rows)).toContain('| local-activities | 1 | 1 |');
    } finally {
      await services.close();
    }
  }, 180_000);

  it('runs the order saga direct and through the broker, interleaved, with the carrier as its own process', async () => {
    const results = await runBrokerComparison({
      plan: { repeats: 2, warmup: 1, levels: [{ concurrency: 1, count: 1 }], carrier: 'process', budgetMs: 3 * 60_000 },
      connection: env.nativeConnection,
      client: env.client,
      namespace: env.namespace ?? 'default',
      workflowBundle: await bundleFor('../bench/workflows.ts'),
      log: () => undefined,
    });
    expect(results.truncated).toBe(false);
    expect(results.rows).toHaveLength(1);
    const [row] = results.rows;
    expect(row).toMatchObject({ concurrency: 1, count: 1, repeats: 2, errors: 0 });
    for (const side of [row!.direct, row!.queued]) {
      expect(side.throughput).toBeGreaterThan(0);
      expect(side.p50).toBeGreaterThan(0);
      expect(side.workerCpuMsPerOrder).toBeGreaterThan(0);
      // The carrier's and the broker's processes are metered on both sides (idle on the direct one).
      expect(side.carrierCpuMsPerOrder).toBeGreaterThanOrEqual(0);
      expect(side.natsCpuMsPerOrder).toBeGreaterThanOrEqual(0);
      // The order saga's history: the same workflow either way, at least its 39 events.
      expect(side.historyEvents).toBeGreaterThanOrEqual(39);
    }
    expect(row!.ratio.throughput).toBeGreaterThan(0);
    expect(row!.ratio.workerCpu).toBeGreaterThan(0);
    const table = formatBroker(results);
    expect(table).toContain('| 1 | direct | 2 × 1 |');
    expect(table).toContain('| 1 | queued | 2 × 1 |');
  }, 180_000);

  it('finds every file the peers import from the product (the peers sit outside the type check, so a moved file would go unnoticed)', () => {
    const dir = join(__dirname, '..', '..', 'bench', 'peers');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    let imports = 0;
    for (const file of files) {
      for (const [, spec] of readFileSync(join(dir, file), 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const base = resolve(dir, spec!);
        imports += 1;
        expect([`${base}.ts`, join(base, 'index.ts')].some((f) => existsSync(f)), `${file} imports ${spec}`).toBe(true);
      }
    }
    expect(imports).toBeGreaterThan(10);
  });

  it('writes the results as results-<timestamp>.json that reads back unchanged, and prints every section', () => {
    const file = writeResults(results, outDir);
    expect(basename(file)).toMatch(/^results-\d{4}-\d{2}-\d{2}T[\d-]+Z\.json$/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(results);
    const report = formatReport(results);
    for (const heading of ['Order load', 'Saga layer overhead', 'Steps scaling', 'Worker tuning', 'Order histories', 'per core']) {
      expect(report).toContain(heading);
    }
  });
});
