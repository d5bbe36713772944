// Hand-written over `node:crypto` on purpose. The cryptography itself (AES-256-GCM, random IVs, the
// authentication tag) is Node's, from OpenSSL; what is written here is only the envelope: which
// metadata names the key and the cipher, where the IV and the tag sit, what strict mode refuses. An
// encryption library (a JWE implementation, a generic envelope helper) would add a dependency to the
// worker's trusted path and impose its own envelope, so key rotation, the codec server and recorded
// histories would follow a format this project does not control; it would also hide the choices a
// reviewer must see (a fresh IV per payload, metadata encrypted with the data).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { describeKeyId, KeyRing, type CodecKey } from './key-ring';

/** `encoding` metadata of a payload this codec encrypted. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata entry naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';
/** Metadata entry naming the cipher, so a future codec can tell the formats apart. */
export const CIPHER_METADATA = 'encryption-cipher';
/** The only cipher this codec writes and reads. */
export const CIPHER = 'AES-256-GCM';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const ProtoPayload = temporal.api.common.v1.Payload;

/** Thrown when an encrypted payload fails authentication: it was altered, truncated or the key is wrong. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  constructor(
    readonly keyId: string,
    reason: string,
  ) {
    super(`Payload encrypted with key ${describeKeyId(keyId)} cannot be decrypted: ${reason}`);
  }
}

/**
 * Thrown in strict mode when a payload to decode is not encrypted: plaintext from a client without
 * the keys, or an encrypted payload whose metadata was stripped.
 */
export class UnencryptedPayloadError extends Error {
  override readonly name = 'UnencryptedPayloadError';
  constructor() {
    super('Refused an unencrypted payload: every payload must be encrypted with a key of SAGA_CODEC_KEYS (set SAGA_CODEC_STRICT=false only while migrating)');
  }
}

/** Options of {@link AesGcmPayloadCodec}. */
export interface AesGcmPayloadCodecOptions {
  /** Refuse to decode payloads that are not encrypted. @default false (the configuration turns it on whenever keys are set) */
  strict?: boolean;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/**
 * AES-256-GCM payload codec. The whole payload (its metadata included, so not even the encoding is
 * visible) is serialized and encrypted under the key ring's active key; the key id and the cipher go
 * into the new payload's metadata so any key of the ring can decrypt it later. Payloads that are
 * not encrypted pass through decode untouched, so histories written before the codec was turned on
 * stay readable, unless `strict` is on: then they are refused, so a client without the keys cannot
 * slip plaintext (personal data, or input nobody authenticated) into a saga.
 *
 * Each encryption draws a fresh random IV, so encoding is not deterministic. Replay does not care:
 * the server stores the encoded payloads and hands them back; workflow code never re-encodes and
 * compares them.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  readonly keyRing: KeyRing;
  /** Whether unencrypted payloads are refused by `decode`. */
  readonly strict: boolean;

  constructor(keys: KeyRing | readonly CodecKey[], options: AesGcmPayloadCodecOptions = {}) {
    this.keyRing = keys instanceof KeyRing ? keys : new KeyRing(keys);
    this.strict = options.strict ?? false;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keyRing.activeKeyId;
    const key = this.keyRing.activeKey;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData(keyId));
      const sealed = Buffer.concat([iv, cipher.update(ProtoPayload.encode(payload).finish()), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId), [CIPHER_METADATA]: utf8(CIPHER) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (isEncrypted(payload)) return this.#decrypt(payload);
      if (this.strict) throw new UnencryptedPayloadError();
      return payload;
    });
  }

  #decrypt(payload: Payload): Payload {
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!keyId) throw new PayloadDecryptionError('', `the "${KEY_ID_METADATA}" metadata is missing`);
    const cipherName = text(payload.metadata?.[CIPHER_METADATA]);
    if (cipherName !== undefined && cipherName !== CIPHER) throw new PayloadDecryptionError(keyId, `unsupported cipher (only ${CIPHER} is read)`);
    const key = this.keyRing.key(keyId);
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(keyId, 'the payload is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(keyId, 'authentication failed (the payload was altered, or the key with this id changed)');
    }
    return ProtoPayload.decode(plain);
  }
}

/** Whether this codec (or one speaking the same format) encrypted the payload. */
export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

// Binding the key id into the tag means a payload cannot be relabelled to another key id without
// failing authentication, even if two ids were ever given the same key material.
function associatedData(keyId: string): Uint8Array {
  return utf8(`${CIPHER}:${keyId}`);
}
