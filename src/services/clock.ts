let last = 0;

/**
 * The current time as ISO 8601 with microseconds, strictly increasing within the process: rows written
 * one after the other sort in that order even within one millisecond (the latest verification e-mail).
 */
export function timestamp(): string {
  let micros = Date.now() * 1000;
  if (micros <= last) micros = last + 1;
  last = micros;
  return new Date(Math.floor(micros / 1000)).toISOString().replace('Z', `${String(micros % 1000).padStart(3, '0')}Z`);
}
