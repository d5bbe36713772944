import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { beforeStrictText, emailSchema, idSchema, textSchema } from '../../src/shared/validation';

// The building blocks every contract is made of, checked one rule at a time on the block itself: an id,
// an e-mail address, a text of bounded length, and the two rules kept for sagas started before the
// strict ones. Each rule is shown from both sides, with the message a caller reads when it refuses.

/** The messages of every problem `schema` finds in `input`: none when it accepts it. */
function refusals(schema: z.ZodType, input: unknown): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

const NOT_AN_ADDRESS = 'not an e-mail address';
const INVISIBLE = 'invisible and control characters are not allowed';
const NOT_ASCII = 'only ASCII e-mail addresses are accepted';

describe('an id', () => {
  it.each(['A', 'Z', 'a', 'z', '0', '9', 'aA', 'aZ', 'az', 'a0', 'a9', 'a.b', 'a_b', 'a-b', 'order-2026.12_07'])('accepts %j', (id) => {
    expect(idSchema.parse(id)).toBe(id);
  });

  it.each(['.a', '_a', '-a', '!a', 'a!', 'a b', 'a/b', 'a@b', 'ä'])('refuses %j, naming the characters it takes', (id) => {
    expect(refusals(idSchema, id)).toEqual(['letters, digits, ".", "_" and "-" only']);
  });

  it('trims the spaces around it before judging it', () => {
    expect(idSchema.parse('  o-1\t')).toBe('o-1');
  });

  it('takes 1 to 64 characters: an empty or blank id is refused, and so is the 65th character', () => {
    expect(refusals(idSchema, '')).toHaveLength(2);
    expect(refusals(idSchema, '   ')).toHaveLength(2);
    expect(idSchema.parse('a'.repeat(64))).toHaveLength(64);
    expect(refusals(idSchema, 'a'.repeat(65))).toHaveLength(1);
  });
});

// The address pattern is the same in today's rule and in the rule kept for earlier sagas. The schemas
// are looked up inside the tests, not while the file is collected: a rule that went missing then fails
// a test, which StrykerJS's vitest runner counts, instead of the file's collection, which it does not.
describe.each([
  ['today', () => emailSchema],
  ['before the strict rules', () => beforeStrictText.emailSchema],
] as const)('the e-mail address pattern (%s)', (_, schemaOf) => {
  it.each([
    'a@example.com',
    'ab@example.com',
    'a.b+tag@example.com',
    'a~b@example.com',
    'a@b.co',
    'a@example.c',
    'a@x-y.example',
    'a@mail.example.co.uk',
    'a@a0.z9',
    'a@z.a',
    'a@0.9',
    'a@9-0.abcd',
    // Each end of each range of the domain's characters, first, inside and last in a label.
    'a@xaz09x.yaz09y',
    'a@xa.xz',
    'a@xz.xa',
    'a@x0.x9',
    'a@x9.x0',
  ])('accepts %j', (address) => {
    expect(schemaOf().parse(address)).toBe(address);
  });

  it.each([
    ['no local part', '@example.com'],
    ['no domain', 'a@'],
    ['a domain without a dot', 'a@localhost'],
    ['a second "@"', 'a@b@example.com'],
    ['a space inside', 'a b@example.com'],
    ['"<"', 'a<b@example.com'],
    ['">"', 'a>b@example.com'],
    ['"("', 'a(b@example.com'],
    ['")"', 'a)b@example.com'],
    ['"["', 'a[b@example.com'],
    ['"]"', 'a]b@example.com'],
    ['a backslash', 'a\\b@example.com'],
    ['","', 'a,b@example.com'],
    ['";"', 'a;b@example.com'],
    ['":"', 'a:b@example.com'],
    ['a double quote', 'a"b@example.com'],
    ['a domain label that starts with "-"', 'a@-x.example'],
    ['a domain label that ends with "-"', 'a@x-.example'],
    ['a last label that ends with "-"', 'a@x.example-'],
    ['an empty label', 'a@x..example'],
    ['a trailing dot', 'a@example.com.'],
    ['an underscore in the domain', 'a@ex_ample.com'],
    ['something after the domain', 'a@example.com!'],
  ])('refuses %s', (_, address) => {
    expect(refusals(schemaOf(), address)).toEqual([NOT_AN_ADDRESS]);
  });

  it('trims and lower-cases the address', () => {
    expect(schemaOf().parse('  Grace.Hopper@Example.COM\n')).toBe('grace.hopper@example.com');
  });

  it('takes 254 characters and refuses 255', () => {
    const address = (length: number) => `${'a'.repeat(length - '@example.com'.length)}@example.com`;
    expect(schemaOf().parse(address(254))).toHaveLength(254);
    expect(refusals(schemaOf(), address(255))).toHaveLength(1);
  });
});

