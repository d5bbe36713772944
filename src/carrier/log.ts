// The carrier's log: one JSON object per line on stderr, as the worker writes them, without the
// Temporal runtime the carrier does not load.
import type { CarrierLogLevel } from './config';

/** Writes one log line at `level` with its fields. */
export type CarrierLogger = (level: CarrierLogLevel, msg: string, fields?: Record<string, unknown>) => void;

const rank: Record<CarrierLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that drops lines below `minimum`. */
export function carrierLogger(minimum: CarrierLogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): CarrierLogger {
  return (level, msg, fields = {}) => {
    if (rank[level] < rank[minimum]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, process: 'carrier', ...fields })}\n`);
  };
}
