import { z } from 'zod';
import { emailSchema, orderInputSchema, registrationInputSchema, shippingAddressSchema, skuSchema } from '../schemas';

// Activity inputs, checked before any service is called. Unknown keys are dropped rather than refused,
// so a workflow may pass richer objects (order lines with prices) without breaking the step.

const id = orderInputSchema.shape.orderId;
const name = registrationInputSchema.shape.name;
const currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as "EUR"');
const cents = z.number().int().max(Number.MAX_SAFE_INTEGER);

const items = z
  .array(z.object({ sku: skuSchema, quantity: z.number().int().min(1).max(10_000) }))
  .min(1, 'an order needs at least one item')
  .max(100, 'an order has at most 100 lines')
  .refine((lines) => new Set(lines.map((l) => l.sku)).size === lines.length, 'each SKU may appear once');

export const reserveStockInput = z.object({ orderId: id, items });
export const orderRefInput = z.object({ orderId: id });
export const authorizePaymentInput = z.object({
  orderId: id,
  token: orderInputSchema.shape.payment.shape.token,
  amountCents: cents.min(1),
  currency,
});
export const createShipmentInput = z.object({ orderId: id, address: shippingAddressSchema, items });
export const orderConfirmationInput = z.object({
  orderId: id,
  email: emailSchema,
  totalCents: cents.min(0),
  currency,
  itemCount: z.number().int().min(1).max(1_000_000),
});
export const userRefInput = z.object({ userId: id });
export const newUserInput = z.object({ userId: id, email: emailSchema, name });
export const verificationEmailInput = z.object({ userId: id, email: emailSchema, name, sequence: z.number().int().min(1).max(100) });
export const registrationFailedInput = z.object({ userId: id, email: emailSchema, name, reason: z.string().trim().min(1).max(500) });
export const operatorAlertInput = z.object({
  workflowId: z.string().min(1).max(255),
  subject: z.string().trim().min(1).max(1_000),
  body: z.string().min(1).max(100_000),
});
export const verificationCodeInput = z.object({ userId: id, code: z.string().trim().min(1).max(64) });
