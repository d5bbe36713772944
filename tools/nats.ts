// The NATS server with JetStream, as `npm start`, `npm run cluster` and the tests run it: one node with
// its file store under a data folder, or three nodes in one JetStream cluster (Raft), each with its own
// store, every node killable and startable again on the same ports and folder.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from '../scripts/lib/ports';
import { managedProcess, type ManagedProcess } from './cluster/process';
import { TEMPORAL_HOME } from './temporal-binaries';

/** Thrown when no NATS server binary is installed or the override names none. */
export class NatsServerMissingError extends Error {
  override readonly name = 'NatsServerMissingError';
  constructor(readonly path: string | undefined) {
    super(
      path
        ? `NATS_SERVER_PATH=${path} does not exist. Unset NATS_SERVER_PATH to use the installed server, or point it at one.`
        : 'The NATS server is not installed: run `npm run install-temporal` with Go on the PATH (it builds nats-server from the Go module proxy), or set NATS_SERVER_PATH.',
    );
  }
}

/** Thrown when a node does not answer, or JetStream has no leader, within the start timeout. */
export class NatsStartError extends Error {
  override readonly name = 'NatsStartError';
}

/** The nats-server executable: `NATS_SERVER_PATH`, else the installed one. */
export function natsServerBinary(): string {
  const override = process.env.NATS_SERVER_PATH;
  if (override) {
    if (!existsSync(override)) throw new NatsServerMissingError(override);
    return override;
  }
  const installed = join(TEMPORAL_HOME, 'nats', 'nats-server');
  if (!existsSync(installed)) throw new NatsServerMissingError(undefined);
  return installed;
}

/** Where and how the broker runs. */
export interface NatsOptions {
  /** Folder for the nodes' file stores and logs (node `i` in `<dataDir>/nats-<i>`). */
  dataDir: string;
  /** 1 (a single node) or 3 (a JetStream cluster). @default 1 */
  nodes?: 1 | 3;
  /** Client ports, one per node. @default free ports */
  ports?: readonly number[];
  /** How long to wait for the nodes and a JetStream leader. @default 60_000 */
  startTimeoutMs?: number;
}

/** One node of a running broker. */
export interface NatsNode {
  name: string;
  /** `nats://127.0.0.1:<port>`. */
  url: string;
  process: ManagedProcess;
}

/** A running broker started by {@link startNats}. */
export interface NatsBroker {
  /** Client URLs of every node, for `SAGA_NATS_URL` (comma-separated) or `connect({ servers })`. */
  servers: string[];
  nodes: NatsNode[];
  /** SIGKILLs node `i` and waits until it is gone. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again (same ports, same store) and waits until JetStream answers through it. */
  restart(i: number): Promise<void>;
  /** Waits until JetStream answers through every running node. */
  ready(): Promise<void>;
  /** Stops every node (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

async function jetStreamAnswers(url: string): Promise<boolean> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
    const jsm = await jetstreamManager(nc, { timeout: 1_000 });
    await jsm.getAccountInfo();
    return true;
  } catch {
    return false;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** Starts one node or a three-node JetStream cluster and waits until JetStream answers on every node. */
export async function startNats(options: NatsOptions): Promise<NatsBroker> {
  const binary = natsServerBinary();
  const count = options.nodes ?? 1;
  const timeout = options.startTimeoutMs ?? 60_000;
  const dataDir = resolve(options.dataDir);
  const ports = options.ports ? [...options.ports] : await Promise.all(Array.from({ length: count }, () => freePort()));
  if (ports.length !== count) throw new NatsStartError(`${count} node(s) need ${count} port(s), got ${ports.length}`);
  const clusterPorts = count > 1 ? await Promise.all(Array.from({ length: count }, () => freePort())) : [];
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');

  const nodes: NatsNode[] = ports.map((port, i) => {
    const name = `nats-${i + 1}`;
    const store = join(dataDir, name);
    mkdirSync(store, { recursive: true });
    const args = ['--jetstream', '--store_dir', store, '--addr', '127.0.0.1', '--port', String(port), '--server_name', name];
    if (count > 1) args.push('--cluster_name', 'saga-nats', '--cluster', `nats://127.0.0.1:${clusterPorts[i]}`, '--routes', routes);
    const process = managedProcess({ name, command: binary, args, env: {}, logFile: join(dataDir, `${name}.log`) });
    return { name, url: `nats://127.0.0.1:${port}`, process };
  });

  const waitFor = async (node: NatsNode) => {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (!node.process.running) throw new NatsStartError(`${node.name} exited before it was ready; see ${node.process.spec.logFile}`);
      if (await jetStreamAnswers(node.url)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new NatsStartError(`${node.name} (${node.url}) did not answer with JetStream within ${timeout} ms; see ${node.process.spec.logFile}`);
  };

  const broker: NatsBroker = {
    servers: nodes.map((n) => n.url),
    nodes,
    async kill(i) {
      await nodes[i]!.process.kill('SIGKILL');
    },
    async restart(i) {
      nodes[i]!.process.start();
      await waitFor(nodes[i]!);
    },
    async ready() {
      await Promise.all(nodes.filter((n) => n.process.running).map(waitFor));
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.process.stop(5_000)));
    },
  };

  for (const node of nodes) node.process.start();
  try {
    await broker.ready();
  } catch (err) {
    await broker.stop();
    throw err;
  }
  return broker;
}
