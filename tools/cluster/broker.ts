// The broker of `npm run cluster`: a three-node NATS JetStream cluster with its stores under the
// cluster's data folder (`<dataDir>/nats`), then the broker services (the carrier, the outbox relay)
// as child processes on the cluster's services database, their streams kept in three replicas.
import { join } from 'node:path';
import { startNats, type NatsBroker } from '../nats';
import { brokerServices, startBrokerService } from './broker-services';
import type { ManagedProcess } from './process';

/** Copies of every stream on the cluster's broker: one per node. */
export const CLUSTER_STREAM_REPLICAS = 3;

/** What the cluster's broker runs on. */
export interface ClusterBrokerOptions {
  /** The cluster's data folder; the nodes' stores and logs go in its `nats/`. */
  dataDir: string;
  /** Client ports of the three nodes (`clusterPorts(…).nats`). */
  ports: readonly number[];
  /** The services' database, the worker's. */
  databaseUrl: string;
  /** Where the carrier and the relay log. */
  logDir: string;
  /** Environment the carrier and the relay also get (e.g. `NODE_ENV`). @default none */
  env?: Record<string, string>;
  /** Progress lines. @default nothing */
  log?: (line: string) => void;
}

/** The running broker and its services. */
export interface ClusterBroker {
  nats: NatsBroker;
  /** The broker services, by name (`carrier`, `relay`). */
  processes: ReadonlyMap<string, ManagedProcess>;
  /** `SAGA_NATS_URL` and `SAGA_NATS_REPLICAS` for the worker and clients. */
  env: { SAGA_NATS_URL: string; SAGA_NATS_REPLICAS: string };
  /** Stops the broker services (last started first), then the nodes. */
  stop(): Promise<void>;
}

/** Starts the three nodes, waits for JetStream on each, then the carrier and the relay. Stops what it started if a step fails. */
export async function startClusterBroker(options: ClusterBrokerOptions): Promise<ClusterBroker> {
  const log = options.log ?? (() => undefined);
  const nats = await startNats({ dataDir: join(options.dataDir, 'nats'), nodes: 3, ports: options.ports });
  log(`NATS JetStream cluster of 3 nodes on ${nats.servers.join(',')} (stores in ${join(options.dataDir, 'nats')})`);
  const processes = new Map<string, ManagedProcess>();
  const stop = async () => {
    for (const name of [...processes.keys()].reverse()) await processes.get(name)?.stop(30_000);
    await nats.stop();
  };
  try {
    for (const service of brokerServices) {
      const child = await startBrokerService(service, { servers: nats.servers, replicas: CLUSTER_STREAM_REPLICAS, databaseUrl: options.databaseUrl, extra: options.env ?? {} }, options.logDir);
      processes.set(service.name, child);
      log(`${service.name} ready (pid ${child.pid})`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nats, processes, env: { SAGA_NATS_URL: nats.servers.join(','), SAGA_NATS_REPLICAS: String(CLUSTER_STREAM_REPLICAS) }, stop };
}
