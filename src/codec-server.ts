import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { AesGcmPayloadCodec, loadCodecConfig, PayloadDecryptionError, UnknownKeyError, type CodecConfig } from './codec';
import { ConfigError } from './config';

// The remote codec protocol of the Temporal Web UI and CLI: POST …/decode and …/encode with the
// Payloads message as protobuf JSON (`{ "payloads": [{ "metadata": {…}, "data": "<base64>" }] }`).
// Only the last path segment selects the operation, so the server can sit under any prefix.
//
// Who may decode: callers with the bearer token (the CLI's `--codec-auth`), or a browser that signed
// in at …/login and now holds a session cookie derived from the token. The cookie exists because the
// Web UI cannot send an arbitrary Authorization header: it only forwards its own OIDC access token,
// or the browser's cookies when "include cross-origin credentials" is on.

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
  /** Bearer token every caller must present (at least 16 characters and about 80 bits, see {@link tokenWeakness}). */
  token: string;
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
const MIN_TOKEN_LENGTH = 16;
const MIN_TOKEN_BITS = 80;
// Past this many client addresses under watch, the oldest are forgotten: the table must stay bounded
// even when the wrong tokens come from many addresses.
const MAX_TRACKED_CLIENTS = 10_000;
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Namespace';
// Only these names reach the log: an arbitrary path could carry anything.
const KNOWN_ROUTES = new Set(['decode', 'encode', 'login', 'health']);

/** Refused request: the status and a message that is safe to send and to log. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** JSON lines on stderr, the same shape as the worker's log. */
export const stderrLogger: CodecServerLogger = {
  info: (message, meta) => writeLine('info', message, meta),
  warn: (message, meta) => writeLine('warn', message, meta),
  error: (message, meta) => writeLine('error', message, meta),
};

