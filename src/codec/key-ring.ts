import { ConfigError } from '../config';
import { secretWeakness } from '../secret-strength';

/** Length of an AES-256 key in bytes. */
export const KEY_BYTES = 32;

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** One named AES-256 key. The id travels in every payload it encrypts; the key never does. */
export interface CodecKey {
  /** Short name stored in payload metadata, e.g. `"k2"`: letters, digits, ".", "_" and "-". */
  readonly id: string;
  /** 32 bytes of key material. */
  readonly key: Uint8Array;
}

/**
 * A key id as error messages may show it: quoted when it is a well-formed id (at most 64 safe
 * characters), otherwise only its length. A malformed id may be key material written in the wrong
 * place (`<key>:<id>`), or a value an attacker put into a payload's metadata.
 */
export function describeKeyId(id: string): string {
  return KEY_ID.test(id) ? `"${id}"` : `(a malformed id of ${id.length} characters)`;
}

/** Thrown when decoding a payload encrypted under a key id that the key ring does not hold. */
export class UnknownKeyError extends Error {
  override readonly name = 'UnknownKeyError';
  constructor(
    readonly keyId: string,
    readonly knownKeyIds: readonly string[],
  ) {
    // The ring's own ids stay out of the message, which may travel further than this process's log.
    super(`Payload was encrypted with key ${describeKeyId(keyId)}, which is not in the key ring: add it back to SAGA_CODEC_KEYS`);
  }
}

/**
 * The keys a codec may use: the first encrypts everything new, all of them decrypt. Rotating means
 * putting a new key first and keeping the old ones for as long as histories written under them live.
 */
export class KeyRing {
  readonly #keys: ReadonlyMap<string, Uint8Array>;
  /** Id of the key that encrypts new payloads. */
  readonly activeKeyId: string;

  constructor(keys: readonly CodecKey[]) {
    const problems = keyProblems(keys);
    if (problems.length) throw new ConfigError(problems);
    // Copies, so a caller that later zeroes or reuses its buffers cannot change the ring.
    this.#keys = new Map(keys.map((k) => [k.id, Uint8Array.from(k.key)]));
    this.activeKeyId = keys[0]!.id;
  }

  /** Ids of every key, the active one first. */
  get keyIds(): readonly string[] {
    return [...this.#keys.keys()];
  }

  /** The active key, for encryption. */
  get activeKey(): Uint8Array {
    return this.#keys.get(this.activeKeyId)!;
  }

  /** The key with this id; throws {@link UnknownKeyError} when the ring lacks it. */
  key(id: string): Uint8Array {
    const key = this.#keys.get(id);
    if (!key) throw new UnknownKeyError(id, this.keyIds);
    return key;
  }

  /** Never print key material, whatever logs or inspects the ring. */
  toJSON(): { activeKeyId: string; keyIds: readonly string[] } {
    return { activeKeyId: this.activeKeyId, keyIds: this.keyIds };
  }
}

function keyProblems(keys: readonly CodecKey[]): string[] {
  if (keys.length === 0) return ['the key ring needs at least one key'];
  const problems: string[] = [];
  const seen = new Set<string>();
  keys.forEach(({ id, key }, index) => {
    const valid = KEY_ID.test(id);
    if (!valid) problems.push(`key id ${describeKeyId(id)} of entry ${index + 1} must be 1-64 letters, digits, ".", "_" or "-"`);
    if (seen.has(id)) problems.push(`key id ${describeKeyId(id)} appears more than once`);
    seen.add(id);
    if (key.length !== KEY_BYTES) problems.push(`key ${valid ? `"${id}"` : `of entry ${index + 1}`} is ${key.length} bytes; AES-256 needs ${KEY_BYTES}`);
  });
  return problems;
}

/**
 * Parses `"k2:<base64>,k1:<base64>"` (first = active) into keys. Problems name the key id and never
 * echo key material. Throws {@link ConfigError} listing every problem.
 */
export function parseCodecKeys(text: string, variable = 'SAGA_CODEC_KEYS'): CodecKey[] {
  const problems: string[] = [];
  const keys: CodecKey[] = [];
  const entries = text.split(',').map((e) => e.trim());
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    if (colon < 1) {
      problems.push(`${variable} entry ${index + 1} is not "<key id>:<base64 key>"`);
      return;
    }
    const id = entry.slice(0, colon).trim();
    const material = entry.slice(colon + 1).trim();
    // `<key>:<id>` puts 32 bytes of base64 where the id belongs: say so without repeating either part.
    if (!KEY_ID.test(id) && KEY_ID.test(material) && BASE64.test(id) && Buffer.from(id, 'base64').length === KEY_BYTES) {
      problems.push(`${variable} entry ${index + 1} looks reversed: write "<key id>:<base64 key>"`);
      return;
    }
    if (!BASE64.test(material)) {
      problems.push(`${variable}: key ${KEY_ID.test(id) ? `"${id}"` : `of entry ${index + 1}`} is not base64`);
      return;
    }
    const key = Buffer.from(material, 'base64');
    const weakness = key.length === KEY_BYTES ? secretWeakness(key) : undefined;
    if (weakness) {
      problems.push(`${variable}: key ${KEY_ID.test(id) ? `"${id}"` : `of entry ${index + 1}`} ${weakness}`);
      return;
    }
    keys.push({ id, key });
  });
  if (keys.length > 0 || problems.length === 0) problems.push(...keyProblems(keys).map((p) => `${variable}: ${p}`));
  if (problems.length) throw new ConfigError(problems);
  return keys;
}
