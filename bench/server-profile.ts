// `npm run bench -- --cluster --server-profile 60`: a CPU profile of every Temporal service of the
// throw-away cluster while the benchmark runs, taken from the Go profiler each service serves
// (`pprof`, tools/cluster), and a summary of where each spends its CPU, by `go tool pprof -top`.
// The dev server has no profiler port: this works on the cluster only.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One line of `go tool pprof -top`: a function and its flat (self) and cumulative CPU. */
export interface TopEntry {
  function: string;
  flatMs: number;
  flatShare: number;
  cumMs: number;
  cumShare: number;
}

/** What one service's profile holds: its CPU over the capture, and its hottest functions by self time. */
export interface ServiceProfile {
  service: string;
  file: string;
  /** CPU time sampled over the capture, in milliseconds; undefined when the profile could not be read. */
  totalMs?: number;
  /** Self time by area ({@link GO_AREAS}), in milliseconds. */
  areas: Record<string, number>;
  /** The Temporal server's own functions with the most cumulative time. */
  top: TopEntry[];
}

/** Fetches a CPU profile of `seconds` from each profiler in `pprof` (name → base URL) at once, into `dir`. */
export async function captureServerProfiles(pprof: Readonly<Record<string, string>>, seconds: number, dir: string): Promise<string[]> {
  if (!Number.isInteger(seconds) || seconds < 5 || seconds > 600) throw new Error(`--server-profile takes whole seconds from 5 to 600 (got ${seconds})`);
  mkdirSync(dir, { recursive: true });
  return Promise.all(
    Object.entries(pprof).map(async ([service, url]) => {
      const response = await fetch(`${url}/debug/pprof/profile?seconds=${seconds}`, { signal: AbortSignal.timeout((seconds + 60) * 1000) });
      if (!response.ok) throw new Error(`The profiler of ${service} answered ${response.status}`);
      const file = join(dir, `${service}.pb.gz`);
      writeFileSync(file, Buffer.from(await response.arrayBuffer()));
      return file;
    }),
  );
}

const DURATION = /^([\d.]+)(ns|us|µs|ms|s|min|h)$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, min: 60_000, h: 3_600_000 };

