// Failure messages, operator notes and step names come from sagas, that is from whoever could start
// or repair one. Printed raw, an escape sequence in them would drive the operator's terminal
// (recolour, clear the screen, rewrite the title, hide text), and a bidirectional override would
// show text in another order than it is. Everything the client prints passes through here.

/** Control characters (C0, DEL, C1), line and paragraph separators, and bidirectional controls. */
const UNSAFE = /[\p{Cc}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

function escape(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every unsafe character shown as an escape (`\x1b`, `\u202e`), newlines included. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Lines of output for a terminal: line breaks stay, every other unsafe character is escaped. */
export function terminalSafeLines(text: string): string {
  return text.split('\n').map(terminalSafe).join('\n');
}

/** What `JSON.stringify` leaves raw of {@link UNSAFE}: it escapes C0 controls only. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Text from `JSON.stringify` that stays valid JSON and holds no unsafe character raw. Outside
 * strings, JSON text has none of {@link UNSAFE_IN_JSON} (its indentation is spaces and line breaks),
 * so each one found is inside a string and becomes a `\uXXXX` escape there.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** A copy of `value` whose strings are {@link terminalSafe}: for text made of a saga's fields. */
export function terminalSafeDeep<T>(value: T): T {
  if (typeof value === 'string') return terminalSafe(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => terminalSafeDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, terminalSafeDeep(v)])) as T;
  }
  return value;
}
