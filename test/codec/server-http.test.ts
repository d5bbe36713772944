import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../../src/codec';
import { isBase64 } from '../../src/codec/payloads-json';
import { createCodecServer, type CodecServer, type CodecServerLogger } from '../../src/codec/server';
import { signInGuard } from '../../src/codec/server-auth';
import { loadCodecServerConfig } from '../../src/codec/server-config';
import { newToken, tokenWeakness } from '../../src/codec/token-strength';
import { ConfigError } from '../../src/config';

// The payload's wire format, written out rather than imported: stored histories carry these names,
// so changing one is a breaking change the test must notice.
const KEY_ID_METADATA = 'encryption-key-id';

// Tokens as an operator makes them: random, never typed.
const TOKEN = randomBytes(32).toString('base64url');
const ENCODE_TOKEN = randomBytes(32).toString('base64url');
const UI_ORIGIN = 'http://localhost:8233';
const k1 = { id: 'k1', key: randomBytes(32) };
const codec = new AesGcmPayloadCodec([k1]);
const customer = { email: 'grace.hopper@example.com', name: 'Grace Hopper', payment: { token: 'tok_mastercard_77' } };

type JsonPayload = { metadata: Record<string, string>; data: string };
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data, 'base64'),
});

let now = Date.now();
const logLines: string[] = [];
const logger: CodecServerLogger = {
  info: (msg, meta) => logLines.push(JSON.stringify({ level: 'info', msg, ...meta })),
  warn: (msg, meta) => logLines.push(JSON.stringify({ level: 'warn', msg, ...meta })),
  error: (msg, meta) => logLines.push(JSON.stringify({ level: 'error', msg, ...meta })),
};

let codecServer: CodecServer;
let base: string;
let encrypted: JsonPayload[];

