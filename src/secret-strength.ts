// Secrets that a person typed (`aaaa…`, `changeme` repeated, a short pattern) look long enough but
// are guessed in seconds. Drawn at random, a secret has no repeating pattern and many distinct
// symbols; these checks refuse what plainly is not, without trying to rate a secret's strength.

/** Fewest distinct characters a text secret may have: a random 32-character one has 14 or more. */
const MIN_DISTINCT_CHARACTERS = 8;
/** Fewest distinct bytes a 32-byte key may have: random key material has about 30. */
const MIN_DISTINCT_BYTES = 16;

/**
 * Why `secret` cannot have been drawn at random, as the end of a sentence that starts with the
 * variable's name; undefined when it passes. Never quotes the secret.
 */
export function secretWeakness(secret: string | Uint8Array): string | undefined {
  const units: (string | number)[] = typeof secret === 'string' ? [...secret] : [...secret];
  const what = typeof secret === 'string' ? 'characters' : 'bytes';
  for (let period = 1; period <= units.length / 2; period++) {
    if (units.every((unit, i) => unit === units[i % period])) {
      return `is a pattern of ${period} ${what} repeated: draw a random one (openssl rand -base64 32)`;
    }
  }
  const distinct = new Set(units).size;
  const least = typeof secret === 'string' ? MIN_DISTINCT_CHARACTERS : MIN_DISTINCT_BYTES;
  if (distinct < least) return `has only ${distinct} distinct ${what}: draw a random one (openssl rand -base64 32)`;
  return undefined;
}
