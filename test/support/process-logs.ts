// Reading the logs of the processes the stacks start, to tell when each did what: the JSON lines of the
// worker, the carrier and the relay, and nats-server's own lines.
import { readFileSync } from 'node:fs';

/** The entries of a JSON-lines log whose `msg` is `msg` (other lines, plain text included, are skipped). */
export function jsonLogEntries(file: string, msg: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === msg);
}

/** When a nats-server last began to shut down (ms since the epoch), from its log (appended across restarts); undefined if it never did. */
export function natsShutdownTime(file: string): number | undefined {
  // nats-server stamps its lines in local time: "[pid] 2026/12/07 18:22:22.097030 [INF] Initiating Shutdown...".
  const stamp = [...readFileSync(file, 'utf8').matchAll(/^\[\d+\] (\d+)\/(\d+)\/(\d+) (\d+):(\d+):(\d+)\.(\d{3})\d* \[INF\] Initiating Shutdown/gm)].at(-1);
  if (!stamp) return undefined;
  const [y, mo, d, h, mi, s, ms] = stamp.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi, s, ms).getTime();
}
