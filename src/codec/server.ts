import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError } from '../config';
import { PayloadDecryptionError } from './aes-gcm-codec';
import { HttpError, readBody, readCookie, sendJson, sendPage } from './http';
import { UnknownKeyError } from './key-ring';
import { loginPage, signedInPage } from './login-pages';
import { parsePayloads, payloadToJson } from './payloads-json';
import { credentials, signInGuard, type Permission } from './server-auth';
import { tokenWeakness } from './token-strength';

// The remote codec protocol of the Temporal Web UI and CLI: POST …/decode and …/encode with the
// Payloads message as protobuf JSON. Only the last path segment selects the operation, so the server
// can sit under any prefix.
//
// Who may decode: callers with the bearer token (the CLI's TEMPORAL_CODEC_AUTH), or a browser that
// signed in at …/login and now holds a session cookie derived from the token. The cookie exists
// because the Web UI cannot send an arbitrary Authorization header: it only forwards its own OIDC
// access token, or the browser's cookies when "include cross-origin credentials" is on.
//
// Who may encode: only holders of the encode token, a second token that is off unless configured.
// Encoding makes ciphertext that strict workers accept as authentic input; a viewer must not.
//
// Plain `node:http` rather than fastify 5 or hono: their plugins do not carry this server's rules.
// @fastify/rate-limit counts every request per key, while the lockout here counts wrong tokens only
// and keeps refusing a right one during the lockout; @fastify/cors and hono's cors leave a foreign
// origin without CORS headers but still answer it, while this server refuses it with 403; hono has
// no rate limiter at all. Routing by the last path segment, the access log of request facts and the
// drain on stop would be written by hand either way, so a framework would add four dependencies and
// shorten only the body reader, the cookie lookup and the two answer helpers (`http.ts`).

/** Where the access log goes. It receives request facts only: never a payload, a header or a token. */
export interface CodecServerLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** Options of {@link createCodecServer}. */
export interface CodecServerOptions {
  /** The codec whose `decode` and `encode` the endpoints expose. */
  codec: PayloadCodec;
  /** Bearer token every caller must present; it permits decoding only (at least 10^24 guesses by zxcvbn, see {@link tokenWeakness}). */
  token: string;
  /** Bearer token that permits encoding as well as decoding, for the Web UI's signals and updates. @default none: `/encode` is refused */
  encodeToken?: string;
  /** Browser origins allowed to call, e.g. `["http://localhost:8233"]`: CORS headers go to these only. */
  allowedOrigins: readonly string[];
  /** The namespace whose payloads this server decodes; an `X-Namespace` naming another is refused. */
  namespace: string;
  /** Largest request body accepted. @default 8 MiB */
  maxBodyBytes?: number;
  /** Most payloads one request may carry, so one call cannot hold the event loop for long. @default 1000 */
  maxPayloads?: number;
  /** Wrong tokens one client address may present per window before it is refused with 429. @default 10 */
  maxFailedSignIns?: number;
  /** The window over which wrong tokens are counted, and how long a client stays refused. @default 15 minutes */
  signInWindowMs?: number;
  /** Lifetime of a browser session started at `/login`. @default 8 hours */
  sessionTtlMs?: number;
  /** Access log. @default JSON lines on stderr */
  logger?: CodecServerLogger;
  /** Clock for session expiry (tests). @default Date.now */
  now?: () => number;
}

/** A codec server; `listen` starts it, `stop` drains it. */
export interface CodecServer {
  /** The underlying Node server (for tests and embedding). */
  readonly server: Server;
  /** Starts listening; resolves with the base URL. @default host "127.0.0.1" */
  listen(port: number, host?: string): Promise<string>;
  /** Stops accepting connections, lets requests in flight finish for `graceMs`, then closes the rest. @default graceMs 5000 */
  stop(graceMs?: number): Promise<void>;
}

const SESSION_COOKIE = 'saga_codec_session';
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Namespace';
// Only these names reach the log: an arbitrary path could carry anything.
const KNOWN_ROUTES = new Set(['decode', 'encode', 'login', 'health']);

