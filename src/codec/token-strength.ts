// How strong a codec server token is, by zxcvbn's estimate: the number of guesses an attacker who
// knows how people choose passwords needs, which sees through words, keyboard walks, sequences and
// the `Password1!` habit. A per-character count of symbols does not: it rates
// `abcdefghijklmnopqrst` as strong. The dictionaries load once, on the first check, at start.
import { randomBytes } from 'node:crypto';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as english from '@zxcvbn-ts/language-en';

/** Fewest guesses, as a power of ten, a token must need: 10^24 is about 80 bits. */
const MIN_GUESSES_LOG10 = 24;

let estimator: ZxcvbnFactory | undefined;

/**
 * Why a token is too weak to guard decrypted personal data, or undefined when it is strong enough:
 * zxcvbn must estimate at least 10^24 guesses (about 80 bits). Random tokens of 32 bytes in base64
 * (`openssl rand -base64 32`, or `npm run codec-server -- --new-token`) pass; words, patterns and
 * anything shorter than 24 characters do not. Never quotes the token.
 */
export function tokenWeakness(token: string): string | undefined {
  estimator ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary, ...english.dictionary }, graphs: common.adjacencyGraphs, translations: english.translations });
  const guessesLog10 = estimator.check(token).guessesLog10;
  if (guessesLog10 >= MIN_GUESSES_LOG10) return undefined;
  return `is too easy to guess (about 10^${Math.floor(guessesLog10)} guesses, 10^${MIN_GUESSES_LOG10} needed): use a random one, e.g. npm run codec-server -- --new-token`;
}

/** A fresh random token: 32 bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}
