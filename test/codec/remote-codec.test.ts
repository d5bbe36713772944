import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, loadRemoteCodecConfig, RemoteCodecError, RemotePayloadCodec } from '../../src/codec';
import { createCodecServer, type CodecServer } from '../../src/codec/server';
import { ConfigError } from '../../src/config';

// The client's side of the remote codec protocol, without Temporal: the configuration it reads from
// the environment, and what it makes of each answer a codec server can give, from the project's own
// server and from a stand-in that answers whatever a test asks.

const TOKEN = randomBytes(32).toString('base64url');
const ENCODE_TOKEN = randomBytes(32).toString('base64url');
const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let codecServer: CodecServer;
let codecUrl: string;
/** The stand-in's next answer, and the last request it received. */
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_, res) => res.end();
let lastRequest: { url?: string; headers: IncomingMessage['headers']; body: string } | undefined;
let standIn: Server;
let standInUrl: string;
let dir: string;

beforeAll(async () => {
  codecServer = createCodecServer({ codec, token: TOKEN, encodeToken: ENCODE_TOKEN, allowedOrigins: [], namespace: 'default', logger: quiet });
  codecUrl = await codecServer.listen(0);
  standIn = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      lastRequest = { url: req.url, headers: req.headers, body };
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  standInUrl = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'remote-codec-'));
});

