import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
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
  /**
   * Sent as the `Authorization` header, e.g. `Bearer <token>`. Env `TEMPORAL_CODEC_AUTH`, or read from
   * the file named by `TEMPORAL_CODEC_AUTH_FILE` (flag `--codec-auth-file`). @default none
   */
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

/** Whether `hostname` (as `URL` spells it) is this machine, where plain http never crosses a network. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f/.test(host);
}

/**
 * The Authorization header value: `TEMPORAL_CODEC_AUTH`, or the content of the file that
 * `TEMPORAL_CODEC_AUTH_FILE` names (a bare token gets the `Bearer` scheme). Problems name the
 * variable and the path, never the content.
 */
function readAuth(env: Record<string, string | undefined>, problems: string[]): string | undefined {
  const inline = env.TEMPORAL_CODEC_AUTH?.trim() || undefined;
  const file = env.TEMPORAL_CODEC_AUTH_FILE?.trim() || undefined;
  if (!file) return inline;
  if (inline) {
    problems.push('TEMPORAL_CODEC_AUTH and TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) are both set: give the token one way');
    return undefined;
  }
  let content: string;
  try {
    content = readFileSync(file, 'utf8').trim();
  } catch (err) {
    problems.push(`TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  if (!content || /[\r\n]/.test(content)) {
    problems.push(`TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) ${file} must hold the token on one line`);
    return undefined;
  }
  return /^\S+\s+\S/.test(content) ? content : `Bearer ${content}`;
}

/**
 * Reads `TEMPORAL_CODEC_ENDPOINT` and the credentials (`TEMPORAL_CODEC_AUTH` or
 * `TEMPORAL_CODEC_AUTH_FILE`); undefined when no endpoint is set. Refused: local keys
 * (`SAGA_CODEC_KEYS`) next to an endpoint, since the client would not know which to trust, and plain
 * http to another machine, which would carry the token and the decoded data in clear text.
 */
export function loadRemoteCodecConfig(env: Record<string, string | undefined>, namespace: string): RemoteCodecConfig | undefined {
  const endpoint = env.TEMPORAL_CODEC_ENDPOINT?.trim();
  const problems: string[] = [];
  const auth = readAuth(env, problems);
  if (!endpoint) {
    if (auth || env.TEMPORAL_CODEC_AUTH_FILE?.trim()) problems.push('TEMPORAL_CODEC_AUTH or TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) is set without TEMPORAL_CODEC_ENDPOINT (--codec-endpoint)');
    if (problems.length) throw new ConfigError(problems);
    return undefined;
  }
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
  if (url && (url.username || url.password)) problems.push('TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must not carry credentials: use TEMPORAL_CODEC_AUTH or --codec-auth-file');
  if (url?.protocol === 'http:' && !isLoopback(url.hostname)) {
    problems.push(`TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) must use https to reach ${url.hostname}: plain http would carry the token and the decoded payloads in clear text (http is for localhost only)`);
  }
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
        // A redirect would carry the token to wherever it points, over whatever scheme it names.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.name : 'error');
      throw new RemoteCodecError(`Cannot reach the codec server at ${this.config.endpoint} (${cause})`, 'unreachable');
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status >= 300 && response.status < 400) {
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} answered with a redirect (${response.status}), which is not followed: point --codec-endpoint at the server itself`, 'refused', response.status);
    }
    if (response.status === 401) {
      const why = serverMessage(body) ?? response.statusText;
      throw new RemoteCodecError(`The codec server at ${this.config.endpoint} refused the credentials (401 ${why}): check TEMPORAL_CODEC_AUTH or --codec-auth-file`, 'refused', 401);
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
