import type { OrderInput } from '../../src/order/contract';
import type { RegistrationInput } from '../../src/registration/contract';

// The sample inputs every test starts from, so a change to a contract is made here once. Ids are unique
// per call (a counter and the time), so tests never collide on one server, nor with an earlier run.

let counter = 0;

/** `${prefix}-<n>-<time>`: unique in this process and across reruns. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${Date.now().toString(36)}`;
}

/** The address every sample order ships to: London, served by a carrier. */
export const sampleAddress = { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };

/**
 * A valid order that completes on the seeded catalog: 2 × `sku-widget` at 19.99 EUR, paid with
 * `tok_visa`, shipped to {@link sampleAddress}; a fresh `orderId` unless overridden.
 */
export function sampleOrder(overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId: uniqueId('o'),
    customerId: 'c-1',
    email: 'ada@example.com',
    items: [{ sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 }],
    payment: { token: 'tok_visa' },
    shippingAddress: sampleAddress,
    ...overrides,
  };
}

/** A valid registration with a fresh user id and address unless overridden; the default deadline ("24h"). */
export function sampleRegistration(overrides: Partial<RegistrationInput> = {}): RegistrationInput & { userId: string; email: string } {
  const userId = uniqueId('u');
  return { userId, email: `grace.${userId}@example.com`, name: 'Grace Hopper', ...overrides } as RegistrationInput & { userId: string; email: string };
}