afterAll(async () => {
  await codecServer?.stop();
  await new Promise((resolve) => standIn?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const remote = (auth: string | null = `Bearer ${ENCODE_TOKEN}`, endpoint = codecUrl, namespace = 'default') => new RemotePayloadCodec({ endpoint, namespace, ...(auth === null ? {} : { auth }) });

/** The RemoteCodecError `call` rejects with. */
async function refusal(call: Promise<unknown>): Promise<RemoteCodecError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RemoteCodecError);
  return err as RemoteCodecError;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

describe('RemotePayloadCodec with the codec server', () => {
  it('encodes through the server, and decodes back to the same values', async () => {
    const values = [{ email: 'grace@example.com' }, 'second'];
    const encoded = await remote().encode(values.map((v) => defaultPayloadConverter.toPayload(v)));
    expect(encoded.map((p) => Buffer.from(p.metadata!.encoding!).toString())).toEqual(['binary/encrypted', 'binary/encrypted']);
    const decoded = await remote(`Bearer ${TOKEN}`).decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual(values);
  });

  it('checks the credentials with an empty decode', async () => {
    await expect(remote(`Bearer ${TOKEN}`).check()).resolves.toBeUndefined();
    const refused = await refusal(remote('Bearer not-the-token').check());
    expect(refused).toMatchObject({ kind: 'refused', status: 401 });
    expect(refused.message).toBe(`The codec server at ${codecUrl} refused the credentials (401 invalid bearer token): check TEMPORAL_CODEC_AUTH or --codec-auth-file`);
  });

  it('sends no Authorization header without credentials, which the server refuses', async () => {
    const refused = await refusal(remote(null).check());
    expect(refused.message).toContain('(401 a bearer token is required)');
  });

  it('names the namespace, which a server for another namespace refuses with 403', async () => {
    const refused = await refusal(remote(`Bearer ${TOKEN}`, codecUrl, 'other').check());
    expect(refused).toMatchObject({ kind: 'refused', status: 403 });
    expect(refused.message).toBe(`The codec server at ${codecUrl} refused the request (403 this codec server serves namespace "default" only)`);
  });
});

describe('RemotePayloadCodec with any server', () => {
  it('posts JSON to <endpoint>/<operation> with the namespace and the credentials', async () => {
    answer = json(200, { payloads: [] });
    await remote('Bearer abc', `${standInUrl}/prefix`, 'orders').check();
    expect(lastRequest).toMatchObject({
      url: '/prefix/decode',
      headers: { 'content-type': 'application/json', 'x-namespace': 'orders', authorization: 'Bearer abc' },
      body: '{"payloads":[]}',
    });
  });

  it('does not follow a redirect, which would carry the token elsewhere', async () => {
    answer = (_, res) => {
      res.writeHead(307, { Location: 'http://127.0.0.1:1/decode' });
      res.end();
    };
    const refused = await refusal(remote('Bearer abc', standInUrl).check());
    expect(refused).toMatchObject({ kind: 'refused', status: 307 });
    expect(refused.message).toBe(`The codec server at ${standInUrl} answered with a redirect (307), which is not followed: point --codec-endpoint at the server itself`);
  });

  it('takes 300 and 399 as redirects, 299 and 400 not', async () => {
    for (const status of [300, 399]) {
      answer = json(status, {});
      expect(await refusal(remote('Bearer abc', standInUrl).check())).toMatchObject({ kind: 'refused', status });
    }
    answer = json(400, { error: 'bad' });
    expect(await refusal(remote('Bearer abc', standInUrl).check())).toMatchObject({ kind: 'failed', status: 400 });
    answer = json(299, { payloads: [] });
    await expect(remote('Bearer abc', standInUrl).check()).resolves.toBeUndefined();
  });

  it('reports 429 as refused, with the server message', async () => {
    answer = json(429, { error: 'too many wrong tokens from this address: try again later' });
    const refused = await refusal(remote('Bearer abc', standInUrl).check());
    expect(refused).toMatchObject({ kind: 'refused', status: 429 });
    expect(refused.message).toBe(`The codec server at ${standInUrl} refused the request (429 too many wrong tokens from this address: try again later)`);
  });

  it('reports any other refusal as failed, naming the operation, with the status text when the body is not the server\'s', async () => {
    answer = json(500, '<html>oops</html>');
    const failed = await refusal(remote('Bearer abc', standInUrl).encode([]));
    expect(failed).toMatchObject({ kind: 'failed', status: 500 });
    expect(failed.message).toBe(`The codec server at ${standInUrl} could not encode (500 Internal Server Error)`);
    answer = json(401, { error: 42 });
    expect((await refusal(remote('Bearer abc', standInUrl).check())).message).toContain('(401 Unauthorized)');
  });

  it('shows at most 200 characters of the server message', async () => {
    answer = json(503, { error: 'x'.repeat(250) });
    const failed = await refusal(remote('Bearer abc', standInUrl).check());
    expect(failed.message).toBe(`The codec server at ${standInUrl} could not decode (503 ${'x'.repeat(200)})`);
  });

  it('refuses a malformed answer, saying what is wrong with it', async () => {
    answer = json(200, 'not json');
    const failed = await refusal(remote('Bearer abc', standInUrl).decode([]));
    expect(failed).toMatchObject({ kind: 'failed' });
    expect(failed.message).toBe(`The codec server at ${standInUrl} answered decode with a malformed body (the body is not JSON)`);
  });

  it('refuses an answer with another number of payloads than it sent', async () => {
    const payload = defaultPayloadConverter.toPayload('one');
    answer = json(200, { payloads: [] });
    const failed = await refusal(remote('Bearer abc', standInUrl).decode([payload]));
    expect(failed.message).toBe(`The codec server at ${standInUrl} answered 0 payloads for 1`);
    answer = json(200, { payloads: [{}, {}] });
    expect((await refusal(remote('Bearer abc', standInUrl).decode([payload]))).message).toBe(
      `The codec server at ${standInUrl} answered decode with a malformed body (more than 1 payloads in one request: split it)`,
    );
  });

  it('reports a server that does not answer as unreachable, with the reason', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const down = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const failed = await refusal(remote('Bearer abc', down).check());
    expect(failed).toMatchObject({ kind: 'unreachable', status: undefined });
    expect(failed.message).toBe(`Cannot reach the codec server at ${down} (ECONNREFUSED)`);
  });

  it('gives up after timeoutMs', async () => {
    answer = () => undefined;
    const slow = new RemotePayloadCodec({ endpoint: standInUrl, namespace: 'default', timeoutMs: 200 });
    const failed = await refusal(slow.check());
    expect(failed).toMatchObject({ kind: 'unreachable' });
    expect(failed.message).toBe(`Cannot reach the codec server at ${standInUrl} (TimeoutError)`);
  });
});

describe('loadRemoteCodecConfig', () => {
  const problemsOf = (env: Record<string, string>): readonly string[] => {
    try {
      loadRemoteCodecConfig(env, 'default');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    throw new Error('accepted');
  };

  it('is off without an endpoint', () => {
    expect(loadRemoteCodecConfig({}, 'default')).toBeUndefined();
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: '  ' }, 'default')).toBeUndefined();
  });

  it('takes the endpoint without trailing slashes, the namespace, and the credentials as given', () => {
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: ' https://codec.example.com/base// ', TEMPORAL_CODEC_AUTH: ' Bearer abc ' }, 'orders')).toEqual({
      endpoint: 'https://codec.example.com/base',
      namespace: 'orders',
      auth: 'Bearer abc',
    });
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: 'https://codec.example.com' }, 'default')).toEqual({ endpoint: 'https://codec.example.com', namespace: 'default' });
  });

  it('reads the token from a file: a bare token gets the Bearer scheme, a scheme and a token stay as they are', () => {
    const bare = join(dir, 'bare');
    writeFileSync(bare, '  abc123  \n');
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', TEMPORAL_CODEC_AUTH_FILE: bare }, 'default')?.auth).toBe('Bearer abc123');
    const schemed = join(dir, 'schemed');
    writeFileSync(schemed, 'Basic  dXNlcjpwdw==\n');
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', TEMPORAL_CODEC_AUTH_FILE: schemed }, 'default')?.auth).toBe('Basic  dXNlcjpwdw==');
  });

  it('refuses a token file that is empty, holds two lines or cannot be read, naming the path and never the content', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', TEMPORAL_CODEC_AUTH_FILE: empty })).toEqual([`TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) ${empty} must hold the token on one line`]);
    const twoLines = join(dir, 'two-lines');
    writeFileSync(twoLines, 'secret-one\nsecret-two');
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', TEMPORAL_CODEC_AUTH_FILE: twoLines })).toEqual([`TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) ${twoLines} must hold the token on one line`]);
    const missing = join(dir, 'missing');
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', TEMPORAL_CODEC_AUTH_FILE: missing })).toEqual([`TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) ${missing} cannot be read (ENOENT)`]);
  });

  it('refuses the token given two ways', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'abc');
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', TEMPORAL_CODEC_AUTH: 'Bearer abc', TEMPORAL_CODEC_AUTH_FILE: file })).toEqual([
      'TEMPORAL_CODEC_AUTH and TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) are both set: give the token one way',
    ]);
  });

  it('refuses credentials without an endpoint, by either variable', () => {
    const expected = ['TEMPORAL_CODEC_AUTH or TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) is set without TEMPORAL_CODEC_ENDPOINT (--codec-endpoint)'];
    expect(problemsOf({ TEMPORAL_CODEC_AUTH: 'Bearer abc' })).toEqual(expected);
    const file = join(dir, 'token-alone');
    writeFileSync(file, 'abc');
    expect(problemsOf({ TEMPORAL_CODEC_AUTH_FILE: file })).toEqual(expected);
  });

  it('refuses local keys next to an endpoint', () => {
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://c.example', SAGA_CODEC_KEYS: 'k1:abc' })).toEqual([
      'SAGA_CODEC_KEYS and TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) are both set: decode either with local keys or through the codec server, not both',
    ]);
  });

  it('refuses an endpoint that is not an http(s) URL, or that carries credentials', () => {
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'codec.example.com' })).toEqual(['TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) is not a URL']);
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'ftp://codec.example.com' })).toEqual(['TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must be an http or https URL']);
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://user@codec.example.com' })).toEqual([
      'TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must not carry credentials: use TEMPORAL_CODEC_AUTH or --codec-auth-file',
    ]);
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: 'https://:pw@codec.example.com' })).toHaveLength(1);
  });

  it.each(['localhost', 'codec.localhost', 'LOCALHOST', '127.0.0.1', '127.8.9.10', '[::1]', '[::ffff:127.0.0.1]'])('takes plain http to this machine (%s)', (host) => {
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: `http://${host}:8888` }, 'default')?.endpoint).toBe(`http://${host}:8888`);
  });

  it.each(['codec.example.com', 'localhost.example.com', '128.0.0.1', '10.127.0.1', '[::2]', '[::ffff:10.0.0.1]', '[2001:db8::127]'])('refuses plain http to another machine (%s)', (host) => {
    const hostname = new URL(`http://${host}`).hostname;
    expect(problemsOf({ TEMPORAL_CODEC_ENDPOINT: `http://${host}:8888` })).toEqual([
      `TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must use https to reach ${hostname}: plain http would carry the token and the decoded payloads in clear text (http is for localhost only)`,
    ]);
  });
});
