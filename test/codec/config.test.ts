import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DefaultFailureConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, dataConverterFor, KeyRing, loadCodecConfig, parseCodecKeys } from '../../src/codec';
import { configErrorProblems } from '../support/config-errors';

const b64 = (bytes: Buffer) => bytes.toString('base64');
const key1 = randomBytes(32);
const key2 = randomBytes(32);

const problemsOf = configErrorProblems;

describe('loadCodecConfig', () => {
  it('is off (undefined) in development and tests when SAGA_CODEC_KEYS is unset or blank', () => {
    expect(loadCodecConfig({ NODE_ENV: 'development' })).toBeUndefined();
    expect(loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: '  ' })).toBeUndefined();
  });

  it('is required in production, where only SAGA_ENCRYPTION=off turns it off', () => {
    expect(() => loadCodecConfig({})).toThrow(/SAGA_CODEC_KEYS is missing: production/);
    expect(() => loadCodecConfig({ NODE_ENV: 'production', SAGA_CODEC_KEYS: '  ' })).toThrow(/SAGA_CODEC_KEYS is missing: production/);
    expect(loadCodecConfig({ NODE_ENV: 'production', SAGA_ENCRYPTION: 'off' })).toBeUndefined();
  });

  it('makes the first key the active one and keeps every key for decryption', () => {
    const config = loadCodecConfig({ SAGA_CODEC_KEYS: `k2:${b64(key2)}, k1:${b64(key1)}` });
    expect(config?.keyRing.activeKeyId).toBe('k2');
    expect(config?.keyRing.keyIds).toEqual(['k2', 'k1']);
    expect(Buffer.from(config!.keyRing.key('k1')).equals(key1)).toBe(true);
  });

  it('accepts unpadded base64', () => {
    const config = loadCodecConfig({ SAGA_CODEC_KEYS: `k1:${b64(key1).replace(/=+$/, '')}` });
    expect(Buffer.from(config!.keyRing.activeKey).equals(key1)).toBe(true);
  });

  it('lists every problem at once, naming the key id', () => {
    const problems = problemsOf(() =>
      loadCodecConfig({ SAGA_CODEC_KEYS: `short:${b64(randomBytes(16))},k1:${b64(key1)},k1:${b64(key2)},bad id:${b64(key1)}` }),
    );
    expect(problems).toEqual([
      'SAGA_CODEC_KEYS: key "short" is 16 bytes; AES-256 needs 32',
      'SAGA_CODEC_KEYS: key id "k1" appears more than once',
      'SAGA_CODEC_KEYS: key id (a malformed id of 6 characters) of entry 4 must be 1-64 letters, digits, ".", "_" or "-"',
    ]);
  });

  it('refuses entries without an id or with material that is not base64', () => {
    const problems = problemsOf(() => parseCodecKeys(`${b64(key1)},k2:not*base64!`));
    expect(problems).toEqual(['SAGA_CODEC_KEYS entry 1 is not "<key id>:<base64 key>"', 'SAGA_CODEC_KEYS: key "k2" is not base64']);
  });

  it('never echoes key material in its errors', () => {
    const material = b64(randomBytes(31));
    const error = (() => {
      try {
        loadCodecConfig({ SAGA_CODEC_KEYS: `k1:${material}` });
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error.message).toContain('31 bytes');
    expect(error.message).not.toContain(material);
    expect(error.message).not.toContain(material.slice(0, 12));
  });

  it('names an entry written the wrong way round (<key>:<id>) without echoing the key', () => {
    const material = b64(key1);
    const error = (() => {
      try {
        loadCodecConfig({ SAGA_CODEC_KEYS: `${material}:k1` });
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error.message).toContain('entry 1 looks reversed');
    expect(error.message).not.toContain(material.slice(0, 12));
  });

  it('never echoes a malformed id, which may be key material, in any problem', () => {
    const material = `${b64(randomBytes(30))}+/`;
    const problems = problemsOf(() => parseCodecKeys(`${material}:k1`));
    expect(problems.join('\n')).not.toContain(material.slice(0, 12));
    expect(problems).toEqual(['SAGA_CODEC_KEYS: key id (a malformed id of 42 characters) of entry 1 must be 1-64 letters, digits, ".", "_" or "-"', 'SAGA_CODEC_KEYS: key of entry 1 is 1 bytes; AES-256 needs 32']);
  });
});

describe('KeyRing', () => {
  it('refuses an empty ring', () => {
    expect(problemsOf(() => new KeyRing([]))).toEqual(['the key ring needs at least one key']);
  });

  it('serializes to key ids only', () => {
    const ring = new KeyRing([{ id: 'k1', key: key1 }]);
    const shown = JSON.stringify({ ring });
    expect(shown).toBe('{"ring":{"activeKeyId":"k1","keyIds":["k1"]}}');
  });

  it('is not affected when the caller later overwrites its key buffer', () => {
    const buffer = Buffer.from(key1);
    const ring = new KeyRing([{ id: 'k1', key: buffer }]);
    buffer.fill(0);
    expect(Buffer.from(ring.activeKey).equals(key1)).toBe(true);
  });
});

describe('dataConverterFor', () => {
  it('returns undefined when the codec is off, leaving the SDK default in place', () => {
    expect(dataConverterFor(undefined)).toBeUndefined();
  });

  it('combines the AES-GCM codec with a failure converter that encodes messages and stack traces', async () => {
    const converter = dataConverterFor({ keyRing: new KeyRing([{ id: 'k1', key: key1 }]) });
    expect(converter?.payloadCodecs).toHaveLength(1);
    expect(converter?.payloadCodecs?.[0]).toBeInstanceOf(AesGcmPayloadCodec);
    expect(existsSync(converter!.failureConverterPath!)).toBe(true);
    const { failureConverter } = (await import(converter!.failureConverterPath!)) as { failureConverter: DefaultFailureConverter };
    expect(failureConverter).toBeInstanceOf(DefaultFailureConverter);
    expect(failureConverter.options.encodeCommonAttributes).toBe(true);
  });
});