/** A pprof duration (`120ms`, `1.52s`, `0`) in milliseconds. */
export function durationMs(text: string): number {
  if (text === '0') return 0;
  const match = DURATION.exec(text);
  if (!match) throw new Error(`Not a pprof duration: "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/**
 * Reads the text of `go tool pprof -top`: the total sampled CPU (from "Total samples = …" or, when
 * pprof drops nodes, "… of 1.23s total") and one entry per function line.
 */
export function parsePprofTop(text: string): { totalMs?: number; top: TopEntry[] } {
  const total = /Total samples = (\S+)/.exec(text) ?? /of (\S+) total/.exec(text);
  const top: TopEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+([\d.]+)%\s+[\d.]+%\s+(\S+)\s+([\d.]+)%\s+(.+?)\s*$/.exec(line);
    if (!m) continue;
    top.push({ function: m[5]!, flatMs: durationMs(m[1]!), flatShare: Number(m[2]), cumMs: durationMs(m[3]!), cumShare: Number(m[4]) });
  }
  return { ...(total ? { totalMs: durationMs(total[1]!) } : {}), top };
}

/** Where a Go function's self time is counted, by its package path (first match wins). */
export const GO_AREAS: readonly { area: string; pattern: RegExp }[] = [
  { area: 'system calls (network, disk)', pattern: /^(syscall\.|internal\/runtime\/syscall|internal\/poll|os\.)/ },
  { area: 'Go runtime (GC, scheduler, memory)', pattern: /^(runtime[./]|internal\/runtime)/ },
  { area: 'SQL driver and statements', pattern: /^(database\/sql|github\.com\/lib\/pq|github\.com\/jackc\/|github\.com\/jmoiron\/sqlx|go\.temporal\.io\/server\/common\/persistence\/sql)/ },
  { area: 'persistence layer and serialization', pattern: /^go\.temporal\.io\/server\/common\/persistence/ },
  { area: 'gRPC, HTTP/2 and protobuf', pattern: /^(google\.golang\.org\/grpc|golang\.org\/x\/net\/http2|google\.golang\.org\/protobuf|github\.com\/gogo\/protobuf|go\.temporal\.io\/api\/)/ },
  { area: 'history service (mutable state, tasks, queues)', pattern: /^go\.temporal\.io\/server\/service\/history/ },
  { area: 'matching and frontend services', pattern: /^go\.temporal\.io\/server\/service\/(matching|frontend)/ },
  { area: 'metrics and logs', pattern: /^(github\.com\/uber-go\/tally|go\.uber\.org\/zap|go\.opentelemetry\.io|github\.com\/prometheus)/ },
  { area: 'other Temporal server code', pattern: /^go\.temporal\.io\/server\// },
];
const OTHER_AREA = 'other (reflection, JSON, standard library)';

const WRAPPERS = /Interceptor|GrpcServerOptionsProvider|_Handler|metricClient|[Rr]etryable|RateLimited|PersistenceClient|[Rr]edirect|\/common\/(rpc|log|metrics|goro)\//;

/** The area of a Go function name as pprof prints it (`package/path.(*Type).Method`). */
export function goAreaOf(fn: string): string {
  return GO_AREAS.find(({ pattern }) => pattern.test(fn))?.area ?? OTHER_AREA;
}

/** Self time per area, in milliseconds, over every function of a profile. */
export function selfTimeByArea(entries: readonly TopEntry[]): Record<string, number> {
  const areas: Record<string, number> = {};
  for (const e of entries) areas[goAreaOf(e.function)] = (areas[goAreaOf(e.function)] ?? 0) + e.flatMs;
  return areas;
}

/**
 * Summarizes each profile with `go tool pprof -top` over every node (Go on the PATH): its CPU, its self
 * time by area, and the Temporal server's own functions with the most cumulative time (the operations
 * the CPU goes to). A profile it cannot read keeps empty figures.
 */
export function summarizeServerProfiles(files: readonly string[], nodes = 8): ServiceProfile[] {
  return files.map((file) => {
    const service = file.slice(file.lastIndexOf('/') + 1).replace(/\.pb\.gz$/, '');
    const run = spawnSync('go', ['tool', 'pprof', '-top', '-nodecount=1000000', '-nodefraction=0', '-edgefraction=0', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.status !== 0) return { service, file, areas: {}, top: [] };
    const { totalMs, top: all } = parsePprofTop(run.stdout);
    const top = all
      // The operations, not the layers every call passes through (interceptors, handlers, client wrappers).
      .filter((e) => e.function.startsWith('go.temporal.io/server/') && !WRAPPERS.test(e.function))
      .sort((a, b) => b.cumMs - a.cumMs)
      .slice(0, nodes);
    return { service, file, ...(totalMs === undefined ? {} : { totalMs }), areas: selfTimeByArea(all), top };
  });
}

/** Markdown: each service's CPU over the capture and its self time by area, then its busiest operations. */
export function formatServerProfiles(profiles: readonly ServiceProfile[], seconds: number): string {
  const round = (n: number) => Math.round(n);
  const names = [...GO_AREAS.map((a) => a.area), OTHER_AREA];
  const share = (p: ServiceProfile, area: string) => (p.totalMs ? `${((100 * (p.areas[area] ?? 0)) / p.totalMs).toFixed(1)} %` : '–');
  const lines = [
    `CPU of each Temporal service over a ${seconds} s capture, and its self time by area:`,
    '',
    `| service | CPU ms sampled | ${names.join(' | ')} |`,
    `| --- | --- | ${names.map(() => '---').join(' | ')} |`,
  ];
  for (const p of profiles) lines.push(`| ${p.service} | ${p.totalMs === undefined ? 'not read (is Go on the PATH?)' : round(p.totalMs)} | ${names.map((n) => share(p, n)).join(' | ')} |`);
  for (const p of profiles) {
    if (p.top.length === 0) continue;
    lines.push('', `${p.service}: the server's own functions with the most cumulative CPU:`, '', '| function | cumulative ms | cumulative % |', '| --- | --- | --- |');
    for (const t of p.top) lines.push(`| \`${t.function}\` | ${round(t.cumMs)} | ${t.cumShare} |`);
  }
  return lines.join('\n');
}
