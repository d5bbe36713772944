import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { ConfigError, isProduction } from '../config';
import { AesGcmPayloadCodec } from './aes-gcm-codec';
import { KeyRing, parseCodecKeys } from './key-ring';
import { RefusalMarkingCodec } from './refusal-marking-codec';

export { AesGcmPayloadCodec, PayloadDecryptionError, UnencryptedPayloadError, isEncrypted, type AesGcmPayloadCodecOptions, ENCRYPTED_ENCODING, KEY_ID_METADATA, CIPHER_METADATA, CIPHER } from './aes-gcm-codec';
export { RemotePayloadCodec, RemoteCodecError, loadRemoteCodecConfig, type RemoteCodecConfig } from './remote-codec';
export { KeyRing, UnknownKeyError, describeKeyId, parseCodecKeys, KEY_BYTES, type CodecKey } from './key-ring';

/** The payload codec's configuration: present when encryption is on. */
export interface CodecConfig {
  /** Keys for encryption (the first) and decryption (all). Env `SAGA_CODEC_KEYS="k2:<base64>,k1:<base64>"`. */
  keyRing: KeyRing;
  /** Refuse unencrypted payloads. @default true (env `SAGA_CODEC_STRICT=false` turns it off, for migrating a running system) */
  strict?: boolean;
}

/**
 * Reads `SAGA_CODEC_KEYS`, `SAGA_CODEC_STRICT` and `SAGA_ENCRYPTION`; returns undefined when
 * encryption is off. Outside production it is off when the keys are unset or empty; in production
 * (see `isProduction`) keys are required and only `SAGA_ENCRYPTION=off` turns encryption off, a choice
 * the worker and the client announce at start. Throws `ConfigError` listing every problem, without
 * echoing key material.
 */
export function loadCodecConfig(env: Record<string, string | undefined> = process.env): CodecConfig | undefined {
  const raw = env.SAGA_CODEC_KEYS?.trim();
  const strictText = (env.SAGA_CODEC_STRICT ?? '').trim().toLowerCase();
  const switchText = (env.SAGA_ENCRYPTION ?? '').trim().toLowerCase();
  const problems: string[] = [];
  if (!['', 'true', 'false'].includes(strictText)) problems.push('SAGA_CODEC_STRICT must be true or false');
  if (!['', 'on', 'off'].includes(switchText)) problems.push('SAGA_ENCRYPTION must be on or off');
  if (switchText === 'off' && raw) problems.push('SAGA_ENCRYPTION=off contradicts SAGA_CODEC_KEYS: remove one of them');
  if (!raw && switchText === 'on') problems.push('SAGA_ENCRYPTION=on needs SAGA_CODEC_KEYS');
  else if (!raw && switchText !== 'off' && isProduction(env)) {
    problems.push(
      `SAGA_CODEC_KEYS is missing: production (NODE_ENV=${env.NODE_ENV ?? 'unset'}) encrypts every payload (generate a key: openssl rand -base64 32; see docs/security.md); SAGA_ENCRYPTION=off stores personal data in plain text`,
    );
  }
  let keyRing: KeyRing | undefined;
  try {
    if (raw) keyRing = new KeyRing(parseCodecKeys(raw));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length) throw new ConfigError(problems);
  return keyRing && { keyRing, strict: strictText !== 'false' };
}

/** The warning a production process logs at start when `SAGA_ENCRYPTION=off` turned payload encryption off. */
export const ENCRYPTION_OFF_WARNING = 'PAYLOAD ENCRYPTION IS OFF (SAGA_ENCRYPTION=off): addresses, names and payment tokens are stored in plain text in Temporal';

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
 * The data converter for the worker and the client: the AES-256-GCM codec (strict unless the config
 * says otherwise) plus the failure converter that moves failure messages into payloads. Undefined when the codec is off (the SDK default applies).
 */
export function dataConverterFor(config: CodecConfig | undefined): DataConverter | undefined {
  if (!config) return undefined;
  return { payloadCodecs: [new AesGcmPayloadCodec(config.keyRing, { strict: config.strict ?? true })], failureConverterPath };
}

/**
 * The worker's data converter: {@link dataConverterFor}, whose strict codec hands the workflow a marker
 * in place of an unencrypted payload (see `RefusalMarkingCodec`), so that such a saga fails with
 * `UnencryptedPayload` instead of retrying its workflow task for ever.
 */
export function workerDataConverterFor(config: CodecConfig | undefined): DataConverter | undefined {
  const converter = dataConverterFor(config);
  if (!converter) return undefined;
  return { ...converter, payloadCodecs: (converter.payloadCodecs ?? []).map((codec) => new RefusalMarkingCodec(codec)) };
}
