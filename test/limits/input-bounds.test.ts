import { describe, expect, it } from 'vitest';
import { orderInputSchema, type OrderInput } from '../../src/order/contract';
import { registrationInputSchema } from '../../src/registration/contract';
import { sampleOrder } from '../support/samples';

// Every bound of the sagas' inputs, pinned from both sides: the value at the bound is accepted, the
// first value past it refused. The same schemas run in the client and at workflow start.

const item = { sku: 'sku-widget', quantity: 1, unitPriceCents: 1999 };

const order = (overrides: Partial<OrderInput> = {}): OrderInput => sampleOrder({ orderId: 'o-1', items: [item], ...overrides });

const lines = (n: number) => Array.from({ length: n }, (_, i) => ({ ...item, sku: `sku-line-${i + 1}` }));

function problems(result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }): string[] {
  return result.success ? [] : result.error!.issues.map((i) => i.path.join('.'));
}

// A second, ordinary line, so that a line at its own bound is judged alone and not by the order total.
const paid = { sku: 'sku-gadget', quantity: 1, unitPriceCents: 100 };

describe('order input bounds', () => {
  it.each([
    ['the most cart lines', 'items', lines(100), lines(101)],
    ['the fewest cart lines', 'items', lines(1), []],
    ['the largest quantity of a line', 'items.0.quantity', [{ ...item, quantity: 10_000 }, paid], [{ ...item, quantity: 10_001 }, paid]],
    ['the smallest quantity of a line', 'items.0.quantity', [{ ...item, quantity: 1 }, paid], [{ ...item, quantity: 0 }, paid]],
    ['the largest unit price', 'items.0.unitPriceCents', [{ ...item, unitPriceCents: 100_000_000 }, paid], [{ ...item, unitPriceCents: 100_000_001 }, paid]],
    ['the smallest unit price', 'items.0.unitPriceCents', [{ ...item, unitPriceCents: 0 }, paid], [{ ...item, unitPriceCents: -1 }, paid]],
  ] as const)('accepts %s allowed and refuses one past it', (_, path, atLimit, pastLimit) => {
    expect(problems(orderInputSchema.safeParse(order({ items: [...atLimit] })))).toEqual([]);
    expect(problems(orderInputSchema.safeParse(order({ items: [...pastLimit] })))).toContain(path);
  });

  it('accepts the largest order of all (100 lines of 10,000 units at 1,000,000.00) as an exact integer total', () => {
    const parsed = orderInputSchema.parse(order({ items: lines(100).map((l) => ({ ...l, quantity: 10_000, unitPriceCents: 100_000_000 })) }));
    const total = parsed.items.reduce((n, l) => n + l.quantity * l.unitPriceCents, 0);
    expect(total).toBe(100_000_000_000_000);
    expect(Number.isSafeInteger(total)).toBe(true);
  });

  it('accepts ids of 64 characters and refuses 65', () => {
    expect(problems(orderInputSchema.safeParse(order({ orderId: 'o'.repeat(64) })))).toEqual([]);
    expect(problems(orderInputSchema.safeParse(order({ orderId: 'o'.repeat(65) })))).toEqual(['orderId']);
  });

  it('accepts an e-mail address of 254 characters and refuses 255', () => {
    const address = (length: number) => `${'a'.repeat(length - '@example.com'.length)}@example.com`;
    expect(problems(orderInputSchema.safeParse(order({ email: address(254) })))).toEqual([]);
    expect(problems(orderInputSchema.safeParse(order({ email: address(255) })))).toEqual(['email']);
  });

  it('bounds an e-mail address once normalized: 254 characters after NFKC are accepted, 255 refused, from an input of 95', () => {
    // Each "㍱" (U+3371) becomes the three letters "hpa" under NFKC and lower case.
    const address = (letters: number) => `${'㍱'.repeat(80)}${'a'.repeat(letters)}@example.com`;
    expect(address(3)).toHaveLength(95);
    expect(orderInputSchema.parse(order({ email: address(2) })).email).toHaveLength(254);
    expect(problems(orderInputSchema.safeParse(order({ email: address(3) })))).toEqual(['email']);
    expect(problems(registrationInputSchema.safeParse({ email: address(3), name: 'Grace Hopper' }))).toEqual(['email']);
  });
});

describe('registration input bounds', () => {
  const registration = { email: 'grace@example.com', name: 'Grace Hopper' };

  it.each([
    ['shortest', '1s', 1_000, 999],
    ['shortest, in milliseconds', 1_000, 1_000, '999ms'],
    ['longest', '30d', 30 * 24 * 3_600_000, 30 * 24 * 3_600_000 + 1],
  ] as const)('accepts the %s verification timeout and refuses one millisecond past it', (_, atLimit, ms, pastLimit) => {
    expect(registrationInputSchema.parse({ ...registration, verificationTimeout: atLimit }).verificationTimeout).toBe(ms);
    expect(problems(registrationInputSchema.safeParse({ ...registration, verificationTimeout: pastLimit }))).toEqual(['verificationTimeout']);
  });

  it('accepts a name of 120 characters and refuses 121', () => {
    expect(problems(registrationInputSchema.safeParse({ ...registration, name: 'n'.repeat(120) }))).toEqual([]);
    expect(problems(registrationInputSchema.safeParse({ ...registration, name: 'n'.repeat(121) }))).toEqual(['name']);
  });
});