function writeLine(level: string, msg: string, meta: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...meta })}\n`);
}

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

/** Creates (but does not start) a codec server; throws {@link ConfigError} for a weak token. */
export function createCodecServer(options: CodecServerOptions): CodecServer {
  const weakness = tokenWeakness(options.token);
  if (weakness) throw new ConfigError([`the codec server token ${weakness}`]);
  const { codec, namespace } = options;
  const allowedOrigins = new Set(options.allowedOrigins);
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const maxPayloads = options.maxPayloads ?? 1000;
  const maxFailedSignIns = options.maxFailedSignIns ?? 10;
  const signInWindowMs = options.signInWindowMs ?? 15 * 60_000;
  /** Wrong tokens per client address: how many, and when the count started. */
  const failedSignIns = new Map<string, { count: number; since: number }>();
  const sessionTtlMs = options.sessionTtlMs ?? 8 * 3_600_000;
  const logger = options.logger ?? stderrLogger;
  const now = options.now ?? Date.now;
  const tokenDigest = sha256(options.token);
  // Secure cookies only reach https pages; a UI served over https implies a codec server behind https too.
  const secureCookie = options.allowedOrigins.length > 0 && options.allowedOrigins.every((o) => o.startsWith('https://'));

  const sessionMac = (expiresAt: number) => createHmac('sha256', options.token).update(`codec-session:${expiresAt}`).digest('base64url');

  function hasValidToken(token: string): boolean {
    return timingSafeEqual(sha256(token), tokenDigest);
  }

  // Guessing the token is refused per client address once it has presented too many wrong ones; a
  // right token does not help while the address is refused, so a guess that happens to be right
  // reveals nothing either.
  function refuseWhileLockedOut(client: string): void {
    const entry = failedSignIns.get(client);
    if (!entry) return;
    const left = entry.since + signInWindowMs - now();
    if (left <= 0) failedSignIns.delete(client);
    else if (entry.count >= maxFailedSignIns) {
      throw new HttpError(429, 'too many wrong tokens from this address: try again later', { 'Retry-After': String(Math.ceil(left / 1000)) });
    }
  }

  function recordFailedSignIn(client: string): void {
    const entry = failedSignIns.get(client);
    if (entry && entry.since + signInWindowMs > now()) entry.count += 1;
    else {
      failedSignIns.delete(client);
      if (failedSignIns.size >= MAX_TRACKED_CLIENTS) failedSignIns.delete(failedSignIns.keys().next().value!);
      failedSignIns.set(client, { count: 1, since: now() });
    }
  }

  function authenticate(req: IncomingMessage, client: string): void {
    const authorization = req.headers.authorization;
    if (authorization) {
      refuseWhileLockedOut(client);
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match && hasValidToken(match[1]!)) return;
      recordFailedSignIn(client);
      throw new HttpError(401, 'invalid bearer token', { 'WWW-Authenticate': 'Bearer realm="saga-codec", error="invalid_token"' });
    }
    const session = readCookie(req, SESSION_COOKIE);
    if (session) {
      const [expires, mac] = session.split('.');
      const expiresAt = Number(expires);
      if (mac && Number.isSafeInteger(expiresAt) && expiresAt > now() && timingSafeEqual(sha256(mac), sha256(sessionMac(expiresAt)))) return;
    }
    throw new HttpError(401, 'a bearer token is required', { 'WWW-Authenticate': 'Bearer realm="saga-codec"' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, facts: Record<string, unknown>): Promise<number> {
    const route = (new URL(req.url ?? '/', 'http://codec.invalid').pathname.split('/').filter(Boolean).pop() ?? '').toLowerCase();
    facts.route = KNOWN_ROUTES.has(route) ? route : 'other';
    const client = req.socket.remoteAddress ?? 'unknown';
    // The login page posts to itself (its own origin) and the health check is not for browsers:
    // only the codec endpoints are called cross-origin, and only from the UI.
    if (route === 'health' && req.method === 'GET') return send(res, 200, { status: 'ok' });
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

    authenticate(req, client);
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
      // These messages name key ids and never payload content: safe to return and to log.
      if (err instanceof UnknownKeyError || err instanceof PayloadDecryptionError) throw new HttpError(400, err.message);
      throw err;
    }
    return send(res, 200, { payloads: converted.map(payloadToJson) });
  }

  async function login(req: IncomingMessage, res: ServerResponse, client: string): Promise<number> {
    if (req.method === 'GET') return sendPage(res, 200, loginPage(''));
    if (req.method !== 'POST') throw new HttpError(405, 'use GET or POST', { Allow: 'GET, POST' });
    try {
      refuseWhileLockedOut(client);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      res.setHeader('Retry-After', err.headers['Retry-After']!);
      return sendPage(res, 429, loginPage('Too many wrong tokens from this address. Try again later.'));
    }
    const form = new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
    if (!hasValidToken(form.get('token') ?? '')) {
      recordFailedSignIn(client);
      return sendPage(res, 401, loginPage('That token is not valid.'));
    }
    const expiresAt = now() + sessionTtlMs;
    res.setHeader(
      'Set-Cookie',
      `${SESSION_COOKIE}=${expiresAt}.${sessionMac(expiresAt)}; Path=/; Max-Age=${Math.floor(sessionTtlMs / 1000)}; HttpOnly; SameSite=Strict${secureCookie ? '; Secure' : ''}`,
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
        if (err instanceof HttpError) return send(res, err.status, { error: err.message }, err.headers);
        facts.error = err instanceof Error ? err.name : 'non-error thrown';
        return send(res, 500, { error: 'internal error' });
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

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, `request body larger than ${limit} bytes`, { Connection: 'close' }));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `request body larger than ${limit} bytes`, { Connection: 'close' }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Whether `s` is base64 (standard or URL-safe alphabet, padding optional), checked in one pass: a
 * regular expression over a string of megabytes overflows the engine's stack.
 */
export function isBase64(s: string): boolean {
  let end = s.length;
  let padding = 0;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */ && padding < 2) {
    end -= 1;
    padding += 1;
  }
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const alphanumeric = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    if (!alphanumeric && c !== 43 /* + */ && c !== 47 /* / */ && c !== 45 /* - */ && c !== 95 /* _ */) return false;
  }
  return padding === 0 ? end % 4 !== 1 : s.length % 4 === 0;
}

function bytes(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !isBase64(value)) throw new HttpError(400, `${where} must be a base64 string`);
  return Buffer.from(value, 'base64');
}

/** Reads a Payloads message in protobuf JSON form: bytes as base64, empty fields possibly omitted. */
function parsePayloads(body: Buffer, maxPayloads: number): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  const list = (json as { payloads?: unknown } | null)?.payloads;
  if (typeof json !== 'object' || json === null || (list !== undefined && !Array.isArray(list))) {
    throw new HttpError(400, 'expected {"payloads": [...]}');
  }
  if (list && list.length > maxPayloads) throw new HttpError(413, `more than ${maxPayloads} payloads in one request: split it`);
  return ((list ?? []) as unknown[]).map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new HttpError(400, `payloads[${i}] is not an object`);
    const { metadata = {}, data = '' } = item as { metadata?: unknown; data?: unknown };
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new HttpError(400, `payloads[${i}].metadata is not an object`);
    return {
      metadata: Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, bytes(value, `payloads[${i}].metadata.${key}`)])),
      data: bytes(data, `payloads[${i}].data`),
    };
  });
}

function payloadToJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  const base64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('base64');
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, base64(value)])),
    data: base64(payload.data),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
  return status;
}

function sendPage(res: ServerResponse, status: number, html: string): number {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  });
  res.end(html);
  return status;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Saga codec server</title><style>body{font:16px system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}input{width:100%;padding:.4rem;margin:.5rem 0}</style></head><body>${body}</body></html>`;
}

