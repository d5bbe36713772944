import { describe, expect, it } from 'vitest';
import { operatorAlertInput } from '../../src/operator/contract';
import { createShipmentInput, orderConfirmationInput, orderInputSchema } from '../../src/order/contract';
import { registrationFailedInput, registrationInputSchema, verificationCodeInput } from '../../src/registration/contract';
import { sampleOrder } from '../support/samples';

// Every field the contracts normalize, each checked by what the schema hands on: an input written as a
// user might type it (spaces around it, full-width letters, lower-case codes) comes out as the one
// value the services store and compare. A field that lost its normalization would store a second
// spelling of the same thing: two customers, a postal code with a space the carrier refuses.

// Full-width Latin letters (U+FF21…), which NFKC folds into ASCII.
const fullWidth = (s: string) => [...s].map((c) => (/[A-Za-z]/.test(c) ? String.fromCodePoint(c.codePointAt(0)! + 0xfee0) : c)).join('');

const address = { name: 'Grace Hopper', line1: '1 Main Street', city: 'London', postalCode: 'SW1A 1AA', country: 'GB' };

describe('the order input normalizes every field it promises to', () => {
  const typed = sampleOrder({
    orderId: '  o-typed-1  ',
    customerId: ' c-1\t',
    email: `  ${fullWidth('Grace')}@Example.COM `,
    currency: 'eur',
    shippingAddress: { name: `  ${fullWidth('Grace')} Hopper `, line1: ` ${fullWidth('1 Main')} Street `, city: `\t${fullWidth('London')} `, postalCode: ' SW1A 1AA ', country: 'gb' },
  });
  const parsed = orderInputSchema.parse(typed);

  it.each([
    ['orderId (trimmed)', parsed.orderId, 'o-typed-1'],
    ['customerId (trimmed)', parsed.customerId, 'c-1'],
    ['email (trimmed, NFKC, lower case)', parsed.email, 'grace@example.com'],
    ['currency (upper case)', parsed.currency, 'EUR'],
    ['shippingAddress.name (trimmed, NFKC)', parsed.shippingAddress.name, 'Grace Hopper'],
    ['shippingAddress.line1 (trimmed, NFKC)', parsed.shippingAddress.line1, '1 Main Street'],
    ['shippingAddress.city (trimmed, NFKC)', parsed.shippingAddress.city, 'London'],
    ['shippingAddress.postalCode (trimmed)', parsed.shippingAddress.postalCode, 'SW1A 1AA'],
    ['shippingAddress.country (upper case)', parsed.shippingAddress.country, 'GB'],
  ])('%s', (_, actual, expected) => {
    expect(actual).toBe(expected);
  });

  it('normalizes the same fields again in the activities that receive them', () => {
    const shipment = createShipmentInput.parse({ orderId: ' o-1 ', items: [{ sku: 'sku-widget', quantity: 1 }], address: { ...typed.shippingAddress } });
    expect(shipment).toMatchObject({ orderId: 'o-1', address });
    const confirmation = orderConfirmationInput.parse({ orderId: 'o-1', email: ` ${fullWidth('GRACE')}@example.com`, totalCents: 100, currency: 'gbp', itemCount: 1 });
    expect(confirmation).toMatchObject({ email: 'grace@example.com', currency: 'GBP' });
  });
});

describe('the registration input normalizes every field it promises to', () => {
  it('trims the user id, folds and lower-cases the address, trims and folds the name', () => {
    const parsed = registrationInputSchema.parse({ userId: ' u-1 ', email: ` ${fullWidth('Ada')}@EXAMPLE.org `, name: `  ${fullWidth('Ada')} Lovelace\t` });
    expect(parsed).toMatchObject({ userId: 'u-1', email: 'ada@example.org', name: 'Ada Lovelace' });
  });

  it('trims the verification code and the failure reason the activities receive', () => {
    expect(verificationCodeInput.parse({ userId: 'u-1', code: ' 123456\n' }).code).toBe('123456');
    expect(registrationFailedInput.parse({ userId: 'u-1', email: 'a@example.org', name: 'Ada', reason: '  no answer  ' }).reason).toBe('no answer');
  });
});

describe('the operator alert normalizes its subject', () => {
  it('trims the subject and leaves the body as written', () => {
    const parsed = operatorAlertInput.parse({ workflowId: 'order-o-1', subject: '  compensation failed  ', body: '  details\n' });
    expect(parsed).toEqual({ workflowId: 'order-o-1', subject: 'compensation failed', body: '  details\n' });
  });
});
