// The load generator and the resource meter. Closed loop: `concurrency` lanes each start the next
// workflow as soon as their previous one has finished, until `count` have been started, so the number
// in flight stays at the level being measured instead of growing without bound.

import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** What a closed-loop run observed. */
export interface LoopResult {
  /** End-to-end latency (start call to result) of every job that succeeded, in ms. */
  latencies: number[];
  /** Messages of the jobs that failed or did not end as expected. */
  errors: string[];
  /** Wall time from the first start to the last result, in ms. */
  elapsedMs: number;
}

/** Runs `count` jobs with at most `concurrency` in flight; `job(n)` gets the job's sequence number. */
export async function closedLoop(count: number, concurrency: number, job: (n: number) => Promise<unknown>): Promise<LoopResult> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      const started = performance.now();
      try {
        await job(n);
        latencies.push(performance.now() - started);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return { latencies, errors, elapsedMs: performance.now() - t0 };
}

/** Resources used between `start()` and `stop()`. */
export interface ResourceUse {
  /** CPU time of this process (worker and client), user plus system, in ms. */
  cpuMs: number;
  /** CPU time of the Temporal server process, in ms; absent when it is not a local process we know. */
  serverCpuMs?: number;
  /** Highest resident set size of this process seen while measuring, in MiB (sampled every 100 ms). */
  peakRssMb: number;
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU time of a local process in ms from `/proc/<pid>/stat` (Linux), or undefined when unreadable. */
export function processCpuMs(pid: number | readonly number[]): number | undefined {
  // A server of several processes (the cluster): their sum, or nothing when one is gone.
  if (typeof pid !== 'number') {
    const each = pid.map((p) => processCpuMs(p));
    return each.every((ms) => ms !== undefined) ? each.reduce<number>((n, ms) => n + (ms ?? 0), 0) : undefined;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: the fields that follow it start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Measures this process's CPU time and peak RSS, and the server's CPU time when its pid is known. */
export class ResourceMeter {
  private cpu = process.cpuUsage();
  private serverCpu: number | undefined;
  private peakRss = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly serverPid?: number | readonly number[]) {}

  /** Starts measuring. */
  start(): void {
    this.cpu = process.cpuUsage();
    this.serverCpu = this.serverPid === undefined ? undefined : processCpuMs(this.serverPid);
    this.peakRss = process.memoryUsage.rss();
    this.timer = setInterval(() => {
      this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
    }, 100);
    this.timer.unref();
  }

  /** Stops measuring and returns what was used since `start()`. */
  stop(): ResourceUse {
    clearInterval(this.timer);
    const { user, system } = process.cpuUsage(this.cpu);
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
    const use: ResourceUse = { cpuMs: (user + system) / 1000, peakRssMb: this.peakRss / 2 ** 20 };
    const serverNow = this.serverPid === undefined ? undefined : processCpuMs(this.serverPid);
    if (serverNow !== undefined && this.serverCpu !== undefined) use.serverCpuMs = serverNow - this.serverCpu;
    return use;
  }
}

/** Child processes of `ppid` (Linux `/proc`), e.g. PostgreSQL's backends under its postmaster. */
export function childPids(ppid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) children.push(Number(entry));
    } catch {
      // The process ended while the folder was read.
    }
  }
  return children;
}

/** CPU time of each process in `pids` that is alive, in ms. */
export function cpuSnapshot(pids: readonly number[]): Map<number, number> {
  const snapshot = new Map<number, number>();
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms !== undefined) snapshot.set(pid, ms);
  }
  return snapshot;
}

/** CPU spent between two snapshots; a process born in between counts whole, one that ended counts nothing after its last reading. */
export function cpuBetween(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let ms = 0;
  for (const [pid, now] of after) ms += now - (before.get(pid) ?? 0);
  return ms;
}

/** `promise`, or a rejection naming `what` once `ms` have passed: one stuck workflow must not hold a bounded run forever. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
