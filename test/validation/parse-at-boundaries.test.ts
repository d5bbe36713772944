import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

// The one way input is parsed at each boundary: at the client a typed error listing every problem, in
// a workflow or an activity a non-retryable `InvalidInput` failure, and at a workflow's start today's
// rules first, the earlier rules only for a saga that started under them.

// The module is imported inside the tests rather than at the top of the file: a module that fails to
// load then fails these tests, which StrykerJS's vitest runner counts, instead of failing the file's
// collection, which it does not count (a mutant that breaks the module's loading would survive).
const validation = () => import('../../src/shared/validation.js');

const order = z.object({
  orderId: z.string().trim().min(1, 'is empty'),
  lines: z.array(z.object({ quantity: z.number().min(1, 'is below 1') })),
});

/** The failure `fn` throws. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('nothing was thrown');
}

describe('describeIssues', () => {
  it('writes one problem per issue, its path joined with dots, the issues joined with "; "', async () => {
    const { describeIssues } = await validation();
    const result = order.safeParse({ orderId: ' ', lines: [{ quantity: 1 }, { quantity: 0 }] });
    expect(result.success).toBe(false);
    expect(describeIssues(result.error!)).toBe('orderId: is empty; lines.1.quantity: is below 1');
  });

  it('names the input itself "(input)" when the problem is not in a field', async () => {
    const { describeIssues } = await validation();
    const result = z.string({ error: 'is not text' }).safeParse(42);
    expect(describeIssues(result.error!)).toBe('(input): is not text');
  });
});

describe('parseOrThrow, at the client', () => {
  it('returns the parsed value, normalized', async () => {
    const { parseOrThrow } = await validation();
    expect(parseOrThrow(order, 'order', { orderId: ' o-1 ', lines: [] })).toEqual({ orderId: 'o-1', lines: [] });
  });

  it('throws an InvalidInputError that names the input and lists every problem', async () => {
    const { InvalidInputError, parseOrThrow } = await validation();
    const err = thrownBy(() => parseOrThrow(order, 'order', { orderId: '', lines: [{ quantity: 0 }] }));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err).toMatchObject({
      name: 'InvalidInputError',
      what: 'order',
      problems: 'orderId: is empty; lines.0.quantity: is below 1',
      message: 'Invalid order: orderId: is empty; lines.0.quantity: is below 1',
    });
  });
});

describe('parseOrFail, in a workflow or an activity', () => {
  it('returns the parsed value, normalized', async () => {
    const { parseOrFail } = await validation();
    expect(parseOrFail(order, 'order', { orderId: ' o-1 ', lines: [{ quantity: 2 }] })).toEqual({ orderId: 'o-1', lines: [{ quantity: 2 }] });
  });

  it('throws a non-retryable InvalidInput failure that names the input and lists every problem', async () => {
    const { parseOrFail } = await validation();
    const err = thrownBy(() => parseOrFail(order, 'shipment', { orderId: '', lines: 'none' }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect((err as Error).message).toMatch(/^Invalid shipment: orderId: is empty; lines: /);
  });
});

describe('parseStrictOrEarlier, at a workflow start', () => {
  // Today's rule takes names of up to 3 characters; the earlier rule took up to 5, and kept them as written.
  const strict = z.object({ name: z.string().trim().max(3, 'is longer than 3') });
  const earlier = z.object({ name: z.string().max(5, 'is longer than 5') });

  /** The strictRules() callback, counting its calls: each one would record a patch marker in the history. */
  function rules(startedUnderStrictRules: boolean) {
    const calls = { count: 0 };
    return { calls, strictRules: () => (calls.count++, startedUnderStrictRules) };
  }

  it("parses with today's rules and does not ask which rules the saga started under when they accept", async () => {
    const { parseStrictOrEarlier } = await validation();
    const { calls, strictRules } = rules(false);
    expect(parseStrictOrEarlier(strict, earlier, strictRules, 'order', { name: ' Ada ' })).toEqual({ name: 'Ada' });
    expect(calls.count).toBe(0);
  });

  it("fails with today's problems when they refuse and the saga started under them", async () => {
    const { parseStrictOrEarlier } = await validation();
    const { calls, strictRules } = rules(true);
    const err = thrownBy(() => parseStrictOrEarlier(strict, earlier, strictRules, 'order', { name: 'Grace' }));
    expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: 'Invalid order: name: is longer than 3' });
    expect(calls.count).toBe(1);
  });

  it('parses with the earlier rules a saga that started before today', async () => {
    const { parseStrictOrEarlier } = await validation();
    const { calls, strictRules } = rules(false);
    expect(parseStrictOrEarlier(strict, earlier, strictRules, 'order', { name: ' Grac' })).toEqual({ name: ' Grac' });
    expect(calls.count).toBe(1);
  });

  it('fails with the earlier problems when the earlier rules refuse too', async () => {
    const { parseStrictOrEarlier } = await validation();
    const { strictRules } = rules(false);
    const err = thrownBy(() => parseStrictOrEarlier(strict, earlier, strictRules, 'registration', { name: 'Lovelace' }));
    expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: 'Invalid registration: name: is longer than 5' });
  });

  it('fails with UnencryptedPayload, before any rule, when the worker refused the input as unencrypted', async () => {
    const { parseStrictOrEarlier } = await validation();
    const { calls, strictRules } = rules(false);
    const err = thrownBy(() => parseStrictOrEarlier(strict, earlier, strictRules, 'order', { sagaRefusedUnencryptedPayload: true }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'UnencryptedPayload', nonRetryable: true });
    expect((err as Error).message).toMatch(/^The order input arrived unencrypted/);
    expect(calls.count).toBe(0);
  });
});
