// The broker's settings, read by every process that speaks to it (the worker, the carrier, the outbox
// relay) without the rest of the worker's configuration.
import { ConfigError } from '../config';
import { redactUrl } from '../services/db';

type Env = Record<string, string | undefined>;

/** Where the broker is and how its streams are kept. */
export interface BrokerConfig {
  /** `nats://host:port` URLs, one per node (env `SAGA_NATS_URL`, comma-separated). */
  servers: string[];
  /** Copies of each stream: 1 on a single node, 3 on a three-node cluster. @default 1 (env `SAGA_NATS_REPLICAS`) */
  replicas: 1 | 3 | 5;
}

/** `SAGA_NATS_URL`: one or more `nats://` or `tls://` URLs with a host and a port, comma-separated; `undefined` when unset. */
export function readNatsServers(env: Env, problems: string[]): string[] | undefined {
  const raw = env.SAGA_NATS_URL;
  if (raw === undefined || raw.trim() === '') return undefined;
  const servers = raw.split(',').map((s) => s.trim());
  for (const server of servers) {
    let url: URL | undefined;
    try {
      url = new URL(server);
    } catch {
      url = undefined;
    }
    if (!url || !['nats:', 'tls:'].includes(url.protocol) || !url.hostname || !url.port) {
      problems.push(`SAGA_NATS_URL must be nats://host:port or tls://host:port, comma-separated (got ${redactUrl(server) || 'an empty entry'})`);
    }
  }
  return servers;
}

/** Reads the broker's settings; throws {@link ConfigError} listing every problem (an unset `SAGA_NATS_URL` is one). */
export function loadBrokerConfig(env: Env = process.env): BrokerConfig {
  const problems: string[] = [];
  const servers = readNatsServers(env, problems);
  if (!servers) problems.push('SAGA_NATS_URL is required: the broker (nats://host:port, comma-separated for a cluster)');
  const rawReplicas = env.SAGA_NATS_REPLICAS?.trim() || '1';
  if (!['1', '3', '5'].includes(rawReplicas)) problems.push(`SAGA_NATS_REPLICAS must be 1, 3 or 5 (got ${rawReplicas})`);
  if (problems.length) throw new ConfigError(problems);
  return { servers: servers!, replicas: Number(rawReplicas) as 1 | 3 | 5 };
}
