// `npm run bench`: starts an in-memory dev server (or uses the one at TEMPORAL_ADDRESS) and the worker
// in this process, runs the benchmark plan, prints the tables and writes the results as JSON.
//
//   npm run bench                 the full plan, about 10 minutes on 2 cores
//   npm run bench -- --quick      small counts, about 1 to 2 minutes
//   npm run bench -- --cluster    against a throw-away cluster (tools/cluster) instead of the dev server
//   npm run bench -- --workers 2  two saga workers on each task queue
//   npm run bench -- --profile    the same, with the process profiled (--cpu-prof) and the hot frames summarized
//   npm run bench -- --peers      the order saga side by side on Temporal, DBOS and Restate (installs bench/peers first)
//   npm run bench -- --levers     A/B of each structural lever (schema cache, start RUNNING, eager start, eager
//                                 activities, heartbeat at start, local activities, the order's database steps
//                                 as local activities, step records in the result)
//   npm run bench -- --broker     the order saga with the carrier in process (direct) and through NATS JetStream
//                                 (queued), interleaved; --broker-carrier in-process runs the queued side's
//                                 carrier in this process instead of its own
//   npm run bench -- --dynamic-config key=value   a dev server setting on top of the product's (repeatable)
//   npm run bench -- --background-load 8          8 busy processes competing for the cores during the run
//   npm run bench -- --cluster --quick --server-profile 60   a CPU profile of each Temporal service over the
//                                 first 60 s of the run, summarized with `go tool pprof -top` (Go on the PATH)

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime } from '@temporalio/worker';
import { freeClusterPortBlock, startCluster, type Cluster } from '../tools/cluster';
import { startDevServer, type DevServer } from '../tools/devserver';
import { createServices } from '../src/services';
import { checkSearchAttributes } from '../src/worker';
import { benchBundle, fullPlan, quickPlan, runBenchmark } from './harness';
import { captureServerProfiles, formatServerProfiles, summarizeServerProfiles } from './server-profile';
import { freePort } from '../scripts/lib/ports';
import { formatLevers, leversPlan, quickLeversPlan, runLevers } from './levers';
import { brokerPlan, formatBroker, quickBrokerPlan, runBrokerComparison, type CarrierPlacement } from './broker';
import { summarizeProfiles } from './profile';
import { DEFAULT_OUT_DIR, formatReport, writeResults } from './report';

// A local tool: without a NODE_ENV of its own it declares development, since every process that is
// not is treated as production and refuses to start without keys (src/config.ts, isProduction).
process.env.NODE_ENV ??= 'development';

// Re-runs this command under `node --cpu-prof` (which must be given at start-up, and profiles the
// workflow thread too), then summarizes the profiles it wrote.
async function profiled(args: string[], outDir: string): Promise<number> {
  const dir = resolve(outDir, `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const script = process.argv[1];
  if (!script) throw new Error('Cannot tell which script to profile');
  const child = spawnSync(process.execPath, [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${dir}`, script, ...args.filter((a) => a !== '--profile')], {
    stdio: 'inherit',
  });
  if (child.status !== 0) return child.status ?? 1;
  // The same sources bundle to the same lines, so frames in the workflow thread map back to their modules.
  const summary = summarizeProfiles(dir, (await benchBundle()).code);
  writeFileSync(join(dir, 'summary.md'), `${summary}\n`);
  console.log(`\n${summary}\n\nProfiles and summary: ${dir}`);
  return 0;
}

