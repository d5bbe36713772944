import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from './aes-gcm-codec';
import { KeyRing, parseCodecKeys } from './key-ring';

export { AesGcmPayloadCodec, PayloadDecryptionError, isEncrypted, ENCRYPTED_ENCODING, KEY_ID_METADATA, CIPHER_METADATA, CIPHER } from './aes-gcm-codec';
export { KeyRing, UnknownKeyError, parseCodecKeys, KEY_BYTES, type CodecKey } from './key-ring';

/** The payload codec's configuration: present when encryption is on. */
export interface CodecConfig {
  /** Keys for encryption (the first) and decryption (all). Env `SAGA_CODEC_KEYS="k2:<base64>,k1:<base64>"`. */
  keyRing: KeyRing;
}

/**
 * Reads `SAGA_CODEC_KEYS`; returns undefined when it is unset or empty (encryption off). Throws
 * `ConfigError` listing every problem with the keys, without echoing key material.
 */
export function loadCodecConfig(env: Record<string, string | undefined> = process.env): CodecConfig | undefined {
  const raw = env.SAGA_CODEC_KEYS?.trim();
  if (!raw) return undefined;
  return { keyRing: new KeyRing(parseCodecKeys(raw)) };
}

/** Module the workflow sandbox loads for failures: messages and stack traces go into encrypted payloads. */
export const failureConverterPath = siblingModule('failure-converter');

// Looked up on disk rather than with require.resolve, which does not know `.ts` under every runner:
// compiled output has the `.js`, sources run through tsx or vitest have the `.ts`.
function siblingModule(name: string): string {
  const found = ['.js', '.ts'].map((ext) => join(__dirname, `${name}${ext}`)).find((path) => existsSync(path));
  if (!found) throw new Error(`${name} is missing next to ${__filename}`);
  return found;
}

/**
 * The data converter for the worker and the client: the AES-256-GCM codec plus the failure converter
 * that moves failure messages into payloads. Undefined when the codec is off (the SDK default applies).
 */
export function dataConverterFor(config: CodecConfig | undefined): DataConverter | undefined {
  if (!config) return undefined;
  return { payloadCodecs: [new AesGcmPayloadCodec(config.keyRing)], failureConverterPath };
}
