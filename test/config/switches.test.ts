import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadCodecConfig } from '../../src/codec';
import { loadClientConfig } from '../../src/config';
import { FaultConfigError, faultConfigFromEnv } from '../../src/services/faults';
import { configErrorProblems } from '../support/config-errors';

// Every on/off variable of the README's configuration table, each with both of its values spelled out,
// left unset (its documented default), and given a value that is neither: a typed error naming the
// variable, before anything starts.

const keys = `k1:${randomBytes(32).toString('base64')}`;
const FAULTS = '{"payments":{"transientErrorRate":0.5}}';

const configProblems = configErrorProblems;

describe('SAGA_CODEC_STRICT (true / false, default true with keys)', () => {
  it('refuses unencrypted payloads with true, and when unset', () => {
    expect(loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: keys, SAGA_CODEC_STRICT: 'true' })?.strict).toBe(true);
    expect(loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: keys })?.strict).toBe(true);
  });

  it('accepts them with false, in any case and with spaces around it', () => {
    expect(loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: keys, SAGA_CODEC_STRICT: 'false' })?.strict).toBe(false);
    expect(loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: keys, SAGA_CODEC_STRICT: ' FALSE ' })?.strict).toBe(false);
  });

  it('refuses a value that is neither, rather than reading it as true', () => {
    for (const value of ['maybe', 'no', '0']) {
      expect(configProblems(() => loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: keys, SAGA_CODEC_STRICT: value }))).toEqual(['SAGA_CODEC_STRICT must be true or false']);
    }
  });
});

describe('SAGA_ENCRYPTION (on / off, default: required in production, off in development without keys)', () => {
  it('encrypts with on and keys, in development too', () => {
    expect(loadCodecConfig({ NODE_ENV: 'development', SAGA_ENCRYPTION: 'on', SAGA_CODEC_KEYS: keys })?.keyRing).toBeDefined();
  });

  it('runs production unencrypted with off and no keys', () => {
    expect(loadCodecConfig({ NODE_ENV: 'production', SAGA_ENCRYPTION: 'off' })).toBeUndefined();
  });

  it('left unset: production without keys is refused, development without keys runs unencrypted', () => {
    expect(configProblems(() => loadCodecConfig({ NODE_ENV: 'production' }))).toEqual([expect.stringContaining('SAGA_CODEC_KEYS is missing')]);
    expect(loadCodecConfig({ NODE_ENV: 'development' })).toBeUndefined();
  });

  it('refuses a value that is neither', () => {
    expect(configProblems(() => loadCodecConfig({ NODE_ENV: 'test', SAGA_ENCRYPTION: 'true', SAGA_CODEC_KEYS: keys }))).toEqual(['SAGA_ENCRYPTION must be on or off']);
  });
});

describe('TEMPORAL_TLS (true / false, default on when any TLS setting is given)', () => {
  it('connects with TLS with true, without it with false, and without it when unset and nothing else asks for it', () => {
    expect(loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS: 'true' }).tls).toEqual({});
    expect(loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS: 'false' }).tls).toBeUndefined();
    expect(loadClientConfig({ NODE_ENV: 'test' }).tls).toBeUndefined();
  });

  it('refuses a value that is neither', () => {
    expect(configProblems(() => loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS: 'sometimes' }))).toEqual(['TEMPORAL_TLS=sometimes is not a boolean (use true or false)']);
  });
});

describe('SAGA_FAULTS_ENABLED (true, or anything else: faults refused)', () => {
  it('lets SAGA_FAULTS turn faults on only with true', () => {
    expect(faultConfigFromEnv({ SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'true' })).toEqual({ payments: { transientErrorRate: 0.5 } });
  });

  it('refuses faults with false, when unset, and with a value that is not true', () => {
    for (const enabled of ['false', undefined, 'yes']) {
      expect(() => faultConfigFromEnv({ SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: enabled })).toThrow(FaultConfigError);
    }
  });
});
