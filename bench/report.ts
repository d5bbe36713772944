// The results as Markdown tables (readable in a terminal, pasted as is into BENCHMARKS.md) and as JSON.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from './harness';

/** DTM's published figure: two-branch sagas per second with its barrier, 4 cores, MySQL. */
export const DTM_SAGAS_PER_SECOND = 531;
/** Cores of DTM's published benchmark machine. */
export const DTM_CORES = 4;

/** A Markdown table. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const n = (value: number | undefined, digits = 1): string => (value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits));

/** The best median throughput of the successful order saga over the concurrency levels, and where it was reached. */
export function peakSagaThroughput(results: BenchResults): { throughput: number; concurrency: number } | undefined {
  const cells = results.load.filter((c) => c.workflow === 'orderSaga' && c.outcome === 'completed');
  const best = [...cells].sort((a, b) => b.median.throughput - a.median.throughput)[0];
  return best && { throughput: best.median.throughput, concurrency: best.concurrency };
}

/** Every section of the results as Markdown. */
export function formatReport(results: BenchResults): string {
  const out: string[] = [];
  const { machine } = results;
  const serverNote = {
    'dev-server': ' (dev server started by the benchmark, in memory)',
    cluster: ' (cluster started by the benchmark: PostgreSQL with fsync off, 2 history hosts, matching, frontend, worker)',
    external: '',
  } as const;
  out.push(
    `Plan ${results.plan.name}, ${results.durationS} s${results.truncated ? ' (TRUNCATED: budget spent, later runs skipped)' : ''}; ` +
      `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}; ` +
      `load average ${machine.loadAvgStart.join('/')} at start, ${machine.loadAvgEnd.join('/')} at end; ` +
      `server ${results.server.address}${serverNote[results.server.topology ?? 'external']}; ${results.server.sagaWorkers ?? 1} saga worker(s); services on ${results.database}; ` +
      `medians over ${results.plan.repeats} repeats.`,
  );

  out.push('', '### Order load (closed loop)', '');
  out.push(
    markdownTable(
      ['workflow', 'outcome', 'in flight', 'runs × n', 'sagas/s', 'p50 ms', 'p95 ms', 'p99 ms', 'worker CPU ms/saga', 'server CPU ms/saga', 'peak RSS MiB', 'errors'],
      results.load.map((c) => [
        c.workflow,
        c.outcome,
        c.concurrency,
        `${c.runs.length} × ${c.count}`,
        n(c.median.throughput),
        n(c.median.p50, 0),
        n(c.median.p95, 0),
        n(c.median.p99, 0),
        n(c.median.cpuMsPerWorkflow),
        n(c.median.serverCpuMsPerWorkflow),
        n(c.median.peakRssMb, 0),
        c.runs.reduce((e, r) => e + r.errors, 0),
      ]),
    ),
  );

  out.push('', '### Saga layer overhead (orderSaga / plainOrder, same repeat)', '');
  out.push(
    markdownTable(
      ['outcome', 'in flight', 'throughput ratio', 'throughput overhead', 'p50 latency ratio', 'worker CPU ratio', 'worker + server CPU ratio'],
      results.overhead.map((o) => [
        o.outcome,
        o.concurrency,
        n(o.throughputRatio, 3),
        `${n(o.throughputOverheadPct)} %`,
        n(o.latencyP50Ratio, 3),
        n(o.cpuRatio, 3),
        n(o.totalCpuRatio, 3),
      ]),
    ),
  );

  out.push('', '### Steps scaling (no-op steps; saga vs plain)', '');
  out.push(
    markdownTable(
      ['steps', 'activities', 'saga p50 ms', 'plain p50 ms', 'p50 ratio', 'saga/s', 'plain/s', 'CPU ratio', 'events saga / plain', 'history bytes saga / plain', 'payload bytes saga / plain'],
      results.steps.map((s) => [
        s.steps,
        s.kind,
        n(s.saga.latencyP50Ms, 0),
        n(s.plain.latencyP50Ms, 0),
        n(s.ratio.latencyP50, 3),
        n(s.saga.throughput),
        n(s.plain.throughput),
        n(s.ratio.cpu, 3),
        `${s.saga.history.events} / ${s.plain.history.events}`,
        `${s.saga.history.historyBytes} / ${s.plain.history.historyBytes}`,
        `${s.saga.history.payloadBytes} / ${s.plain.history.payloadBytes}`,
      ]),
    ),
  );

  if (results.tuning.length > 0) {
    out.push('', `### Worker tuning (orderSaga, ${results.plan.tuning?.concurrency ?? '?'} in flight)`, '');
    out.push(
      markdownTable(
        ['variant', 'sagas/s', 'p50 ms', 'p95 ms', 'p99 ms', 'worker CPU ms/saga', 'peak RSS MiB', 'errors', 'what differs'],
        results.tuning.map((t) => [
          t.variant,
          n(t.median.throughput),
          n(t.median.p50, 0),
          n(t.median.p95, 0),
          n(t.median.p99, 0),
          n(t.median.cpuMsPerWorkflow),
          n(t.median.peakRssMb, 0),
          t.runs.reduce((e, r) => e + r.errors, 0),
          t.description,
        ]),
      ),
    );
    const rec = results.recommendation;
    if (rec) {
      out.push(
        '',
        rec.beatsDefault
          ? `Fastest: ${rec.variant}, ${n(rec.throughputVsDefault, 3)} × the default's throughput.`
          : `Fastest: ${rec.variant} (${n(rec.throughputVsDefault, 3)} × default): no variant beats the default by more than the noise; keep the default.`,
      );
    }
  }

  if (results.orderHistories.length > 0) {
    out.push('', '### Order histories (one workflow each)', '');
    out.push(
      markdownTable(
        ['workflow', 'outcome', 'events', 'history bytes', 'payload bytes'],
        results.orderHistories.map((h) => [h.workflow, h.outcome, h.history.events, h.history.historyBytes, h.history.payloadBytes]),
      ),
    );
  }

  const r = results.resources;
  out.push(
    '',
    `Benchmark process (worker and client) over the whole run: ${r.cpuUserS} s user + ${r.cpuSystemS} s system CPU, peak RSS ${r.maxRssMb} MiB` +
      (r.serverCpuS === undefined ? '.' : `; Temporal server: ${r.serverCpuS} s CPU.`),
  );
  const peak = peakSagaThroughput(results);
  if (peak) {
    const perCore = peak.throughput / machine.cpus;
    out.push(
      `Four-step order saga: ${n(peak.throughput)} sagas/s at ${peak.concurrency} in flight on ${machine.cpus} cores (server, worker and client together) = ${n(perCore)} per core; ` +
        `DTM publishes ${DTM_SAGAS_PER_SECOND} two-branch sagas/s on ${DTM_CORES} cores with MySQL = ${n(DTM_SAGAS_PER_SECOND / DTM_CORES)} per core (different setup).`,
    );
  }
  return out.join('\n');
}

/** Where results go unless `--out` says otherwise. */
export const DEFAULT_OUT_DIR = '.artifacts/bench';

/** Writes the results as `results-<timestamp>.json` in `dir` and returns the file's path. */
export function writeResults(results: BenchResults, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `results-${results.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
