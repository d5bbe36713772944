import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { AesGcmPayloadCodec, dataConverterFor, KeyRing, PayloadDecryptionError, workerDataConverterFor } from '../../src/codec';
import { RefusalMarkingCodec } from '../../src/codec/refusal-marking-codec';

// The worker's converter, unit by unit: a payload the strict codec refuses as unencrypted reaches the
// workflow as the refusal marker, which its input check turns into `UnencryptedPayload`; every other
// decoding error stays an error, and encoding is the inner codec's.

const keyRing = new KeyRing([{ id: 'k1', key: randomBytes(32) }]);
const strict = new AesGcmPayloadCodec(keyRing, { strict: true });
const toPayload = (value: unknown) => defaultPayloadConverter.toPayload(value);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('RefusalMarkingCodec', () => {
  const marking = new RefusalMarkingCodec(strict);

  it('hands the marker, as plain JSON, in place of each unencrypted payload, and decodes the others in their places', async () => {
    const [encrypted] = await strict.encode([toPayload({ name: 'Ada' })]);
    const decoded = await marking.decode([toPayload('plain'), encrypted!, toPayload(2)]);
    expect(decoded.map((p) => text(p.metadata?.encoding))).toEqual(['json/plain', 'json/plain', 'json/plain']);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ sagaRefusedUnencryptedPayload: true }, { name: 'Ada' }, { sagaRefusedUnencryptedPayload: true }]);
  });

  it('keeps every other decoding error an error', async () => {
    const [encrypted] = await strict.encode([toPayload('x')]);
    const tampered: Payload = { ...encrypted!, data: Uint8Array.from(encrypted!.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(marking.decode([tampered])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('encodes with the inner codec', async () => {
    const calls: Payload[][] = [];
    const inner: PayloadCodec = { encode: async (p) => (calls.push(p), p.map(() => toPayload('encoded'))), decode: async (p) => p };
    const encoded = await new RefusalMarkingCodec(inner).encode([toPayload('a')]);
    expect(calls).toHaveLength(1);
    expect(defaultPayloadConverter.fromPayload(encoded[0]!)).toBe('encoded');
  });
});

describe('the data converters', () => {
  it('makes the codec strict when the configuration leaves strict unset, and follows it when set', async () => {
    const plain = [toPayload('plain')];
    await expect(dataConverterFor({ keyRing })!.payloadCodecs![0]!.decode(plain)).rejects.toThrow(/Refused an unencrypted payload/);
    await expect(dataConverterFor({ keyRing, strict: false })!.payloadCodecs![0]!.decode(plain)).resolves.toEqual(plain);
  });

  it("wraps the worker's codec in the refusal marker, keeping the failure converter, and is off when the codec is", async () => {
    expect(workerDataConverterFor(undefined)).toBeUndefined();
    const converter = workerDataConverterFor({ keyRing })!;
    expect(converter.payloadCodecs).toHaveLength(1);
    expect(converter.payloadCodecs![0]).toBeInstanceOf(RefusalMarkingCodec);
    expect(converter.failureConverterPath).toBe(dataConverterFor({ keyRing })!.failureConverterPath);
    const [marker] = await converter.payloadCodecs![0]!.decode([toPayload('plain')]);
    expect(defaultPayloadConverter.fromPayload(marker!)).toEqual({ sagaRefusedUnencryptedPayload: true });
  });
});
