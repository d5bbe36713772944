// One connection to the NATS JetStream servers of `SAGA_NATS_URL`, for every process that speaks to the
// broker (the worker's steps, the carrier, the outbox relay): it reconnects for ever, so a broker that
// is restarted, or a cluster node that dies, costs a pause and never a process.
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** How a process connects to the broker. */
export interface BrokerConnectionOptions {
  /** `nats://host:port` URLs (one node, or every node of a cluster). */
  servers: readonly string[];
  /** The connection's name in the server's monitoring (`carrier`, `worker`, `outbox-relay`). */
  name: string;
  /** Longest wait for the first connection, in ms. @default 10_000 */
  timeoutMs?: number;
}

/** Connects with unlimited reconnects (every 500 ms), so the process outlives a broker restart. */
export function connectBroker(options: BrokerConnectionOptions): Promise<NatsConnection> {
  return connect({
    servers: [...options.servers],
    name: options.name,
    timeout: options.timeoutMs ?? 10_000,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
  });
}
