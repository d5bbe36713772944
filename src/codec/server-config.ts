import { ConfigError } from '../config';
import { loadCodecConfig, type CodecConfig } from './index';
import { tokenWeakness } from './token-strength';

/** Everything the codec server process reads from the environment. */
export interface CodecServerConfig {
  /** Interface to bind. @default "127.0.0.1" (env `SAGA_CODEC_SERVER_HOST`) */
  host: string;
  /** @default 8888 (env `SAGA_CODEC_SERVER_PORT`) */
  port: number;
  /** Bearer token callers must present; it permits decoding. Env `SAGA_CODEC_SERVER_TOKEN` (required, at least 10^24 guesses by zxcvbn). */
  token: string;
  /** Token that permits encoding too, for the Web UI's signals and updates. Env `SAGA_CODEC_SERVER_ENCODE_TOKEN`. @default none: encoding refused */
  encodeToken: string | undefined;
  /** Browser origins allowed (CORS). @default the origin of `TEMPORAL_UI_URL`, else "http://localhost:8233" (env `SAGA_CODEC_SERVER_ORIGINS`, comma-separated) */
  allowedOrigins: string[];
  /** @default "default" (env `TEMPORAL_NAMESPACE`) */
  namespace: string;
  /** The keys (env `SAGA_CODEC_KEYS`, required). */
  codec: CodecConfig;
}

/** Reads the codec server's configuration; throws {@link ConfigError} listing every problem. */
export function loadCodecServerConfig(env: Record<string, string | undefined> = process.env): CodecServerConfig {
  const problems: string[] = [];
  let codec: CodecConfig | undefined;
  try {
    codec = loadCodecConfig(env);
    if (!codec) problems.push('SAGA_CODEC_KEYS is missing: the codec server needs the keys the worker encrypts with');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const token = env.SAGA_CODEC_SERVER_TOKEN ?? '';
  if (!token) problems.push('SAGA_CODEC_SERVER_TOKEN is missing: the codec server refuses to run without a token');
  else {
    const weakness = tokenWeakness(token);
    if (weakness) problems.push(`SAGA_CODEC_SERVER_TOKEN ${weakness}`);
  }
  const encodeToken = env.SAGA_CODEC_SERVER_ENCODE_TOKEN || undefined;
  if (encodeToken !== undefined) {
    const weakness = tokenWeakness(encodeToken);
    if (weakness) problems.push(`SAGA_CODEC_SERVER_ENCODE_TOKEN ${weakness}`);
    if (encodeToken === token) problems.push('SAGA_CODEC_SERVER_ENCODE_TOKEN must differ from SAGA_CODEC_SERVER_TOKEN, or every holder of the token could encode');
  }
  const portText = env.SAGA_CODEC_SERVER_PORT || '8888';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push(`SAGA_CODEC_SERVER_PORT=${portText} is not a port number`);
  const originsText = env.SAGA_CODEC_SERVER_ORIGINS || env.TEMPORAL_UI_URL || 'http://localhost:8233';
  const allowedOrigins: string[] = [];
  for (const entry of originsText.split(',').map((o) => o.trim()).filter(Boolean)) {
    const origin = originOf(entry, env.SAGA_CODEC_SERVER_ORIGINS ? 'SAGA_CODEC_SERVER_ORIGINS' : 'TEMPORAL_UI_URL', problems);
    if (origin) allowedOrigins.push(origin);
  }
  if (problems.length || !codec) throw new ConfigError(problems);
  return {
    host: env.SAGA_CODEC_SERVER_HOST || '127.0.0.1',
    port,
    token,
    encodeToken,
    allowedOrigins,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    codec,
  };
}

function originOf(entry: string, variable: string, problems: string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    problems.push(`${variable}: "${entry}" is not a URL`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${variable}: "${entry}" is not an http(s) origin`);
    return undefined;
  }
  // SAGA_CODEC_SERVER_ORIGINS lists origins; TEMPORAL_UI_URL may carry a path, whose origin is meant.
  if (variable === 'SAGA_CODEC_SERVER_ORIGINS' && url.origin !== entry.replace(/\/$/, '')) {
    problems.push(`${variable}: "${entry}" must be an origin only (scheme, host and port), e.g. ${url.origin}`);
    return undefined;
  }
  return url.origin;
}