beforeAll(async () => {
  codecServer = createCodecServer({ codec, token: TOKEN, encodeToken: ENCODE_TOKEN, allowedOrigins: [UI_ORIGIN], namespace: 'default', logger, maxBodyBytes: 64 * 1024, now: () => now });
  base = await codecServer.listen(0);
  encrypted = (await codec.encode([defaultPayloadConverter.toPayload(customer), defaultPayloadConverter.toPayload('second')])).map(toJson);
});
afterAll(async () => {
  await codecServer?.stop();
});
beforeEach(() => {
  now = Date.now();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function decodedValues(res: Response): Promise<unknown[]> {
  expect(res.status).toBe(200);
  const { payloads } = (await res.json()) as { payloads: JsonPayload[] };
  return payloads.map((p) => defaultPayloadConverter.fromPayload(fromJson(p)));
}

describe('codec server: decode and encode', () => {
  it('decodes payloads for a caller with the bearer token', async () => {
    expect(await decodedValues(await post('/decode', { payloads: encrypted }))).toEqual([customer, 'second']);
  });

  it('encodes payloads under the active key for the encode token, which decodes too', async () => {
    const plain = [toJson(defaultPayloadConverter.toPayload(customer))];
    const res = await post('/encode', { payloads: plain }, { Authorization: `Bearer ${ENCODE_TOKEN}` });
    expect(res.status).toBe(200);
    const { payloads } = (await res.json()) as { payloads: JsonPayload[] };
    expect(Buffer.from(payloads[0]!.metadata[KEY_ID_METADATA]!, 'base64').toString()).toBe('k1');
    expect(await decodedValues(await post('/decode', { payloads }))).toEqual([customer]);
    expect(await decodedValues(await post('/decode', { payloads }, { Authorization: `Bearer ${ENCODE_TOKEN}` }))).toEqual([customer]);
  });

  it('refuses to encode for a viewer: the token decodes only, with or without a browser session', async () => {
    const plain = [toJson(defaultPayloadConverter.toPayload('a forged signal'))];
    const res = await post('/encode', { payloads: plain });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toContain('SAGA_CODEC_SERVER_ENCODE_TOKEN');
    const session = (await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }) })).headers.get('set-cookie')!.split(';')[0]!;
    expect((await post('/encode', { payloads: plain }, { Authorization: '', Cookie: session })).status).toBe(403);
    const encodeSession = (await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token: ENCODE_TOKEN }) })).headers.get('set-cookie')!.split(';')[0]!;
    expect((await post('/encode', { payloads: plain }, { Authorization: '', Cookie: encodeSession })).status).toBe(200);
  });

  it('refuses to encode at all when no encode token is configured', async () => {
    const decodeOnly = createCodecServer({ codec, token: TOKEN, allowedOrigins: [UI_ORIGIN], namespace: 'default', logger });
    const url = await decodeOnly.listen(0);
    try {
      const res = await fetch(`${url}/encode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ payloads: [] }) });
      expect(res.status).toBe(403);
    } finally {
      await decodeOnly.stop();
    }
  });

  it('answers under any path prefix: only the last segment selects the operation', async () => {
    expect(await decodedValues(await post('/codec/default/decode', { payloads: encrypted }))).toEqual([customer, 'second']);
  });

  it('accepts an empty payload list and a request naming its namespace', async () => {
    const res = await post('/decode', { payloads: [] }, { 'X-Namespace': 'default' });
    expect(await res.json()).toEqual({ payloads: [] });
  });

  it('refuses a namespace it does not serve', async () => {
    const res = await post('/decode', { payloads: encrypted }, { 'X-Namespace': 'other' });
    expect(res.status).toBe(403);
  });

  it('refuses anything but JSON', async () => {
    expect((await post('/decode', { payloads: encrypted }, { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await post('/decode', '{"payloads": [')).status).toBe(400);
    expect((await post('/decode', { payloads: 'nope' })).status).toBe(400);
    expect((await post('/decode', { payloads: [{ data: 'not base64!' }] })).status).toBe(400);
  });

  it('names no key id, its own or the payload’s, when a payload cannot be decrypted', async () => {
    const [foreign] = await new AesGcmPayloadCodec([{ id: 'k0', key: randomBytes(32) }]).encode([defaultPayloadConverter.toPayload(customer)]);
    const [altered] = await codec.encode([defaultPayloadConverter.toPayload(customer)]);
    altered!.data![20]! ^= 1;
    for (const payload of [foreign!, altered!]) {
      const res = await post('/decode', { payloads: [toJson(payload)] });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: string };
      expect(error).toBe('a payload cannot be decrypted with the keys of this codec server');
      expect(error).not.toMatch(/k0|k1/);
    }
  });

  it('refuses bodies over the size limit', async () => {
    const res = await post('/decode', { payloads: [{ data: Buffer.alloc(100 * 1024).toString('base64') }] });
    expect(res.status).toBe(413);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    expect((await fetch(`${base}/secrets`)).status).toBe(404);
    expect((await fetch(`${base}/decode`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
  });

  it('reports health without a token', async () => {
    const res = await fetch(`${base}/health`);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});

describe('codec server: hostile bodies', () => {
  let big: CodecServer;
  let bigBase: string;
  beforeAll(async () => {
    big = createCodecServer({ codec, token: TOKEN, allowedOrigins: [UI_ORIGIN], namespace: 'default', logger, maxPayloads: 50 });
    bigBase = await big.listen(0);
  });
  afterAll(async () => {
    await big?.stop();
  });
  const postBig = (body: string) =>
    fetch(`${bigBase}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body });

  it('checks the base64 of a payload just under the 8 MiB limit in linear time: 200 when valid, 400 when not, never 500', async () => {
    const data = Buffer.alloc(6 * 1024 * 1024, 7).toString('base64');
    expect(data.length).toBeGreaterThan(8 * 1024 * 1024 - 64);
    const valid = JSON.stringify({ payloads: [{ data: data.slice(0, 8 * 1024 * 1024 - 64) }] });
    expect(Buffer.byteLength(valid)).toBeLessThanOrEqual(8 * 1024 * 1024);
    const ok = await postBig(valid);
    expect(ok.status).toBe(200);
    const bad = await postBig(JSON.stringify({ payloads: [{ data: `${data.slice(0, 8 * 1024 * 1024 - 68)}!!!!` }] }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('payloads[0].data must be a base64 string');
  });

  it('answers 413 to a body over 8 MiB and to more payloads than one request may carry', async () => {
    expect((await postBig(JSON.stringify({ payloads: [{ data: 'A'.repeat(8 * 1024 * 1024 + 4) }] }))).status).toBe(413);
    const many = await postBig(JSON.stringify({ payloads: Array.from({ length: 51 }, () => ({ data: '' })) }));
    expect(many.status).toBe(413);
    expect(((await many.json()) as { error: string }).error).toMatch(/more than 50 payloads/);
    expect((await postBig(JSON.stringify({ payloads: Array.from({ length: 50 }, () => ({ data: '' })) }))).status).toBe(200);
  });

  it('tells base64 from anything else, padded or not, standard or URL-safe', () => {
    for (const valid of ['', 'QQ', 'QQ==', 'QUI', 'QUI=', 'QUJD', 'a+/b', 'a-_b']) expect(isBase64(valid)).toBe(true);
    for (const invalid of ['Q', 'QUJDR', 'QQ=', 'Q===', '=', 'QU!D', 'QUJD\n', 'QQ==QQ==']) expect(isBase64(invalid)).toBe(false);
  });
});

describe('codec server: guessing the token', () => {
  // The production defaults: nothing but the clock is set.
  let guarded: CodecServer;
  let guardedBase: string;
  let clock = Date.now();
  beforeAll(async () => {
    guarded = createCodecServer({ codec, token: TOKEN, allowedOrigins: [UI_ORIGIN], namespace: 'default', logger, now: () => clock });
    guardedBase = await guarded.listen(0);
  });
  afterAll(async () => {
    await guarded?.stop();
  });
  const decodeWith = (token: string) =>
    fetch(`${guardedBase}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ payloads: encrypted }) });
  const wrong = (i: number) => decodeWith(`wrong-${i}-${randomBytes(24).toString('base64url')}`);

  it('takes 10 wrong tokens from a client address in 15 minutes, refuses it with 429 from the 11th request, the right token included, and logs the address', async () => {
    logLines.length = 0;
    for (let i = 1; i <= 9; i++) expect((await wrong(i)).status).toBe(401);
    expect(await decodedValues(await decodeWith(TOKEN))).toEqual([customer, 'second']);
    expect((await wrong(10)).status).toBe(401);

    const locked = await decodeWith(TOKEN);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('900');
    expect((await fetch(`${guardedBase}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }) })).status).toBe(429);

    const refusals = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.status !== 200);
    expect(refusals.map((r) => r.status)).toEqual([...Array<number>(10).fill(401), 429, 429]);
    for (const r of refusals) expect(String(r.client)).toMatch(/127\.0\.0\.1/);

    clock += 15 * 60_000 - 1_000;
    expect((await decodeWith(TOKEN)).status).toBe(429);
    clock += 1_000;
    expect(await decodedValues(await decodeWith(TOKEN))).toEqual([customer, 'second']);
  });

  it('does not count sign-in posts from a page of another site: ten of them leave the operator’s token working', async () => {
    for (const origin of [...Array<string>(10).fill('https://evil.example'), 'null']) {
      const res = await fetch(`${guardedBase}/login`, { method: 'POST', headers: { Origin: origin }, body: new URLSearchParams({ token: `guess-${randomBytes(24).toString('base64url')}` }) });
      expect(res.status).toBe(403);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    expect(await decodedValues(await decodeWith(TOKEN))).toEqual([customer, 'second']);
    const fromUi = await fetch(`${guardedBase}/login`, { method: 'POST', headers: { Origin: UI_ORIGIN }, body: new URLSearchParams({ token: TOKEN }) });
    expect(fromUi.status).toBe(200);
    const fromItself = await fetch(`${guardedBase}/login`, { method: 'POST', headers: { Origin: guardedBase }, body: new URLSearchParams({ token: TOKEN }) });
    expect(fromItself.status).toBe(200);
  });

  it('keeps a locked-out address locked while 10,000 other addresses try wrong tokens', () => {
    let time = 0;
    const guard = signInGuard(10, 15 * 60_000, () => time);
    for (let i = 0; i < 10; i++) guard.recordFailure('198.51.100.7');
    for (let i = 0; i < 10_000; i++) guard.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    time += 60_000;
    expect(() => guard.refuseWhileLockedOut('198.51.100.7')).toThrow(expect.objectContaining({ status: 429 }));
  });

  it('counts the wrong tokens of an IPv6 client per /64 network', () => {
    const guard = signInGuard(10, 15 * 60_000, () => 0);
    for (let i = 1; i <= 10; i++) guard.recordFailure(`2001:db8:aa:bb::${i.toString(16)}`);
    expect(() => guard.refuseWhileLockedOut('2001:db8:aa:bb:ffff:1:2:3')).toThrow(expect.objectContaining({ status: 429 }));
    expect(() => guard.refuseWhileLockedOut('2001:0db8:00aa:00bb::beef')).toThrow(expect.objectContaining({ status: 429 }));
    expect(() => guard.refuseWhileLockedOut('2001:db8:aa:bc::1')).not.toThrow();
  });
});

