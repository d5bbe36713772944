import type { OrderInput } from '../../src/order/contract';
import type { RegistrationInput } from '../../src/registration/contract';
import { sampleOrder as demoOrder } from '../../scripts/lib/sample-order';

// The sample inputs every test starts from, so a change to a contract is made here once. Ids are unique
// per call (a counter and the time), so tests never collide on one server, nor with an earlier run.

let counter = 0;

/** `${prefix}-<n>-<time>`: unique in this process and across reruns. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${Date.now().toString(36)}`;
}

/** The address every sample order ships to: London, served by a carrier (the demo's, from scripts/lib). */
export const sampleAddress = demoOrder('address').shippingAddress;

/**
 * A valid order that completes on the seeded catalog: the demo's order (scripts/lib/sample-order.ts)
 * with one line, 2 × `sku-widget` at 19.99 EUR, so totals stay easy to check; a fresh `orderId` unless
 * overridden.
 */
export function sampleOrder(overrides: Partial<OrderInput> = {}): OrderInput {
  return demoOrder(uniqueId('o'), { customerId: 'c-1', items: [{ sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 }], ...overrides });
}

/** A valid registration with a fresh user id and address unless overridden; the default deadline ("24h"). */
export function sampleRegistration(overrides: Partial<RegistrationInput> = {}): RegistrationInput & { userId: string; email: string } {
  const userId = uniqueId('u');
  return { userId, email: `grace.${userId}@example.com`, name: 'Grace Hopper', ...overrides } as RegistrationInput & { userId: string; email: string };
}
