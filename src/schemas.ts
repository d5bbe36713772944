import { z } from 'zod';
import { msToNumber, type Duration } from '@temporalio/common';
import { businessFailure, FailureType } from './failures';
import { orderTotalCents } from './format';
import { buildOnce } from './schema-cache';

// Input schemas for the sagas. They run at the edge (the client) and again when a workflow starts, so
// they must stay deterministic and sandbox-safe: zod only, no I/O. They are built once per worker
// thread (see schema-cache.ts): building them took a fifth of the workflow thread's CPU when every
// workflow start did it.

function buildSchemas() {
  const id = z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');

  // Invisible and control characters (`\p{C}`: zero-width space, right-to-left override, C0 and C1
  // controls, NUL, unassigned code points) make two strings that look the same compare different, or
  // make a log line lie about its content. Text is NFKC-normalized first, so full-width and other
  // compatibility forms fold into the letters they look like.
  const INVISIBLE_OR_CONTROL = /\p{C}/u;
  const NON_ASCII = /[^\x20-\x7e]/;

  /**
   * An e-mail address: NFKC-normalized, lower case, ASCII only. Letters of other scripts are refused
   * rather than kept, because a Cyrillic "а" looks like a Latin "a": two addresses that look the same
   * must not make two accounts. Kept deliberately plain otherwise: the mail service is the real judge.
   */
  const emailSchema = z
    .string()
    .trim()
    .max(254)
    .normalize('NFKC')
    .toLowerCase()
    .refine((s) => !INVISIBLE_OR_CONTROL.test(s), 'invisible and control characters are not allowed')
    .refine((s) => !NON_ASCII.test(s), 'only ASCII e-mail addresses are accepted')
    .regex(/^[^\s@<>()[\]\\,;:"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/, 'not an e-mail address');

  const text = (max: number) =>
    z
      .string()
      .trim()
      .normalize('NFKC')
      .min(1)
      .max(max)
      .refine((s) => !INVISIBLE_OR_CONTROL.test(s), 'invisible and control characters are not allowed');

  const skuSchema = z.string().regex(/^sku-[a-z0-9-]{1,48}$/, 'a SKU looks like "sku-widget"');

  const orderItemSchema = z.strictObject({
    sku: skuSchema,
    quantity: z.number().int().min(1).max(10_000),
    unitPriceCents: z.number().int().min(0).max(100_000_000),
  });

  const shippingAddressSchema = z.strictObject({
    name: text(120),
    line1: text(200),
    city: text(100),
    postalCode: z.string().trim().regex(/^[A-Za-z0-9 -]{2,12}$/, 'not a postal code'),
    country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 country code such as "DE"'),
  });

  /** Input of the order saga. */
  const orderInputSchema = z.strictObject({
    orderId: id,
    customerId: id,
    email: emailSchema,
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .default('EUR'),
    items: z
      .array(orderItemSchema)
      .min(1, 'an order needs at least one item')
      .max(100, 'an order has at most 100 lines')
      .refine((items) => new Set(items.map((i) => i.sku)).size === items.length, 'each SKU may appear once')
      // A line may be free (a gift), an order may not: there would be nothing to authorize, and the
      // payment step refuses a zero amount. Refused here, at the client and at the workflow's start.
      .refine((items) => orderTotalCents(items) >= 1, 'the order total must be at least 1 cent: free orders are not taken'),
    payment: z.strictObject({ token: z.string().regex(/^tok_[a-z0-9_]{1,40}$/, 'a payment token looks like "tok_visa"') }),
    shippingAddress: shippingAddressSchema,
  });

  /** Input of the registration saga. */
  const registrationInputSchema = z.strictObject({
    userId: id.optional(),
    email: emailSchema,
    name: text(120),
    /**
     * How long the user has to verify the address: milliseconds, or a duration such as `"24h"` or
     * `"30 minutes"`. Between one second and 30 days. @default "24h"
     */
    verificationTimeout: z
      .union([z.number(), z.string().max(32)])
      .default('24h')
      .transform((value, ctx) => {
        let ms: number;
        try {
          ms = msToNumber(value as Duration);
        } catch {
          ms = Number.NaN;
        }
        if (!Number.isInteger(ms) || ms < 1_000 || ms > 30 * 24 * 3_600_000) {
          ctx.addIssue({ code: 'custom', message: 'a duration between "1s" and "30d"' });
          return z.NEVER;
        }
        return ms;
      }),
  });

  return { emailSchema, skuSchema, orderItemSchema, shippingAddressSchema, orderInputSchema, registrationInputSchema };
}

const schemas = buildOnce('saga-input-schemas', buildSchemas);

/** An e-mail address: NFKC-normalized, lower case, ASCII only (see `buildSchemas`). */
export const emailSchema = schemas.emailSchema;
/** A SKU such as `sku-widget`. */
export const skuSchema = schemas.skuSchema;
/** One line of an order. */
export const orderItemSchema = schemas.orderItemSchema;
/** Where an order ships. */
export const shippingAddressSchema = schemas.shippingAddressSchema;
/** Input of the order saga. */
export const orderInputSchema = schemas.orderInputSchema;
/** Input of the registration saga. */
export const registrationInputSchema = schemas.registrationInputSchema;

export type OrderInput = z.input<typeof orderInputSchema>;
export type ValidOrderInput = z.output<typeof orderInputSchema>;

export type RegistrationInput = z.input<typeof registrationInputSchema>;
export type ValidRegistrationInput = z.output<typeof registrationInputSchema>;

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
