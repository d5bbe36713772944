// Keys that protect what the services store about e-mail verification, derived from one secret the
// database never holds (the worker passes SAGA_ID_SECRET). A copy of the database alone then reveals
// no verification code and no address in the rate limits' table.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** One 32-byte key per use, each derived with its own HKDF label, so no two uses share a key. */
export interface AtRestKeys {
  /** The pepper of verification code hashes: without it, a stored hash cannot test a guess. */
  readonly codeHash: Buffer;
  /** Seals the bodies of verification e-mails in the outbox (AES-256-GCM). */
  readonly outbox: Buffer;
  /** Keys the mailbox's name in the rate limits' table, which outlives deleted accounts. */
  readonly mailbox: Buffer;
}

// Changing a label changes its key: stored hashes and sealed bodies would no longer open.
const labels = {
  codeHash: 'saga-temporal/verification-code-hash/v1',
  outbox: 'saga-temporal/outbox-body/v1',
  mailbox: 'saga-temporal/mailbox-limit-key/v1',
} as const;

/** Derives the {@link AtRestKeys} from `secret` with HKDF-SHA256. */
export function deriveAtRestKeys(secret: string): AtRestKeys {
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32));
  return { codeHash: derive(labels.codeHash), outbox: derive(labels.outbox), mailbox: derive(labels.mailbox) };
}

/** HMAC-SHA256 of `text` under `key`, in hex. */
export function keyedDigest(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

const SEALED = 'sealed:v1:';

/** `text` encrypted under `key`, bound to `context` (the row it belongs to), as printable text. */
export function seal(key: Buffer, context: string, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context));
  const data = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return `${SEALED}${Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64')}`;
}

/** Whether `stored` was written by {@link seal}. */
export function isSealed(stored: string): boolean {
  return stored.startsWith(SEALED);
}

/** The text {@link seal} sealed; throws when `key` or `context` is not the one it was sealed with. */
export function unseal(key: Buffer, context: string, stored: string): string {
  const raw = Buffer.from(stored.slice(SEALED.length), 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12)).setAAD(Buffer.from(context));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}
