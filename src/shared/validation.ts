import { z } from 'zod';
import { businessFailure, FailureType } from './failures';
import { isRefusedPayload, unencryptedPayloadFailure } from './refused-payload';
import { buildOnce } from './schema-cache';

// The building blocks of the sagas' contracts and the one way to parse at a boundary. They run at the
// client, when a workflow starts and in activities, so they stay deterministic and sandbox-safe: zod
// only, no I/O.

// Invisible and control characters (`\p{C}`: zero-width space, right-to-left override, C0 and C1
// controls, NUL, unassigned code points) make two strings that look the same compare different, or
// make a log line lie about its content. Text is NFKC-normalized first, so full-width and other
// compatibility forms fold into the letters they look like.
const INVISIBLE_OR_CONTROL = /\p{C}/u;
const NON_ASCII = /[^\x20-\x7e]/;

function buildBaseSchemas() {
  /** An id chosen by the caller (order, customer, user): 1 to 64 letters, digits, ".", "_" and "-". */
  const idSchema = z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');

  /**
   * An e-mail address: NFKC-normalized, lower case, ASCII only. Letters of other scripts are refused
   * rather than kept, because a Cyrillic "а" looks like a Latin "a": two addresses that look the same
   * must not make two accounts. Kept deliberately plain otherwise: the mail service is the real judge.
   */
  // Bounded after NFKC, not before: one compatibility character can unfold into several letters
  // ("㍱" is "hPa"), so a short input could otherwise grow past the bound once normalized.
  const emailSchema = z
    .string()
    .trim()
    .normalize('NFKC')
    .toLowerCase()
    .max(254)
    .refine((s) => !INVISIBLE_OR_CONTROL.test(s), 'invisible and control characters are not allowed')
    .refine((s) => !NON_ASCII.test(s), 'only ASCII e-mail addresses are accepted')
    .regex(/^[^\s@<>()[\]\\,;:"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/, 'not an e-mail address');
  return { idSchema, emailSchema };
}

// Built once per worker thread, not on every workflow start (see schema-cache.ts).
export const { idSchema, emailSchema } = buildOnce('validation', buildBaseSchemas);

/** Human text of 1 to `max` characters: trimmed, NFKC-normalized, no invisible or control characters. */
export function textSchema(max: number) {
  return buildOnce(`text:${max}`, () => z
    .string()
    .trim()
    .normalize('NFKC')
    .min(1)
    .max(max)
    .refine((s) => !INVISIBLE_OR_CONTROL.test(s), 'invisible and control characters are not allowed'));
}

/**
 * The text and address rules before they were made strict (NFKC, ASCII-only addresses, no invisible
 * characters): kept for the sagas started under them, which parse their input again whenever they
 * replay and must accept what they were started with (each saga's patch `*-strict-input`).
 */
export const beforeStrictText = buildOnce('validation-before-strict-text', () => ({
  emailSchema: z
    .string()
    .trim()
    .max(254)
    .toLowerCase()
    .regex(/^[^\s@<>()[\]\\,;:"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/, 'not an e-mail address'),
  textSchema: (max: number) =>
    z
      .string()
      .trim()
      .min(1)
      .max(max)
      .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'control characters are not allowed'),
}));

/** One line per problem: `items.0.quantity: Too small: expected number to be >=1`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`).join('; ');
}

/** Thrown by {@link parseOrThrow} before any side effect: the input and every problem with it. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
  constructor(
    readonly what: string,
    readonly problems: string,
  ) {
    super(`Invalid ${what}: ${problems}`);
  }
}

/** Parses input at the client edge; throws {@link InvalidInputError} listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, what: string, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidInputError(what, describeIssues(result.error));
  return result.data;
}

/** Parses input inside a workflow or activity; throws a non-retryable `InvalidInput` failure. */
export function parseOrFail<S extends z.ZodType>(schema: S, what: string, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw businessFailure(FailureType.InvalidInput, `Invalid ${what}: ${describeIssues(result.error)}`);
  return result.data;
}

/**
 * Parses a workflow's input with today's rules and, only when they refuse it, asks `strictRules()` (a
 * `patched()` call) whether the workflow started under them: one started before them is parsed with
 * the earlier rules it was accepted under. An input today's rules accept was accepted before too, so
 * the common path asks nothing and records no patch marker. An input the worker's codec refused as
 * unencrypted fails with `UnencryptedPayload` instead.
 */
export function parseStrictOrEarlier<S extends z.ZodType, E extends z.ZodType>(strict: S, earlier: E, strictRules: () => boolean, what: string, input: unknown): z.output<S> | z.output<E> {
  // Before any rule: an input the worker's codec refused is not invalid, it is unreadable here.
  if (isRefusedPayload(input)) throw unencryptedPayloadFailure(what);
  const result = strict.safeParse(input);
  if (result.success) return result.data;
  return strictRules() ? parseOrFail(strict, what, input) : parseOrFail(earlier, what, input);
}