describe('an e-mail address today', () => {
  it('folds compatibility forms (NFKC) before judging: full-width letters become ASCII', () => {
    expect(emailSchema.parse('ｇｒａｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ')).toBe('grace@example.com');
  });

  it('refuses letters of other scripts, saying only ASCII is accepted', () => {
    expect(refusals(emailSchema, 'é@example.com')).toEqual([NOT_ASCII]);
    // A Cyrillic "a" (U+0430), which looks like the Latin one.
    expect(refusals(emailSchema, 'gr\u0430ce@example.com')).toEqual([NOT_ASCII]);
  });

  it('accepts the first and the last printable ASCII characters the pattern allows ("!" and "~")', () => {
    expect(emailSchema.parse('!~@example.com')).toBe('!~@example.com');
  });

  it('refuses an invisible character with both reasons: invisible, and not ASCII', () => {
    expect(refusals(emailSchema, 'gr\u200bace@example.com')).toEqual([INVISIBLE, NOT_ASCII]);
    expect(refusals(emailSchema, 'gr\u007face@example.com')).toEqual([INVISIBLE, NOT_ASCII]);
    expect(refusals(emailSchema, 'gr\u001face@example.com')).toEqual([INVISIBLE, NOT_ASCII]);
  });
});

describe('an e-mail address before the strict rules', () => {
  it('keeps letters of other scripts as written, in lower case, without folding them', () => {
    expect(beforeStrictText.emailSchema.parse('ÉCOLE@example.com')).toBe('école@example.com');
    expect(beforeStrictText.emailSchema.parse('ｇｒａｃｅ@example.com')).toBe('ｇｒａｃｅ@example.com');
  });

  it('bounds the address as written: 254 characters that NFKC would unfold are accepted', () => {
    const address = `${'㍱'.repeat(80)}${'a'.repeat(162)}@example.com`;
    expect(address).toHaveLength(254);
    expect(beforeStrictText.emailSchema.parse(address)).toBe(address.toLowerCase());
  });
});

describe('a text of at most `max` characters', () => {
  it('takes 1 to max characters, counted after trimming', () => {
    expect(textSchema(5).parse(' abcde ')).toBe('abcde');
    expect(refusals(textSchema(5), 'abcdef')).toHaveLength(1);
    expect(refusals(textSchema(5), '')).toHaveLength(1);
    expect(refusals(textSchema(5), '  \t ')).toHaveLength(1);
  });

  it('keeps one schema per bound: a text of 4 characters fits max 4 but not max 3', () => {
    expect(refusals(textSchema(3), 'abcd')).toHaveLength(1);
    expect(textSchema(4).parse('abcd')).toBe('abcd');
    expect(refusals(textSchema(3), 'abcd')).toHaveLength(1);
  });

  it('folds compatibility forms (NFKC) and counts the folded text', () => {
    expect(textSchema(12).parse('ＧＲＡＣＥ Ｈopper')).toBe('GRACE Hopper');
    // "㍱" unfolds into the three letters "hPa".
    expect(textSchema(3).parse('㍱')).toBe('hPa');
    expect(refusals(textSchema(5), '㍱㍱')).toHaveLength(1);
  });

  it.each([
    ['a zero-width space', 'Gr\u200bace'],
    ['a right-to-left override', 'Grace\u202eHopper'],
    ['a NUL', 'Gr\u0000ace'],
    ['a C1 control', 'Gr\u0085ace'],
  ])('refuses %s inside it, saying why', (_, text) => {
    expect(refusals(textSchema(20), text)).toEqual([INVISIBLE]);
  });
});

describe('a text before the strict rules', () => {
  // Looked up in each test, for the reason given above the address pattern's tests.
  const earlier = () => beforeStrictText.textSchema(5);

  it('takes 1 to max characters, counted after trimming', () => {
    expect(earlier().parse(' abcde ')).toBe('abcde');
    expect(refusals(earlier(), 'abcdef')).toHaveLength(1);
    expect(refusals(earlier(), '   ')).toHaveLength(1);
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['the last C0 control', 'a\u001fb'],
    ['DEL', 'a\u007fb'],
  ])('refuses %s, saying control characters are not allowed', (_, text) => {
    expect(refusals(earlier(), text)).toEqual(['control characters are not allowed']);
  });

  it('accepts what the strict rule refuses or folds: invisible characters, C1 controls, full-width letters, kept as written', () => {
    expect(earlier().parse('a\u200bb')).toBe('a\u200bb');
    expect(earlier().parse('a\u0085b')).toBe('a\u0085b');
    expect(earlier().parse('ａ b~')).toBe('ａ b~');
  });

  it('keeps one schema per bound', () => {
    expect(beforeStrictText.textSchema(3).parse('abc')).toBe('abc');
    expect(refusals(beforeStrictText.textSchema(3), 'abcd')).toHaveLength(1);
  });
});
