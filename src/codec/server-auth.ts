import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { HttpError } from './http';

// Who may use the codec server: holders of its token, as a bearer token or as a session cookie
// derived from it, with guessing slowed down per client address.

// Past this many client addresses under watch, entries that are not locked out are forgotten, oldest
// first: the table stays bounded even when wrong tokens come from many addresses, and no flood of
// other addresses can push a locked-out one out of it.
const MAX_TRACKED_CLIENTS = 10_000;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** What a caller may do: `decode` shows payloads; `encode` also makes ciphertext that strict workers accept. */
export type Permission = 'decode' | 'encode';

/** The tokens and the sessions derived from them, compared in constant time. */
export interface Credentials {
  /** What `candidate` grants: `encode` for the encode token (which decodes too), `decode` for the token, else undefined. */
  permissionOf(candidate: string): Permission | undefined;
  /** A session cookie value good for `ttlMs` from now, granting `permission`: its expiry, the permission and a MAC over both. */
  newSession(ttlMs: number, permission: Permission): string;
  /** What a session cookie value made by {@link newSession} grants, undefined when forged or expired. */
  sessionPermission(value: string): Permission | undefined;
}

/**
 * {@link Credentials} for `token` (decode) and, when given, `encodeToken` (encode and decode);
 * `now` is the clock of session expiry. A session's MAC is keyed by the token of its permission, so
 * changing a token ends that token's sessions.
 */
export function credentials(token: string, encodeToken: string | undefined, now: () => number): Credentials {
  const digests = new Map<Permission, Buffer>([['decode', sha256(token)]]);
  const keys = new Map<Permission, string>([['decode', token]]);
  if (encodeToken !== undefined) {
    digests.set('encode', sha256(encodeToken));
    keys.set('encode', encodeToken);
  }
  const sessionMac = (permission: Permission, expiresAt: number) => createHmac('sha256', keys.get(permission)!).update(`codec-session:${permission}:${expiresAt}`).digest('base64url');
  return {
    permissionOf(candidate) {
      const digest = sha256(candidate);
      // Both comparisons run whatever the first one says, so the time taken tells nothing.
      const matches = [...digests].map(([permission, expected]) => (timingSafeEqual(digest, expected) ? permission : undefined));
      return matches.includes('encode') ? 'encode' : matches.includes('decode') ? 'decode' : undefined;
    },
    newSession(ttlMs, permission) {
      const expiresAt = now() + ttlMs;
      return `${expiresAt}.${permission}.${sessionMac(permission, expiresAt)}`;
    },
    sessionPermission(value) {
      const [expires, permission, mac] = value.split('.');
      const expiresAt = Number(expires);
      if (!mac || !Number.isSafeInteger(expiresAt) || expiresAt <= now()) return undefined;
      if ((permission !== 'decode' && permission !== 'encode') || !keys.has(permission)) return undefined;
      return timingSafeEqual(sha256(mac), sha256(sessionMac(permission, expiresAt))) ? permission : undefined;
    },
  };
}

/**
 * The key wrong tokens are counted under: the address itself for IPv4, its /64 network for IPv6,
 * since one machine usually holds a whole /64 and could otherwise try from 2^64 addresses.
 */
export function clientGroup(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail (`::1.2.3.4`) fills the last two groups, which the /64 drops anyway.
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(Math.max(missing, 0)).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Counts wrong tokens per client address and refuses an address that presented too many. */
export interface SignInGuard {
  /** Throws a 429 {@link HttpError} with `Retry-After` while `client` is refused. */
  refuseWhileLockedOut(client: string): void;
  /** Counts one wrong token from `client`. */
  recordFailure(client: string): void;
}

/**
 * A {@link SignInGuard}: `maxFailures` wrong tokens per client group ({@link clientGroup}) within
 * `windowMs`, then refused until the window ends. A right token does not help while the group is
 * refused, so a guess that happens to be right reveals nothing either.
 */
export function signInGuard(maxFailures: number, windowMs: number, now: () => number): SignInGuard {
  /** Wrong tokens per client group: how many, and when the count started. */
  const failures = new Map<string, { count: number; since: number }>();
  // Set while the table is full of locked-out groups: until the first of them expires, groups not in
  // the table are refused too. Tracking them nowhere would let them guess freely.
  let fullUntil = 0;
  const expired = (entry: { since: number }) => entry.since + windowMs <= now();
  const lockedOut = (entry: { count: number; since: number }) => !expired(entry) && entry.count >= maxFailures;

  /** Makes room for one more group: expired entries first, then the oldest one not locked out. */
  function makeRoom(): boolean {
    for (const [client, entry] of failures) if (expired(entry)) failures.delete(client);
    if (failures.size < MAX_TRACKED_CLIENTS) return true;
    for (const [client, entry] of failures) {
      if (!lockedOut(entry)) {
        failures.delete(client);
        return true;
      }
    }
    return false;
  }

  return {
    refuseWhileLockedOut(address) {
      const client = clientGroup(address);
      const entry = failures.get(client);
      const left = entry ? entry.since + windowMs - now() : fullUntil - now();
      if (!entry) {
        if (left > 0) throw new HttpError(429, 'too many wrong tokens from too many addresses: try again later', { 'Retry-After': String(Math.ceil(left / 1000)) });
        return;
      }
      if (left <= 0) failures.delete(client);
      else if (entry.count >= maxFailures) {
        throw new HttpError(429, 'too many wrong tokens from this address: try again later', { 'Retry-After': String(Math.ceil(left / 1000)) });
      }
    },
    recordFailure(address) {
      const client = clientGroup(address);
      const entry = failures.get(client);
      if (entry && !expired(entry)) {
        entry.count += 1;
        return;
      }
      failures.delete(client);
      if (failures.size >= MAX_TRACKED_CLIENTS && !makeRoom()) {
        fullUntil = Math.min(...[...failures.values()].map((e) => e.since + windowMs));
        return;
      }
      failures.set(client, { count: 1, since: now() });
    },
  };
}
