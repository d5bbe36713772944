import { ConfigError } from '../config';
import { loadCodecConfig, type CodecConfig } from './index';
import { tokenWeakness } from './server-auth';

/** Everything the codec server process reads from the environment. */
export interface CodecServerConfig {
  /** Interface to bind. @default "127.0.0.1" (env `SAGA_CODEC_SERVER_HOST`) */
  host: string;
  /** @default 8888 (env `SAGA_CODEC_SERVER_PORT`) */
  port: number;
  /** Bearer token callers must present. Env `SAGA_CODEC_SERVER_TOKEN` (required, at least 16 characters and about 80 bits). */
  token: string;
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
