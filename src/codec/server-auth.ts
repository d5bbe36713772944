import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HttpError } from './http';

// Who may use the codec server: holders of its token, as a bearer token or as a session cookie
// derived from it, with guessing slowed down per client address.

const MIN_TOKEN_LENGTH = 16;
const MIN_TOKEN_BITS = 80;
// Past this many client addresses under watch, the oldest are forgotten: the table must stay bounded
// even when the wrong tokens come from many addresses.
const MAX_TRACKED_CLIENTS = 10_000;

/**
 * Why a token is too weak to guard decrypted personal data, or undefined when it is strong enough:
 * at least 16 characters and about 80 bits by a per-character Shannon estimate, which refuses
 * repeated or patterned strings (`aaaa…`, `12341234…`) while `openssl rand -base64 32` passes easily.
 */
export function tokenWeakness(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) return `is shorter than ${MIN_TOKEN_LENGTH} characters`;
  const counts = new Map<string, number>();
  for (const ch of token) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bitsPerChar = 0;
  for (const n of counts.values()) bitsPerChar -= (n / token.length) * Math.log2(n / token.length);
  if (bitsPerChar * token.length < MIN_TOKEN_BITS) return `is too predictable (about ${Math.floor(bitsPerChar * token.length)} bits; use random bytes, e.g. openssl rand -base64 32)`;
  return undefined;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The token and the sessions derived from it, compared in constant time. */
export interface Credentials {
  /** Whether `candidate` is the token. */
  isToken(candidate: string): boolean;
  /** A session cookie value good for `ttlMs` from now: its expiry and a MAC over it. */
  newSession(ttlMs: number): string;
  /** Whether a session cookie value was made by {@link newSession} with this token and has not expired. */
  isLiveSession(value: string): boolean;
}

/** {@link Credentials} for `token`; `now` is the clock of session expiry. */
export function credentials(token: string, now: () => number): Credentials {
  const tokenDigest = sha256(token);
  const sessionMac = (expiresAt: number) => createHmac('sha256', token).update(`codec-session:${expiresAt}`).digest('base64url');
  return {
    isToken: (candidate) => timingSafeEqual(sha256(candidate), tokenDigest),
    newSession(ttlMs) {
      const expiresAt = now() + ttlMs;
      return `${expiresAt}.${sessionMac(expiresAt)}`;
    },
    isLiveSession(value) {
      const [expires, mac] = value.split('.');
      const expiresAt = Number(expires);
      return Boolean(mac) && Number.isSafeInteger(expiresAt) && expiresAt > now() && timingSafeEqual(sha256(mac!), sha256(sessionMac(expiresAt)));
    },
  };
}

/** Counts wrong tokens per client address and refuses an address that presented too many. */
export interface SignInGuard {
  /** Throws a 429 {@link HttpError} with `Retry-After` while `client` is refused. */
  refuseWhileLockedOut(client: string): void;
  /** Counts one wrong token from `client`. */
  recordFailure(client: string): void;
}

/**
 * A {@link SignInGuard}: `maxFailures` wrong tokens per address within `windowMs`, then refused until
 * the window ends. A right token does not help while the address is refused, so a guess that happens
 * to be right reveals nothing either.
 */
export function signInGuard(maxFailures: number, windowMs: number, now: () => number): SignInGuard {
  /** Wrong tokens per client address: how many, and when the count started. */
  const failures = new Map<string, { count: number; since: number }>();
  return {
    refuseWhileLockedOut(client) {
      const entry = failures.get(client);
      if (!entry) return;
      const left = entry.since + windowMs - now();
      if (left <= 0) failures.delete(client);
      else if (entry.count >= maxFailures) {
        throw new HttpError(429, 'too many wrong tokens from this address: try again later', { 'Retry-After': String(Math.ceil(left / 1000)) });
      }
    },
    recordFailure(client) {
      const entry = failures.get(client);
      if (entry && entry.since + windowMs > now()) entry.count += 1;
      else {
        failures.delete(client);
        if (failures.size >= MAX_TRACKED_CLIENTS) failures.delete(failures.keys().next().value!);
        failures.set(client, { count: 1, since: now() });
      }
    },
  };
}
