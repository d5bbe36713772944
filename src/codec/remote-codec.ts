import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError } from '../config';
import { HttpError } from './http';
import { parsePayloads, payloadToJson } from './payloads-json';

// A payload codec that asks a codec server instead of holding keys: the remote codec protocol the
// Web UI and the `temporal` CLI speak (POST <endpoint>/encode and <endpoint>/decode with a Payloads
// message as protobuf JSON), which `codec/server.ts` serves. An operator's client then needs the
// server's token, never the keys.

/** Where the client's codec server is and how to authenticate to it. */
export interface RemoteCodecConfig {
  /** Base URL; `/encode` and `/decode` are appended. Env `TEMPORAL_CODEC_ENDPOINT` (flag `--codec-endpoint`). */
  endpoint: string;
  /** Sent as the `Authorization` header, e.g. `Bearer <token>`. Env `TEMPORAL_CODEC_AUTH` (flag `--codec-auth`). @default none */
  auth?: string;
  /** Sent as `X-Namespace`, as the Web UI does. */
  namespace: string;
  /** Longest wait for one answer, in ms. @default 10000 */
  timeoutMs?: number;
}

/** Why a call to the codec server failed; messages name the endpoint and the status, never a payload or a header. */
export class RemoteCodecError extends Error {
  override readonly name = 'RemoteCodecError';
  constructor(
    message: string,
    /** `unreachable`: nothing answered; `refused`: the credentials were refused; `failed`: any other refusal or a malformed answer. */
    readonly kind: 'unreachable' | 'refused' | 'failed',
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Reads `TEMPORAL_CODEC_ENDPOINT` and `TEMPORAL_CODEC_AUTH`; undefined when no endpoint is set. Local
 * keys (`SAGA_CODEC_KEYS`) next to an endpoint are refused: the client would not know which to trust.
 */
export function loadRemoteCodecConfig(env: Record<string, string | undefined>, namespace: string): RemoteCodecConfig | undefined {
  const endpoint = env.TEMPORAL_CODEC_ENDPOINT?.trim();
  const auth = env.TEMPORAL_CODEC_AUTH?.trim() || undefined;
  if (!endpoint) {
    if (auth) throw new ConfigError(['TEMPORAL_CODEC_AUTH (--codec-auth) is set without TEMPORAL_CODEC_ENDPOINT (--codec-endpoint)']);
    return undefined;
  }
  const problems: string[] = [];
  if (env.SAGA_CODEC_KEYS?.trim()) {
    problems.push('SAGA_CODEC_KEYS and TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) are both set: decode either with local keys or through the codec server, not both');
  }
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    problems.push(`TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) is not a URL`);
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must be an http or https URL');
  if (url && (url.username || url.password)) problems.push('TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must not carry credentials: use --codec-auth');
  if (problems.length) throw new ConfigError(problems);
  return { endpoint: endpoint.replace(/\/+$/, ''), namespace, ...(auth ? { auth } : {}) };
}

/** The {@link PayloadCodec} of a codec server. */
export class RemotePayloadCodec implements PayloadCodec {
  constructor(private readonly config: RemoteCodecConfig) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    return this.call('encode', payloads);
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return this.call('decode', payloads);
  }

  /** Decodes nothing, to learn before any side effect whether the server answers and takes the credentials. */
  async check(): Promise<void> {
    await this.call('decode', []);
  }

  private async call(operation: 'encode' | 'decode', payloads: Payload[]): Promise<Payload[]> {
    const url = `${this.config.endpoint}/${operation}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Namespace': this.config.namespace,
          ...(this.config.auth ? { Authorization: this.config.auth } : {}),
        },
        body: JSON.stringify({ payloads: payloads.map(payloadToJson) }),
        signal: AbortSignal.timeout(this.config.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.name : 'error');
      throw new RemoteCodecError(`Cannot reach the codec server at ${this.config.endpoint} (${cause})`, 'unreachable');
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status === 401) {
      const why = serverMessage(body) ?? response.statusText;
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} refused the credentials (401 ${why}): check --codec-auth (TEMPORAL_CODEC_AUTH)`, 'refused', 401);
    }
    // 403: another namespace or a foreign origin; 429: too many wrong tokens from this address.
    if (response.status === 403 || response.status === 429) {
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} refused the request (${response.status} ${serverMessage(body) ?? response.statusText})`, 'refused', response.status);
    }
    if (!response.ok) {
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} could not ${operation} (${response.status} ${serverMessage(body) ?? response.statusText})`, 'failed', response.status);
    }
    let converted: Payload[];
    try {
      converted = parsePayloads(body, Math.max(payloads.length, 1));
    } catch (err) {
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} answered ${operation} with a malformed body${err instanceof HttpError ? ` (${err.message})` : ''}`, 'failed');
    }
    if (converted.length !== payloads.length) {
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} answered ${converted.length} payloads for ${payloads.length}`, 'failed');
    }
    return converted;
  }
}

// The project's codec server answers `{"error": "…"}` with messages safe to show; anything else is ignored.
function serverMessage(body: Buffer): string | undefined {
  try {
    const error = (JSON.parse(body.toString('utf8')) as { error?: unknown }).error;
    return typeof error === 'string' ? error.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
