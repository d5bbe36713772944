import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';

/** One JSON object per line on stderr: time, level, message and the SDK's metadata (workflow id, activity…). */
export function jsonLogger(level: LogLevel = 'INFO'): DefaultLogger {
  return new DefaultLogger(level, (entry: LogEntry) => {
    const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    process.stderr.write(`${JSON.stringify({ time, level: entry.level.toLowerCase(), msg: entry.message, ...entry.meta }, jsonSafe)}\n`);
  });
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
