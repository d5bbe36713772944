// `npm run cluster`: the Temporal server in its production shape on this machine (PostgreSQL, two
// history hosts, matching, frontend, internal worker, the standalone Web UI; see tools/cluster) and the
// saga worker on it, its services' database on the same PostgreSQL, payload encryption on and the codec
// server the Web UI decodes (and encodes updates) through; a three-node NATS JetStream cluster with the
// carrier and the outbox relay, every stream in three replicas (tools/cluster/broker.ts). Prints every
// address, keeps all of its state in the data folder across restarts; Ctrl-C stops everything it
// started: the saga worker first, then the carrier and the relay, the broker, the Temporal services,
// PostgreSQL last.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterBinaryMissingError, ClusterError, clusterPorts, LocalPostgresError, startCluster, type Cluster } from '../tools/cluster';
import { startClusterBroker, type ClusterBroker } from '../tools/cluster/broker';
import { BrokerServiceError } from '../tools/cluster/broker-services';
import { natsServerBinary, NatsServerMissingError, NatsStartError } from '../tools/nats';
import { managedProcess, type ManagedProcess } from '../tools/cluster/process';
import { TemporalBinaryError } from '../tools/temporal-binaries';

const HELP = `Usage: npm run cluster -- [options]

Starts PostgreSQL, the Temporal services as separate processes, the codec server, the Web UI, a
three-node NATS JetStream cluster with the carrier and the outbox relay (streams in 3 replicas), and
the saga worker.
The Temporal binaries are built on first use (npm run install-temporal -- --cluster, needs Go).

Options:
  --data-dir <dir>       Cluster state, all of it: PostgreSQL data, broker stores, secrets, logs (default .data/cluster)
  --port <port>          Frontend gRPC port; the other ports are offsets from it, the broker's +30 to +32 (default 7233)
  --ui-port <port>       Web UI port (default 8080)
  --history-hosts <n>    History hosts sharing the shards (default 2)
  --shards <n>           History shards, fixed when the cluster is created (default 8)
  --no-worker            Do not start the saga worker
  -h, --help             Show this help
`;

