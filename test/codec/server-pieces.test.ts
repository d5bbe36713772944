import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HttpError, readBody, readCookie } from '../../src/codec/http';
import { loginPage, signedInPage } from '../../src/codec/login-pages';
import { parsePayloads, payloadToJson } from '../../src/codec/payloads-json';

// The pieces the codec server is built from, each on its own: the body reader's bound, the cookie
// lookup, the Payloads message reader with the place of every problem it names, and the two pages.

/** A request whose body arrives in `chunks`, declaring `declared` bytes when given. */
function request(chunks: string[], declared?: number): IncomingMessage {
  const stream = new PassThrough();
  const req = Object.assign(stream, { headers: declared === undefined ? {} : { 'content-length': String(declared) } }) as unknown as IncomingMessage;
  setImmediate(() => {
    for (const chunk of chunks) stream.write(Buffer.from(chunk));
    stream.end();
  });
  return req;
}

describe('readBody', () => {
  it('reads a body of exactly the limit', async () => {
    expect((await readBody(request(['abc', 'de']), 5)).toString()).toBe('abcde');
  });

  it('refuses a body one byte past the limit with 413, as it arrives', async () => {
    const err = await readBody(request(['abc', 'def']), 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 413, message: 'request body larger than 5 bytes', headers: { Connection: 'close' } });
  });

  it('refuses a declared length past the limit before reading, and reads a declared length at the limit', async () => {
    await expect(readBody(request(['abcdef'], 6), 5)).rejects.toMatchObject({ status: 413, message: 'request body larger than 5 bytes', headers: { Connection: 'close' } });
    expect((await readBody(request(['abcde'], 5), 5)).toString()).toBe('abcde');
  });
});

describe('readCookie', () => {
  const withCookie = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } }) as IncomingMessage;

  it('finds a cookie among others, its value whole even when it holds "="', () => {
    expect(readCookie(withCookie('theme=dark;  session=a.b=c== ; other=1'), 'session')).toBe('a.b=c==');
    expect(readCookie(withCookie('session=first'), 'session')).toBe('first');
  });

  it('answers undefined without the cookie, or without any cookie header', () => {
    expect(readCookie(withCookie('sessions=1; xsession=2'), 'session')).toBeUndefined();
    expect(readCookie(withCookie(), 'session')).toBeUndefined();
  });
});

describe('parsePayloads', () => {
  const parse = (body: unknown, max = 10) => parsePayloads(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), max);
  const problem = (body: unknown, max = 10) => {
    try {
      parse(body, max);
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      return { status: (err as HttpError).status, message: (err as HttpError).message };
    }
    throw new Error('accepted');
  };

  it('reads metadata and data from base64, an absent field as empty, and no list as no payloads', () => {
    const [full, empty] = parse({ payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"a"').toString('base64') }, {}] });
    expect(Buffer.from(full!.metadata!.encoding!).toString()).toBe('json/plain');
    expect(Buffer.from(full!.data!).toString()).toBe('"a"');
    expect(empty).toEqual({ metadata: {}, data: Buffer.alloc(0) });
    expect(parse({})).toEqual([]);
  });

  it.each([
    ['not JSON', '{', 'the body is not JSON'],
    ['null', 'null', 'expected {"payloads": [...]}'],
    ['a number', '7', 'expected {"payloads": [...]}'],
    ['a list that is not an array', { payloads: { 0: {} } }, 'expected {"payloads": [...]}'],
    ['a payload that is not an object', { payloads: [{}, 'x'] }, 'payloads[1] is not an object'],
    ['a null payload', { payloads: [null] }, 'payloads[0] is not an object'],
    ['metadata that is an array', { payloads: [{ metadata: [] }] }, 'payloads[0].metadata is not an object'],
    ['metadata that is null', { payloads: [{ metadata: null }] }, 'payloads[0].metadata is not an object'],
    ['metadata that is text', { payloads: [{ metadata: 'e30=' }] }, 'payloads[0].metadata is not an object'],
    ['a metadata value that is not base64', { payloads: [{ metadata: { encoding: 'json/plain!' } }] }, 'payloads[0].metadata.encoding must be a base64 string'],
    ['a metadata value that is not text', { payloads: [{ metadata: { encoding: 1 } }] }, 'payloads[0].metadata.encoding must be a base64 string'],
    ['data that is not base64', { payloads: [{}, { data: '!!' }] }, 'payloads[1].data must be a base64 string'],
  ])('refuses %s with 400, naming where', (_, body, message) => {
    expect(problem(body)).toEqual({ status: 400, message });
  });

  it('takes as many payloads as allowed and refuses one more with 413', () => {
    expect(parse({ payloads: [{}, {}] }, 2)).toHaveLength(2);
    expect(problem({ payloads: [{}, {}, {}] }, 2)).toEqual({ status: 413, message: 'more than 2 payloads in one request: split it' });
  });
});

describe('payloadToJson', () => {
  it('writes metadata and data as base64, and absent parts as empty', () => {
    expect(payloadToJson({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"a"') })).toEqual({ metadata: { encoding: 'anNvbi9wbGFpbg==' }, data: 'ImEi' });
    expect(payloadToJson({})).toEqual({ metadata: {}, data: '' });
    expect(payloadToJson({ metadata: null, data: null })).toEqual({ metadata: {}, data: '' });
  });
});

describe('the sign-in pages', () => {
  it('shows the form with no alert after no attempt, and the problem escaped after a refused one', () => {
    expect(loginPage('')).not.toContain('role="alert"');
    expect(loginPage('')).toContain('<form method="post">');
    expect(loginPage(`Bad <b>"token"</b> & 'more'`)).toContain('<p role="alert"><strong>Bad &#60;b&#62;&#34;token&#34;&#60;/b&#62; &#38; &#39;more&#39;</strong></p>');
  });

  it('links every Web UI origin after signing in, escaped, separated by commas', () => {
    expect(signedInPage(['http://localhost:8233', 'https://ui.example/?a=1&b="2"'])).toContain(
      '<p>The Web UI (<a href="http://localhost:8233">http://localhost:8233</a>, <a href="https://ui.example/?a=1&#38;b=&#34;2&#34;">https://ui.example/?a=1&#38;b=&#34;2&#34;</a>) can now decode payloads in this browser.',
    );
  });

  it('is one self-contained page with a title', () => {
    expect(loginPage('')).toMatch(/^<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Saga codec server<\/title>/);
    expect(signedInPage([])).toMatch(/<\/body><\/html>$/);
  });
});