/** `--dynamic-config key=value` (repeatable): dynamic config of the dev server the benchmark starts; values are JSON (`true`, `5`) or else strings. */
function dynamicConfigOf(pairs: readonly string[]): Record<string, string | number | boolean> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--dynamic-config takes key=value (got "${pair}")`);
      const raw = pair.slice(at + 1);
      let value: string | number | boolean = raw;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed === 'number' || typeof parsed === 'boolean' || typeof parsed === 'string') value = parsed;
      } catch {
        // Not JSON: a plain string.
      }
      return [pair.slice(0, at), value];
    }),
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      out: { type: 'string', default: DEFAULT_OUT_DIR },
      db: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      peers: { type: 'boolean', default: false },
      levers: { type: 'string' },
      broker: { type: 'boolean', default: false },
      'broker-carrier': { type: 'string', default: 'process' },
      'dynamic-config': { type: 'string', multiple: true },
      'background-load': { type: 'string', default: '0' },
      'server-profile': { type: 'string' },
    },
  });
  const serverProfileSeconds = values['server-profile'] === undefined ? undefined : Number(values['server-profile']);
  if (serverProfileSeconds !== undefined) {
    if (!values.cluster) throw new Error('--server-profile needs --cluster: the dev server serves no profiler');
    if (values.peers || values.levers !== undefined || values.broker) throw new Error('--server-profile goes with the benchmark plan, not with --peers, --levers or --broker');
    if (!Number.isInteger(serverProfileSeconds) || serverProfileSeconds < 5 || serverProfileSeconds > 600) throw new Error(`--server-profile takes whole seconds from 5 to 600 (got "${values['server-profile']}")`);
  }
  const hogs = Number(values['background-load']);
  if (!Number.isInteger(hogs) || hogs < 0 || hogs > 64) throw new Error(`--background-load must be an integer from 0 to 64 (got "${values['background-load']}")`);
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer (got "${values.workers}")`);
  const carrier: CarrierPlacement = values['broker-carrier'] === 'in-process' ? 'in-process' : 'process';
  if (values['broker-carrier'] !== carrier) throw new Error(`--broker-carrier must be "process" or "in-process" (got "${values['broker-carrier']}")`);
  const outDir = values.out ?? DEFAULT_OUT_DIR;
  if (values.profile) return profiled(process.argv.slice(2), outDir);

  // Compensating orders fail activities on purpose by the hundred: keep the logs to real errors.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
  });

  let server: DevServer | undefined;
  let cluster: Cluster | undefined;
  let clusterDir: string | undefined;
  const external = values.cluster ? undefined : process.env.TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  let address: string;
  if (external) {
    address = external;
  } else if (values.cluster) {
    console.log('Starting a throw-away Temporal cluster (PostgreSQL, 2 history hosts, matching, frontend, worker)…');
    clusterDir = mkdtempSync(join(tmpdir(), 'saga-bench-cluster-'));
    // The PostgreSQL server runs as the postgres user when this runs as root.
    chmodSync(clusterDir, 0o755);
    cluster = await startCluster({ dataDir: clusterDir, frontendPort: await freeClusterPortBlock(), uiPort: await freePort(), fast: true, pprof: serverProfileSeconds !== undefined });
    address = cluster.address;
  } else {
    console.log('Starting an in-memory Temporal dev server…');
    server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null, dynamicConfig: dynamicConfigOf(values['dynamic-config'] ?? []) });
    address = server.address;
  }
  // Other work on the machine, made to order: busy processes competing for the cores with every system measured.
  const background = Array.from({ length: hogs }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  if (hogs > 0) console.log(`Background load: ${hogs} busy process${hogs === 1 ? '' : 'es'} for the whole run.`);
  const nativeConnection = await NativeConnection.connect({ address });
  const moreWorkerConnections = await Promise.all(Array.from({ length: workers - 1 }, () => NativeConnection.connect({ address })));
  const connection = await Connection.connect({ address });
  try {
    if (external) await checkSearchAttributes(nativeConnection, { address, namespace });
    if (values.levers !== undefined) {
      const plan = values.quick ? quickLeversPlan : leversPlan;
      const chosen = values.levers === '' || values.levers === 'all' ? plan.levers : values.levers.split(',');
      const dir = mkdtempSync(join(tmpdir(), 'saga-bench-levers-'));
      const services = await createServices({ databaseUrl: values.db === 'memory' ? 'sqlite::memory:' : (values.db ?? `sqlite:${join(dir, 'services.db')}`), faults: {} });
      try {
        const { rows, truncated } = await runLevers({
          plan: { ...plan, levers: chosen },
          connection: nativeConnection,
          client: new Client({ connection, namespace }),
          namespace,
          services,
          ...(server ? { serverPid: server.pid } : cluster ? { serverPid: clusterPids(cluster) } : {}),
          log: (line) => console.log(line),
        });
        console.log(`\nLevers (load average at start ${loadavg()[0]?.toFixed(2)}):\n\n${formatLevers(rows)}\n`);
        mkdirSync(outDir, { recursive: true });
        const file = resolve(outDir, `levers-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
        writeFileSync(file, `${JSON.stringify({ plan, rows, truncated }, null, 2)}\n`);
        console.log(`Results: ${file}`);
        return truncated ? 2 : 0;
      } finally {
        await services.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (values.broker) {
      const plan = { ...(values.quick ? quickBrokerPlan : brokerPlan), carrier };
      const results = await runBrokerComparison({
        plan,
        connection: nativeConnection,
        client: new Client({ connection, namespace }),
        namespace,
        workflowBundle: await benchBundle(),
        ...(server ? { serverPid: server.pid } : cluster ? { serverPid: clusterPids(cluster) } : {}),
        log: (line) => console.log(line),
      });
      console.log(`\nThe queued step against the direct one (load average at start ${loadavg()[0]?.toFixed(2)}):\n\n${formatBroker(results)}\n`);
      mkdirSync(outDir, { recursive: true });
      const file = resolve(outDir, `broker-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      console.log(`Results: ${file}`);
      return results.truncated ? 2 : 0;
    }
    if (values.peers) {
      const peers = await loadPeers();
      const serverPids = server ? [server.pid] : cluster ? clusterPids(cluster) : [];
      const results = await peers.runPeers({
        plan: values.quick ? peers.quickPeersPlan : peers.peersPlan,
        connection: nativeConnection,
        client: new Client({ connection, namespace }),
        namespace,
        temporalPids: serverPids,
        temporalTopology: server ? 'the dev server (in memory)' : cluster ? 'the cluster (PostgreSQL)' : `an external server (${address})`,
        workflowBundle: await benchBundle(),
        freePort,
        log: (line) => console.log(line),
      });
      console.log(`\n${peers.formatPeers(results)}\n`);
      mkdirSync(outDir, { recursive: true });
      const file = resolve(outDir, `peers-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      console.log(`Results: ${file}`);
      return results.truncated ? 2 : 0;
    }
    const profileDir = resolve(outDir, `server-profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const capture = serverProfileSeconds !== undefined && cluster ? captureServerProfiles(cluster.pprof, serverProfileSeconds, profileDir) : undefined;
    // Held until the run is over, so that a failed capture does not cut the benchmark short.
    capture?.catch(() => undefined);
    const results = await runBenchmark({
      connection: nativeConnection,
      client: new Client({ connection, namespace }),
      namespace,
      plan: values.quick ? quickPlan : fullPlan,
      serverAddress: address,
      startedServer: server !== undefined || cluster !== undefined,
      topology: server ? 'dev-server' : cluster ? 'cluster' : 'external',
      moreWorkerConnections,
      ...(server ? { serverPid: server.pid } : {}),
      ...(cluster ? { serverPid: clusterPids(cluster) } : {}),
      ...(values.db === 'memory' ? { databaseUrl: 'sqlite::memory:' } : values.db ? { databaseUrl: values.db } : {}),
      log: (line) => console.log(line),
    });
    console.log(`\n${formatReport(results)}\n`);
    console.log(`Results: ${writeResults(results, outDir)}`);
    if (capture && serverProfileSeconds !== undefined) {
      const summary = formatServerProfiles(summarizeServerProfiles(await capture), serverProfileSeconds);
      writeFileSync(join(profileDir, 'summary.md'), `${summary}\n`);
      console.log(`\n${summary}\n\nServer profiles and summary: ${profileDir}`);
    }
    return results.truncated ? 2 : 0;
  } finally {
    try {
      await connection.close();
      await nativeConnection.close();
      for (const more of moreWorkerConnections) await more.close();
    } finally {
      for (const hog of background) hog.kill('SIGKILL');
      await server?.stop();
      await cluster?.stop();
      if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
    }
  }
}


/** What `bench/peers/compare.ts` offers; loaded by path so that the product builds without the peers installed. */
interface PeersModule {
  peersPlan: unknown;
  quickPeersPlan: unknown;
  runPeers(options: {
    plan: unknown;
    connection: NativeConnection;
    client: Client;
    namespace: string;
    temporalPids: readonly number[];
    temporalTopology: string;
    workflowBundle: { code: string };
    freePort: () => Promise<number>;
    log: (line: string) => void;
  }): Promise<{ truncated: boolean }>;
  formatPeers(results: unknown): string;
}

// The peers' packages live in bench/peers/node_modules, installed on first use, never in the
// product's dependencies.
async function loadPeers(): Promise<PeersModule> {
  const dir = join(__dirname, 'peers');
  if (!existsSync(join(dir, 'node_modules', '@dbos-inc', 'dbos-sdk')) || !existsSync(join(dir, 'node_modules', '@restatedev', 'restate-sdk'))) {
    console.log('Installing the peers (bench/peers: DBOS Transact, Restate)…');
    const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
    if (npm.status !== 0) throw new Error('npm install in bench/peers failed');
  }
  return (await import(join(dir, 'compare'))) as PeersModule;
}

/** The cluster's server processes: the Temporal services and PostgreSQL's postmaster with its backends. */
function clusterPids(cluster: Cluster): number[] {
  const temporal = [...cluster.processes.entries()].filter(([name]) => name !== 'ui').flatMap(([, p]) => (p.pid === undefined ? [] : [p.pid]));
  const postmaster = cluster.postgresPid;
  const backends = readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
    } catch {
      return false;
    }
  });
  return [...temporal, ...(postmaster === undefined ? [] : [postmaster]), ...backends.map(Number)];
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