function int(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ClusterError(`--${name} must be a positive integer (got "${value}")`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      'ui-port': { type: 'string' },
      'history-hosts': { type: 'string' },
      shards: { type: 'string' },
      'no-worker': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const dataDir = resolve(values['data-dir'] ?? join('.data', 'cluster'));
  const frontendPort = int(values.port, 'port');
  const uiPort = int(values['ui-port'], 'ui-port');
  const historyHosts = int(values['history-hosts'], 'history-hosts');
  const numHistoryShards = int(values.shards, 'shards');
  // The installer runs here, after the options are read, not before this script: `--help` and a bad
  // option answer at once instead of after a Go build. A tenth of a second once the binaries exist.
  const installer = spawnSync(process.execPath, [join(__dirname, 'install-temporal.mjs'), '--quiet', '--cluster'], { stdio: 'inherit' });
  if (installer.status !== 0) return installer.status ?? 1;
  // The broker starts after the Temporal services: a missing nats-server is said before either starts.
  natsServerBinary();

  // Filled in as things start; the signal handler stops whatever is there.
  const started: { cluster?: Cluster; broker?: Promise<ClusterBroker>; worker?: ManagedProcess } = {};
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      console.log('\nStopping the saga worker, the carrier and the relay, the broker, the Temporal services, then PostgreSQL…');
      await started.worker?.stop(60_000);
      // A broker still starting is stopped once it has started (or has stopped itself, failing).
      await (await started.broker?.catch(() => undefined))?.stop();
      await started.cluster?.stop();
      console.log('Stopped.');
    })());
  let interrupted = false;
  const starting = new AbortController();
  const onSignal = () => {
    // A second Ctrl-C does not wait; the exit handlers still kill every child started here.
    if (interrupted) process.exit(130);
    interrupted = true;
    // While starting, the start itself stops what it started and rejects.
    if (!started.cluster) starting.abort();
    else void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  console.log(`Starting the Temporal cluster (state in ${dataDir})…`);
  const cluster = await startCluster({
    dataDir,
    signal: starting.signal,
    log: (line) => console.log(`  ${line}`),
    ...(frontendPort ? { frontendPort } : {}),
    ...(uiPort ? { uiPort } : {}),
    ...(historyHosts ? { historyHosts } : {}),
    ...(numHistoryShards ? { numHistoryShards } : {}),
  });
  started.cluster = cluster;

  console.log('Starting the broker: three NATS JetStream nodes, the carrier and the outbox relay…');
  started.broker = startClusterBroker({
    dataDir,
    ports: clusterPorts(frontendPort ?? 7233, historyHosts ?? 2).nats,
    databaseUrl: cluster.databaseUrl,
    logDir: cluster.logDir,
    env: { NODE_ENV: 'development' },
    log: (line) => console.log(`  ${line}`),
  });
  const broker = await started.broker.catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  if (stopping) {
    await stopping;
    return 130;
  }
  const workerEnv = { ...cluster.workerEnv, ...broker.env };

  const envFile = join(dataDir, 'cluster.env');
  writeFileSync(envFile, `${Object.entries(workerEnv).map(([k, v]) => `export ${k}='${v}'`).join('\n')}\n`, { mode: 0o600 });
  if (!values['no-worker']) {
    started.worker = managedProcess({
      name: 'saga-worker',
      command: process.execPath,
      args: ['--import', 'tsx', resolve(__dirname, '..', 'src', 'worker.ts')],
      env: workerEnv,
      logFile: join(cluster.logDir, 'saga-worker.log'),
      cwd: resolve(__dirname, '..'),
    });
    started.worker.start();
    void started.worker.exited().then((code) => {
      if (!stopping) console.log(`The saga worker exited with code ${code}: see ${join(cluster.logDir, 'saga-worker.log')}`);
    });
  }

  const worker = started.worker;
  const lines = [
    `Temporal frontend   ${cluster.address} (namespace ${cluster.namespace}, ${cluster.numHistoryShards} history shards)`,
    `Web UI              ${cluster.uiUrl}/namespaces/${cluster.namespace}/workflows`,
    `Codec server        ${cluster.codecUrl} (sign in at ${cluster.codecUrl}/login with codecServerToken from ${join(dataDir, 'secrets.json')} to see payloads decoded, codecServerEncodeToken to send updates too)`,
    `PostgreSQL          127.0.0.1:${new URL(cluster.postgresUrl).port} (databases temporal, temporal_visibility, saga; passwords in ${join(dataDir, 'secrets.json')})`,
    `NATS broker         ${broker.env.SAGA_NATS_URL} (JetStream, 3 nodes, streams in ${broker.env.SAGA_NATS_REPLICAS} replicas; stores in ${join(dataDir, 'nats')})`,
    ...[...cluster.processes.entries()].map(([name, p]) => `${name.padEnd(20)}pid ${p.pid}, log ${p.spec.logFile}`),
    ...broker.nats.nodes.map((node) => `${node.name.padEnd(20)}pid ${node.process.pid}, ${node.url}, log ${node.process.spec.logFile}`),
    ...[...broker.processes.entries()].map(([name, p]) => `${name.padEnd(20)}pid ${p.pid}, log ${p.spec.logFile}`),
    worker ? `saga worker         pid ${worker.pid}, log ${worker.spec.logFile} (payload encryption on)` : 'saga worker         not started (--no-worker)',
    '',
    `Use it from another terminal:  source ${envFile} && npm run client -- order --help`,
    'Ctrl-C stops everything started here.',
  ];
  console.log(`\n${lines.join('\n')}`);
  await new Promise<never>(() => undefined);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known =
      err instanceof ClusterError ||
      err instanceof ClusterBinaryMissingError ||
      err instanceof LocalPostgresError ||
      err instanceof TemporalBinaryError ||
      err instanceof NatsServerMissingError ||
      err instanceof NatsStartError ||
      err instanceof BrokerServiceError;
    console.error(`npm run cluster failed: ${err instanceof Error && known ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
