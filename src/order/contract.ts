import { z } from 'zod';
import { formatMoney } from '../shared/format';
import { buildOnce } from '../shared/schema-cache';
import { beforeStrictText, emailSchema, idSchema, textSchema } from '../shared/validation';
import { OrderOutcome } from '../shared/order-outcome';

// The order saga's contract: its input, its result, and the input of each of its activities, all
// built from the same definitions so that an item or a currency means one thing at every boundary
// (client, workflow start, activity). Sandbox-safe: the workflow parses its input with it.

/** The rules every list of order lines obeys, priced or not. */
function orderLines<T extends z.ZodType<{ sku: string }>>(line: T) {
  return z
    .array(line)
    .min(1, 'an order needs at least one item')
    .max(100, 'an order has at most 100 lines')
    .refine((lines) => new Set(lines.map((l) => l.sku)).size === lines.length, 'each SKU may appear once');
}

/**
 * Total of an order in cents. Exact: the order schema's bounds (100 lines, 10,000 units, 1,000,000.00
 * per unit) keep it below 10^14, far under `Number.MAX_SAFE_INTEGER`.
 */
export function orderTotalCents(items: readonly { quantity: number; unitPriceCents: number }[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
}

export type OrderInput = z.input<typeof orderInputSchema>;
/** Input of the `recordOrderOutcome` activity: how the order ended, without customer data. */
export type RecordOrderOutcomeInput = z.input<typeof recordOrderOutcomeInput>;
export type ValidOrderInput = z.output<typeof orderInputSchema>;

/**
 * What a completed order saga returns: the business fields only. The step records are not repeated
 * here (about 1.3 KB of every result); the `sagaState` query answers with them, also after the
 * workflow has closed, as long as a worker runs. Results of orders completed before 0.3.0 still carry
 * a `steps` array; nothing reads it.
 */
export interface OrderResult {
  orderId: string;
  status: 'COMPLETED';
  totalCents: number;
  currency: string;
  itemCount: number;
  paymentId: string;
  shipmentId: string;
  carrier: string;
  trackingNumber: string;
  /** Whether the confirmation e-mail went out; its failure never undoes the order. */
  confirmationSent: boolean;
  confirmationError?: string;
}

/** The one-line summary shown for an order in the Web UI: `Order o-17: 3 items, 89.97 EUR`. */
export function orderSummary(input: { orderId: string; items: readonly { quantity: number; unitPriceCents: number }[]; currency?: string }): string {
  const units = input.items.reduce((n, item) => n + item.quantity, 0);
  return `Order ${input.orderId}: ${units} item${units === 1 ? '' : 's'}, ${formatMoney(orderTotalCents(input.items), input.currency ?? 'EUR')}`;
}

function buildOrderSchemas() {
  const skuSchema = z.string().regex(/^sku-[a-z0-9-]{1,48}$/, 'a SKU looks like "sku-widget"');

  /**
   * An ISO 4217 currency code, upper-cased first: `eur` means EUR. Upper-casing only accepts what was
   * refused before, so an order started under the older rule parses the same on replay.
   */
  const currencySchema = z.string().toUpperCase().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as "EUR"');

  const quantitySchema = z.number().int().min(1).max(10_000);

  const orderItemSchema = z.strictObject({
    sku: skuSchema,
    quantity: quantitySchema,
    unitPriceCents: z.number().int().min(0).max(100_000_000),
  });

  const shippingAddressSchema = z.strictObject({
    name: textSchema(120),
    line1: textSchema(200),
    city: textSchema(100),
    postalCode: z.string().trim().regex(/^[A-Za-z0-9 -]{2,12}$/, 'not a postal code'),
    // Upper-cased first, as the currency: `de` means DE.
    country: z.string().toUpperCase().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 country code such as "DE"'),
  });

  const paymentTokenSchema = z.string().regex(/^tok_[a-z0-9_]{1,40}$/, 'a payment token looks like "tok_visa"');

  /** Input of the order saga. */
  const orderInputSchema = z.strictObject({
    orderId: idSchema,
    customerId: idSchema,
    email: emailSchema,
    currency: currencySchema.default('EUR'),
    items: orderLines(orderItemSchema)
      // A line may be free (a gift), an order may not: there would be nothing to authorize, and the
      // payment step refuses a zero amount. Refused here, at the client and at the workflow's start.
      .refine((items) => orderTotalCents(items) >= 1, 'the order total must be at least 1 cent: free orders are not taken'),
    payment: z.strictObject({ token: paymentTokenSchema }),
    shippingAddress: shippingAddressSchema,
  });

  /**
   * The input rules orders were started under before addresses had to be ASCII, text was
   * NFKC-normalized and free of invisible characters, and free orders were refused. The workflow
   * parses an order started then with these (its patch `order-strict-input`): today's rules would
   * refuse some of them and fail, on replay, an order that is running or waiting for an operator.
   */
  const orderInputBeforeStrictTextSchema = orderInputSchema.extend({
    email: beforeStrictText.emailSchema,
    items: orderLines(orderItemSchema),
    shippingAddress: shippingAddressSchema.extend({
      name: beforeStrictText.textSchema(120),
      line1: beforeStrictText.textSchema(200),
      city: beforeStrictText.textSchema(100),
    }),
  });

  // Activity inputs. Unknown keys are dropped rather than refused (`z.object`), so a workflow may pass
  // richer objects (order lines with prices) without breaking the step.
  const cents = z.number().int().max(Number.MAX_SAFE_INTEGER);
  const stockLines = orderLines(z.object({ sku: skuSchema, quantity: quantitySchema }));

  const reserveStockInput = z.object({ orderId: idSchema, items: stockLines });
  const orderRefInput = z.object({ orderId: idSchema });
  const authorizePaymentInput = z.object({ orderId: idSchema, token: paymentTokenSchema, amountCents: cents.min(1), currency: currencySchema });
  const createShipmentInput = z.object({ orderId: idSchema, address: shippingAddressSchema, items: stockLines });
  const orderConfirmationInput = z.object({
    orderId: idSchema,
    email: emailSchema,
    totalCents: cents.min(0),
    currency: currencySchema,
    itemCount: z.number().int().min(1).max(1_000_000),
  });
  const stepName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'a step name');
  const recordOrderOutcomeInput = z.object({
    orderId: idSchema,
    outcome: z.enum(OrderOutcome),
    failure: z.strictObject({ type: z.string().min(1).max(100), step: stepName.optional() }).optional(),
    undone: z.array(stepName).max(100),
    totalCents: cents.min(0),
    currency: currencySchema,
    itemCount: z.number().int().min(1).max(1_000_000),
    startedAt: z.iso.datetime().optional(),
  });
  return {
    skuSchema,
    currencySchema,
    orderItemSchema,
    shippingAddressSchema,
    orderInputSchema,
    orderInputBeforeStrictTextSchema,
    reserveStockInput,
    orderRefInput,
    authorizePaymentInput,
    createShipmentInput,
    orderConfirmationInput,
    recordOrderOutcomeInput,
  };
}

// Built once per worker thread, not on every workflow start (see shared/schema-cache.ts).
export const {
  skuSchema,
  currencySchema,
  orderItemSchema,
  shippingAddressSchema,
  orderInputSchema,
  orderInputBeforeStrictTextSchema,
  reserveStockInput,
  orderRefInput,
  authorizePaymentInput,
  createShipmentInput,
  orderConfirmationInput,
  recordOrderOutcomeInput,
} = buildOnce('order-contract', buildOrderSchemas);