describe('codec server: authentication', () => {
  it('refuses a request without a token with 401 and nothing decoded', async () => {
    const res = await post('/decode', { payloads: encrypted }, { Authorization: '' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.text()).not.toContain('grace');
  });

  it('refuses a wrong token and a token sent under another scheme', async () => {
    expect((await post('/decode', { payloads: encrypted }, { Authorization: `Bearer ${TOKEN.slice(0, -1)}${TOKEN.endsWith('A') ? 'B' : 'A'}` })).status).toBe(401);
    expect((await post('/decode', { payloads: encrypted }, { Authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await post('/encode', { payloads: [] }, { Authorization: '' })).status).toBe(401);
  });

  it('starts a browser session at /login with the token, as an HttpOnly same-site cookie', async () => {
    const form = await fetch(`${base}/login`);
    expect(await form.text()).toContain('name="token"');

    const wrong = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token: 'wrong-token-wrong-token' }) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    // A browser posts the form from the codec server's own origin, which is not the UI's.
    const signedIn = await fetch(`${base}/login`, { method: 'POST', headers: { Origin: base }, body: new URLSearchParams({ token: TOKEN }) });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);

    const session = cookie.split(';')[0]!;
    const res = await post('/decode', { payloads: encrypted }, { Authorization: '', Cookie: session, Origin: UI_ORIGIN });
    expect(await decodedValues(res)).toEqual([customer, 'second']);
  });

  it('refuses an expired or forged session cookie', async () => {
    const signedIn = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }) });
    const session = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const [name, value] = session.split('=') as [string, string];
    const [expires, permission, mac] = value.split('.') as [string, string, string];
    const forged = `${name}=${Number(expires) + 3_600_000}.${permission}.${mac}`;
    expect((await post('/decode', { payloads: encrypted }, { Authorization: '', Cookie: forged })).status).toBe(401);
    const promoted = `${name}=${expires}.encode.${mac}`;
    expect((await post('/encode', { payloads: [] }, { Authorization: '', Cookie: promoted })).status).toBe(401);

    now += 9 * 3_600_000;
    expect((await post('/decode', { payloads: encrypted }, { Authorization: '', Cookie: session })).status).toBe(401);
  });
});