function loginPage(problem: string): string {
  return page(
    `<h1>Decode payloads in the Web UI</h1><p>Enter the codec server token. This browser then keeps a session cookie that lets the Web UI decode payloads.</p>${
      problem ? `<p role="alert"><strong>${escapeHtml(problem)}</strong></p>` : ''
    }<form method="post"><label>Token <input type="password" name="token" autocomplete="off" required autofocus></label><button type="submit">Sign in</button></form>`,
  );
}

function signedInPage(origins: string[]): string {
  const links = origins.map((o) => `<a href="${escapeHtml(o)}">${escapeHtml(o)}</a>`).join(', ');
  return page(`<h1>Signed in</h1><p>The Web UI (${links}) can now decode payloads in this browser. Turn on “Include cross-origin credentials” in its codec server settings.</p>`);
}

/** Everything the codec server process reads from the environment. */
export interface CodecServerConfig {
  /** Interface to bind. @default "127.0.0.1" (env `SAGA_CODEC_SERVER_HOST`) */
  host: string;
  /** @default 8888 (env `SAGA_CODEC_SERVER_PORT`) */
  port: number;
  /** Bearer token callers must present. Env `SAGA_CODEC_SERVER_TOKEN` (required, at least 16 characters and about 80 bits). */
  token: string;
  /** Browser origins allowed (CORS). @default the origin of `TEMPORAL_UI_URL`, else "http://localhost:8233" (env `SAGA_CODEC_SERVER_ORIGINS`, comma-separated) */
  allowedOrigins: string[];
  /** @default "default" (env `TEMPORAL_NAMESPACE`) */
  namespace: string;
  /** The keys (env `SAGA_CODEC_KEYS`, required). */
  codec: CodecConfig;
}

/** Reads the codec server's configuration; throws {@link ConfigError} listing every problem. */
export function loadCodecServerConfig(env: Record<string, string | undefined> = process.env): CodecServerConfig {
  const problems: string[] = [];
  let codec: CodecConfig | undefined;
  try {
    codec = loadCodecConfig(env);
    if (!codec) problems.push('SAGA_CODEC_KEYS is missing: the codec server needs the keys the worker encrypts with');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const token = env.SAGA_CODEC_SERVER_TOKEN ?? '';
  if (!token) problems.push('SAGA_CODEC_SERVER_TOKEN is missing: the codec server refuses to run without a token');
  else {
    const weakness = tokenWeakness(token);
    if (weakness) problems.push(`SAGA_CODEC_SERVER_TOKEN ${weakness}`);
  }
  const portText = env.SAGA_CODEC_SERVER_PORT || '8888';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push(`SAGA_CODEC_SERVER_PORT=${portText} is not a port number`);
  const originsText = env.SAGA_CODEC_SERVER_ORIGINS || env.TEMPORAL_UI_URL || 'http://localhost:8233';
  const allowedOrigins: string[] = [];
  for (const entry of originsText.split(',').map((o) => o.trim()).filter(Boolean)) {
    const origin = originOf(entry, env.SAGA_CODEC_SERVER_ORIGINS ? 'SAGA_CODEC_SERVER_ORIGINS' : 'TEMPORAL_UI_URL', problems);
    if (origin) allowedOrigins.push(origin);
  }
  if (problems.length || !codec) throw new ConfigError(problems);
  return {
    host: env.SAGA_CODEC_SERVER_HOST || '127.0.0.1',
    port,
    token,
    allowedOrigins,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    codec,
  };
}

function originOf(entry: string, variable: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    problems.push(`${variable}: "${entry}" is not a URL`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${variable}: "${entry}" is not an http(s) origin`);
    return undefined;
  }
  // SAGA_CODEC_SERVER_ORIGINS lists origins; TEMPORAL_UI_URL may carry a path, whose origin is meant.
  if (variable === 'SAGA_CODEC_SERVER_ORIGINS' && url.origin !== entry.replace(/\/$/, '')) {
    problems.push(`${variable}: "${entry}" must be an origin only (scheme, host and port), e.g. ${url.origin}`);
    return undefined;
  }
  return url.origin;
}

/** Runs the codec server until SIGINT or SIGTERM. */
export async function main(): Promise<void> {
  const config = loadCodecServerConfig();
  const codecServer = createCodecServer({
    codec: new AesGcmPayloadCodec(config.codec.keyRing),
    token: config.token,
    allowedOrigins: config.allowedOrigins,
    namespace: config.namespace,
  });
  const url = await codecServer.listen(config.port, config.host);
  stderrLogger.info('Codec server listening', {
    url,
    namespace: config.namespace,
    allowedOrigins: config.allowedOrigins,
    activeKeyId: config.codec.keyRing.activeKeyId,
    keyIds: config.codec.keyRing.keyIds,
  });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      stderrLogger.info('Codec server stopping', { signal });
      void codecServer.stop().then(resolve);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  stderrLogger.info('Codec server stopped');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `Codec server failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
