import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  dataConverterFor,
  loadCodecConfig,
  PayloadDecryptionError,
  UnencryptedPayloadError,
  UnknownKeyError,
  type CodecKey,
} from '../../src/codec';

// The payload's wire format, written out rather than imported: stored histories carry these names,
// so changing one is a breaking change the test must notice.
const CIPHER_METADATA = 'encryption-cipher';
const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_METADATA = 'encryption-key-id';

const k1: CodecKey = { id: 'k1', key: randomBytes(32) };
const k2: CodecKey = { id: 'k2', key: randomBytes(32) };

const toPayload = (value: unknown) => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload) => defaultPayloadConverter.fromPayload(payload);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

const customer = { email: 'ada.lovelace@example.com', name: 'Ada Lovelace', payment: { token: 'tok_visa_4242' } };

describe('AesGcmPayloadCodec', () => {
  it('decodes what it encoded back to the same values', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const values = [customer, 'plain string', 42, null, undefined, [1, 'two', { three: 3 }], new Uint8Array([0, 1, 2, 255])];
    const decoded = await codec.decode(await codec.encode(values.map(toPayload)));
    expect(decoded.map(fromPayload)).toEqual(values);
  });

  it('round-trips any JSON value', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const [encoded] = await codec.encode([toPayload(value)]);
        const [decoded] = await codec.decode([encoded!]);
        expect(fromPayload(decoded!)).toEqual(fromPayload(toPayload(value)));
      }),
      { numRuns: 200 },
    );
  });

  it('hides the content and the original encoding: only the cipher and the key id are readable', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [encoded] = await codec.encode([toPayload(customer)]);
    expect(Object.keys(encoded!.metadata!).sort()).toEqual([CIPHER_METADATA, KEY_ID_METADATA, 'encoding'].sort());
    expect(text(encoded!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded!.metadata![KEY_ID_METADATA])).toBe('k1');
    const raw = Buffer.from(encoded!.data!).toString('latin1');
    for (const secret of ['ada.lovelace', 'Lovelace', 'tok_visa', 'json/plain']) expect(raw).not.toContain(secret);
  });

  it('encrypts the same value to different bytes every time', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [a, b] = await codec.encode([toPayload(customer), toPayload(customer)]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect((await codec.decode([a!, b!])).map(fromPayload)).toEqual([customer, customer]);
  });

  it('refuses unencrypted payloads in strict mode, and encrypted ones whose metadata was stripped', async () => {
    const codec = new AesGcmPayloadCodec([k1], { strict: true });
    await expect(codec.decode([toPayload(customer)])).rejects.toThrow(UnencryptedPayloadError);
    const [encoded] = await codec.encode([toPayload(customer)]);
    await expect(codec.decode([{ ...encoded!, metadata: {} }])).rejects.toThrow(UnencryptedPayloadError);
    const { encoding: _dropped, ...rest } = encoded!.metadata!;
    await expect(codec.decode([{ ...encoded!, metadata: rest }])).rejects.toThrow(UnencryptedPayloadError);
    expect(fromPayload((await codec.decode([encoded!]))[0]!)).toEqual(customer);
  });

  it('is strict in the data converter whenever keys are set, unless SAGA_CODEC_STRICT=false', async () => {
    const keys = `k1:${Buffer.from(k1.key).toString('base64')}`;
    const strictCodec = dataConverterFor(loadCodecConfig({ SAGA_CODEC_KEYS: keys }))!.payloadCodecs![0]!;
    await expect(strictCodec.decode([toPayload(customer)])).rejects.toThrow(UnencryptedPayloadError);
    const migrating = dataConverterFor(loadCodecConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_STRICT: 'false' }))!.payloadCodecs![0]!;
    expect(fromPayload((await migrating.decode([toPayload(customer)]))[0]!)).toEqual(customer);
    expect(() => loadCodecConfig({ SAGA_CODEC_KEYS: keys, SAGA_CODEC_STRICT: 'maybe' })).toThrow(/SAGA_CODEC_STRICT/);
  });

  it('never echoes an attacker-chosen key id at length', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [encoded] = await codec.encode([toPayload(customer)]);
    const hostileId = `k${'A'.repeat(10_000)}`;
    const error = (await codec.decode([{ ...encoded!, metadata: { ...encoded!.metadata, [KEY_ID_METADATA]: Buffer.from(hostileId) } }]).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(UnknownKeyError);
    expect(error.message.length).toBeLessThan(200);
    expect(error.message).not.toContain('AAAAAAAAAA');
  });

  it('passes payloads that were never encrypted through decode unchanged', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const plain = toPayload(customer);
    const [decoded] = await codec.decode([plain]);
    expect(decoded).toBe(plain);
  });

  describe('tamper detection', () => {
    it('refuses a payload with a flipped bit in the ciphertext', async () => {
      const codec = new AesGcmPayloadCodec([k1]);
      const [encoded] = await codec.encode([toPayload(customer)]);
      const data = Buffer.from(encoded!.data!);
      data[20] = data[20]! ^ 0x01;
      await expect(codec.decode([{ ...encoded!, data }])).rejects.toThrow(PayloadDecryptionError);
    });

    it('refuses a payload whose authentication tag was changed', async () => {
      const codec = new AesGcmPayloadCodec([k1]);
      const [encoded] = await codec.encode([toPayload(customer)]);
      const data = Buffer.from(encoded!.data!);
      data[data.length - 1] = data[data.length - 1]! ^ 0x80;
      await expect(codec.decode([{ ...encoded!, data }])).rejects.toThrow(/authentication failed/);
    });

    it('refuses a truncated payload', async () => {
      const codec = new AesGcmPayloadCodec([k1]);
      const [encoded] = await codec.encode([toPayload(customer)]);
      await expect(codec.decode([{ ...encoded!, data: encoded!.data!.subarray(0, 20) }])).rejects.toThrow(/truncated/);
    });

    it('refuses a payload relabelled with another key id, even when both ids hold the same key', async () => {
      const codec = new AesGcmPayloadCodec([k1, { id: 'k1-copy', key: k1.key }]);
      const [encoded] = await codec.encode([toPayload(customer)]);
      const relabelled = { ...encoded!, metadata: { ...encoded!.metadata, [KEY_ID_METADATA]: Buffer.from('k1-copy') } };
      await expect(codec.decode([relabelled])).rejects.toThrow(PayloadDecryptionError);
    });

    it('refuses a payload that names a cipher it does not speak', async () => {
      const codec = new AesGcmPayloadCodec([k1]);
      const [encoded] = await codec.encode([toPayload(customer)]);
      const other = { ...encoded!, metadata: { ...encoded!.metadata, [CIPHER_METADATA]: Buffer.from('ChaCha20-Poly1305') } };
      await expect(codec.decode([other])).rejects.toThrow(/unsupported cipher/);
    });

    it('refuses an encrypted payload without a key id', async () => {
      const codec = new AesGcmPayloadCodec([k1]);
      const [encoded] = await codec.encode([toPayload(customer)]);
      const { [KEY_ID_METADATA]: _dropped, ...metadata } = encoded!.metadata!;
      await expect(codec.decode([{ ...encoded!, metadata }])).rejects.toThrow(/metadata is missing/);
    });
  });

  describe('key rotation', () => {
    it('decodes payloads written under k1 after k2 becomes the active key', async () => {
      const [before] = await new AesGcmPayloadCodec([k1]).encode([toPayload(customer)]);
      const rotated = new AesGcmPayloadCodec([k2, k1]);
      expect(fromPayload((await rotated.decode([before!]))[0]!)).toEqual(customer);
    });

    it('encrypts new payloads with the first key of the ring', async () => {
      const [after] = await new AesGcmPayloadCodec([k2, k1]).encode([toPayload(customer)]);
      expect(text(after!.metadata![KEY_ID_METADATA])).toBe('k2');
      await expect(new AesGcmPayloadCodec([k1]).decode([after!])).rejects.toThrow(UnknownKeyError);
    });

    it('names the missing key id, and the ids it knows, when a retired key is still needed', async () => {
      const [before] = await new AesGcmPayloadCodec([k1]).encode([toPayload(customer)]);
      const error = await new AesGcmPayloadCodec([k2]).decode([before!]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownKeyError);
      expect(error).toMatchObject({ keyId: 'k1', knownKeyIds: ['k2'] });
      expect((error as Error).message).toContain('SAGA_CODEC_KEYS');
    });

    it('refuses a payload when a key id now holds different key material', async () => {
      const [before] = await new AesGcmPayloadCodec([k1]).encode([toPayload(customer)]);
      const replaced = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);
      await expect(replaced.decode([before!])).rejects.toThrow(PayloadDecryptionError);
    });
  });
});