describe('codec server: CORS', () => {
  const preflight = (origin: string) =>
    fetch(`${base}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });

  it('answers the preflight of the configured UI origin with the headers the Web UI sends', async () => {
    const res = await preflight(UI_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const header of ['content-type', 'x-namespace', 'authorization']) expect(allowed).toContain(header);
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('gives another origin no CORS headers, for the preflight and for the request itself', async () => {
    const res = await preflight('https://evil.example');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();

    const direct = await post('/decode', { payloads: encrypted }, { Origin: 'http://localhost:9999' });
    expect(direct.status).toBe(403);
    expect(direct.headers.get('access-control-allow-origin')).toBeNull();
    expect(await direct.text()).not.toContain('grace');
  });

  it('adds CORS headers to the configured origin’s requests, refused ones included', async () => {
    const ok = await post('/decode', { payloads: encrypted }, { Origin: UI_ORIGIN });
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const refused = await post('/decode', { payloads: encrypted }, { Origin: UI_ORIGIN, Authorization: '' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
  });

  it('sends no CORS headers to callers that are not browsers', async () => {
    const res = await post('/decode', { payloads: encrypted });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('codec server: logging', () => {
  it('logs request facts but no payload, token or clear text', async () => {
    logLines.length = 0;
    await decodedValues(await post('/decode', { payloads: encrypted }, { 'X-Namespace': 'default' }));
    await post('/decode', { payloads: encrypted }, { Authorization: 'Bearer not-the-token-at-all' });
    await post('/grace.hopper@example.com/x', {});
    await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }) });

    expect(logLines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ msg: 'codec request', method: 'POST', route: 'decode', status: 200, payloads: 2, namespace: 'default' }),
      expect.objectContaining({ msg: 'codec request refused', route: 'decode', status: 401 }),
      expect.objectContaining({ msg: 'codec request refused', route: 'other', status: 404 }),
      expect.objectContaining({ msg: 'codec request', route: 'login', status: 200 }),
    ]);
    const log = logLines.join('\n');
    for (const secret of ['grace', 'Hopper', 'tok_mastercard', TOKEN, 'not-the-token', encrypted[0]!.data.slice(0, 16)]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe('codec server: stopping', () => {
  it('lets a request in flight finish, then refuses new connections', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowCodec = {
      encode: (p: Payload[]) => codec.encode(p),
      decode: async (p: Payload[]) => {
        await gate;
        return codec.decode(p);
      },
    };
    const slow = createCodecServer({ codec: slowCodec, token: TOKEN, allowedOrigins: [UI_ORIGIN], namespace: 'default', logger });
    const url = await slow.listen(0);
    const inFlight = fetch(`${url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ payloads: encrypted }),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopped = slow.stop(10_000);
    release();
    expect(await decodedValues(await inFlight)).toEqual([customer, 'second']);
    await stopped;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe('loadCodecServerConfig', () => {
  const keys = `k1:${k1.key.toString('base64')}`;

  it('refuses to start without keys or a token, naming both', () => {
    expect(() => loadCodecServerConfig({})).toThrow(ConfigError);
    try {
      loadCodecServerConfig({});
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        expect.stringContaining('SAGA_CODEC_KEYS is missing'),
        expect.stringContaining('SAGA_CODEC_SERVER_TOKEN is missing'),
      ]);
    }
  });

  it('refuses weak tokens at start: fewer than 10^24 guesses by zxcvbn, whatever their length', () => {
    const weak = ['short', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'abcdefghijklmnopqrst', 'Password1234567890!@', 'correcthorsebatterystaple', randomBytes(12).toString('base64url')];
    for (const token of weak) {
      expect(() => loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: token }), token).toThrow(/SAGA_CODEC_SERVER_TOKEN is too easy to guess/);
      expect(() => loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN, SAGA_CODEC_SERVER_ENCODE_TOKEN: token }), token).toThrow(/SAGA_CODEC_SERVER_ENCODE_TOKEN is too easy to guess/);
      expect(() => createCodecServer({ codec, token, allowedOrigins: [], namespace: 'default', logger }), token).toThrow(ConfigError);
    }
    for (const token of [randomBytes(32).toString('base64'), newToken(), TOKEN]) expect(tokenWeakness(token)).toBeUndefined();
    expect(() => loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN, SAGA_CODEC_SERVER_ENCODE_TOKEN: TOKEN })).toThrow(/must differ/);
  });

  it('prints a token it accepts with --new-token, and starts nothing', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'codec-server.ts'), '--new-token'], { encoding: 'utf8', env: {} });
    expect(run.status).toBe(0);
    const token = run.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenWeakness(token)).toBeUndefined();
  });

  it('never quotes a refused token', () => {
    try {
      loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: 'correcthorsebatterystaple' });
    } catch (err) {
      expect((err as Error).message).not.toContain('correcthorse');
    }
  });

  it('allows the Web UI origin of TEMPORAL_UI_URL by default, and the local UI when that is unset', () => {
    const fromUi = loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN, TEMPORAL_UI_URL: 'https://temporal.example.com/ui/' });
    expect(fromUi.allowedOrigins).toEqual(['https://temporal.example.com']);
    const local = loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN });
    expect(local).toMatchObject({ allowedOrigins: ['http://localhost:8233'], host: '127.0.0.1', port: 8888, namespace: 'default' });
  });

  it('takes an explicit origin list and refuses entries that are not bare origins', () => {
    const config = loadCodecServerConfig({
      SAGA_CODEC_KEYS: keys,
      SAGA_CODEC_SERVER_TOKEN: TOKEN,
      SAGA_CODEC_SERVER_ORIGINS: 'http://localhost:8233, http://127.0.0.1:8233',
    });
    expect(config.allowedOrigins).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
    expect(() =>
      loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN, SAGA_CODEC_SERVER_ORIGINS: 'http://localhost:8233/namespaces' }),
    ).toThrow(/origin only/);
    expect(() => loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN, SAGA_CODEC_SERVER_ORIGINS: '*' })).toThrow(/not a URL/);
  });

  it('refuses a port that is not a number', () => {
    expect(() => loadCodecServerConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_SERVER_TOKEN: TOKEN, SAGA_CODEC_SERVER_PORT: 'http' })).toThrow(/not a port/);
  });
});