/** JSON lines on stderr, the same shape as the worker's log. */
export const stderrLogger: CodecServerLogger = {
  info: (message, meta) => writeLine('info', message, meta),
  warn: (message, meta) => writeLine('warn', message, meta),
  error: (message, meta) => writeLine('error', message, meta),
};

function writeLine(level: string, msg: string, meta: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...meta })}\n`);
}

/** Creates (but does not start) a codec server; throws {@link ConfigError} for a weak token or an encode token equal to the token. */
export function createCodecServer(options: CodecServerOptions): CodecServer {
  const problems = [
    ...[tokenWeakness(options.token)].filter(Boolean).map((w) => `the codec server token ${w}`),
    ...(options.encodeToken === undefined ? [] : [tokenWeakness(options.encodeToken)].filter(Boolean).map((w) => `the codec server encode token ${w}`)),
    ...(options.encodeToken === options.token ? ['the encode token must differ from the token, or every holder of the token could encode'] : []),
  ];
  if (problems.length) throw new ConfigError(problems);
  const { codec, namespace } = options;
  const allowedOrigins = new Set(options.allowedOrigins);
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const maxPayloads = options.maxPayloads ?? 1000;
  const sessionTtlMs = options.sessionTtlMs ?? 8 * 3_600_000;
  const logger = options.logger ?? stderrLogger;
  const now = options.now ?? Date.now;
  const auth = credentials(options.token, options.encodeToken, now);
  const guard = signInGuard(options.maxFailedSignIns ?? 10, options.signInWindowMs ?? 15 * 60_000, now);
  // Secure cookies only reach https pages; a UI served over https implies a codec server behind https too.
  const secureCookie = options.allowedOrigins.length > 0 && options.allowedOrigins.every((o) => o.startsWith('https://'));

  /** What the caller may do, by its bearer token or its session cookie; a 401 without either. */
  function authenticate(req: IncomingMessage, client: string): Permission {
    const authorization = req.headers.authorization;
    if (authorization) {
      guard.refuseWhileLockedOut(client);
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      const permission = match ? auth.permissionOf(match[1]!) : undefined;
      if (permission) return permission;
      guard.recordFailure(client);
      throw new HttpError(401, 'invalid bearer token', { 'WWW-Authenticate': 'Bearer realm="saga-codec", error="invalid_token"' });
    }
    const session = readCookie(req, SESSION_COOKIE);
    const permission = session ? auth.sessionPermission(session) : undefined;
    if (permission) return permission;
    throw new HttpError(401, 'a bearer token is required', { 'WWW-Authenticate': 'Bearer realm="saga-codec"' });
  }

  /**
   * Whether a browser's `Origin` may post to the sign-in form: this server's own page, or a
   * configured Web UI origin. Requests without an `Origin` come from programs, not from a page of
   * another site. Browsers send it with every cross-site form post, so a page elsewhere cannot spend
   * the address's wrong-token allowance and lock its operator out.
   */
  function signInOriginAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (allowedOrigins.has(origin)) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, facts: Record<string, unknown>): Promise<number> {
    const route = (new URL(req.url ?? '/', 'http://codec.invalid').pathname.split('/').filter(Boolean).pop() ?? '').toLowerCase();
    facts.route = KNOWN_ROUTES.has(route) ? route : 'other';
    const client = req.socket.remoteAddress ?? 'unknown';
    // The login page posts to itself (its own origin) and the health check is not for browsers:
    // only the codec endpoints are called cross-origin, and only from the UI.
    if (route === 'health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (route === 'login') return login(req, res, client);
    if (route !== 'decode' && route !== 'encode') throw new HttpError(404, 'not found: use POST /decode or POST /encode');

    const origin = req.headers.origin;
    // A browser page from any other origin gets neither CORS headers nor an answer.
    if (origin !== undefined && !allowedOrigins.has(origin)) throw new HttpError(403, 'origin not allowed');
    if (origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      if (origin === undefined) throw new HttpError(400, 'preflight without an Origin');
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS,
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return 204;
    }
    if (req.method !== 'POST') throw new HttpError(405, 'use POST', { Allow: 'POST, OPTIONS' });

    const permission = authenticate(req, client);
    if (route === 'encode' && permission !== 'encode') {
      throw new HttpError(403, 'this token may decode only: encoding needs the encode token (SAGA_CODEC_SERVER_ENCODE_TOKEN)');
    }
    const requested = req.headers['x-namespace'];
    if (requested !== undefined && requested !== namespace) throw new HttpError(403, `this codec server serves namespace "${namespace}" only`);
    facts.namespace = namespace;
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send Content-Type: application/json');

    const payloads = parsePayloads(await readBody(req, maxBodyBytes), maxPayloads);
    facts.payloads = payloads.length;
    let converted: Payload[];
    try {
      converted = route === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
    } catch (err) {
      // One answer for every reason: naming the key id, or the ids the server holds, would tell a
      // caller which keys exist and which payloads were written under which.
      if (err instanceof UnknownKeyError || err instanceof PayloadDecryptionError) throw new HttpError(400, 'a payload cannot be decrypted with the keys of this codec server');
      throw err;
    }
    return sendJson(res, 200, { payloads: converted.map(payloadToJson) });
  }

  async function login(req: IncomingMessage, res: ServerResponse, client: string): Promise<number> {
    if (req.method === 'GET') return sendPage(res, 200, loginPage(''));
    if (req.method !== 'POST') throw new HttpError(405, 'use GET or POST', { Allow: 'GET, POST' });
    // Refused before the guard sees it: a post from a foreign page counts as no attempt at all.
    if (!signInOriginAllowed(req)) return sendPage(res, 403, loginPage('Sign in from this page.'));
    try {
      guard.refuseWhileLockedOut(client);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      res.setHeader('Retry-After', err.headers['Retry-After']!);
      return sendPage(res, 429, loginPage('Too many wrong tokens from this address. Try again later.'));
    }
    const form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    const permission = auth.permissionOf(form.get('token') ?? '');
    if (!permission) {
      guard.recordFailure(client);
      return sendPage(res, 401, loginPage('That token is not valid.'));
    }
    res.setHeader(
      'Set-Cookie',
      `${SESSION_COOKIE}=${auth.newSession(sessionTtlMs, permission)}; Path=/; Max-Age=${Math.floor(sessionTtlMs / 1000)}; HttpOnly; SameSite=Strict${secureCookie ? '; Secure' : ''}`,
    );
    return sendPage(res, 200, signedInPage([...allowedOrigins]));
  }

  let stopping = false;
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    // A keep-alive connection becomes idle only once its response is out: close it then, not at the
    // keep-alive timeout, so a stop waits for the requests in flight and no longer.
    res.on('finish', () => {
      if (stopping) setImmediate(() => server.closeIdleConnections());
    });
    const facts: Record<string, unknown> = { method: req.method };
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    handle(req, res, facts)
      .catch((err: unknown) => {
        if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message }, err.headers);
        facts.error = err instanceof Error ? err.name : 'non-error thrown';
        return sendJson(res, 500, { error: 'internal error' });
      })
      .then((status) => {
        const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
        // The client's address goes with refusals only: who is probing is news, who decodes is not.
        const meta = { ...facts, status, ms, ...(status >= 400 ? { client: req.socket.remoteAddress } : {}) };
        // Orchestrators poll the health check every few seconds: only its failures are news.
        if (facts.route === 'health' && status === 200) return;
        if (status >= 500) logger.error('codec request failed', meta);
        else if (status >= 400) logger.warn('codec request refused', meta);
        else logger.info('codec request', meta);
      })
      .catch(() => res.destroy());
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${shownHost}:${address.port}`);
        });
      });
    },
    stop(graceMs = 5_000) {
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        stopping = true;
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
