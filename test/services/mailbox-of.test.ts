import { describe, expect, it } from 'vitest';
import { mailboxOf } from '../../src/services/mailbox-limits';

// The mailbox an address delivers to, which the per-mailbox limits count by: a `+tag` in the local part
// is dropped (it reaches the same person), nothing else is.

describe('mailboxOf', () => {
  it('drops a +tag from the local part and lower-cases the address', () => {
    expect(mailboxOf('Ada+Newsletter@Example.org')).toBe('ada@example.org');
    expect(mailboxOf('ada+1+2@example.org')).toBe('ada@example.org');
  });

  it('keeps a local part that starts with "+": there is no name before it to keep', () => {
    expect(mailboxOf('+tag@example.org')).toBe('+tag@example.org');
  });

  it('keeps a "+" that is not in the local part', () => {
    expect(mailboxOf('ada@ex+ample.org')).toBe('ada@ex+ample.org');
  });

  it('leaves an address without a tag as it is, in lower case', () => {
    expect(mailboxOf('ada@example.org')).toBe('ada@example.org');
  });
});
