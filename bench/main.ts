// `npm run bench`: starts an in-memory dev server (or uses the one at TEMPORAL_ADDRESS) and the worker
// in this process, runs the benchmark plan, prints the tables and writes the results as JSON.
//
//   npm run bench                 the full plan, about 10 minutes on 2 cores
//   npm run bench -- --quick      small counts, about 1 to 2 minutes
//   npm run bench -- --cluster    against a throw-away cluster (src/cluster) instead of the dev server
//   npm run bench -- --workers 2  two saga workers on each task queue
//   npm run bench -- --profile    the same, with the process profiled (--cpu-prof) and the hot frames summarized

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime } from '@temporalio/worker';
import { freeClusterPortBlock, startCluster, type Cluster } from '../tools/cluster';
import { startDevServer, type DevServer } from '../tools/devserver';
import { checkSearchAttributes } from '../src/worker';
import { benchBundle, fullPlan, quickPlan, runBenchmark } from './harness';
import { summarizeProfiles } from './profile';
import { DEFAULT_OUT_DIR, formatReport, writeResults } from './report';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      out: { type: 'string', default: DEFAULT_OUT_DIR },
      db: { type: 'string' },
      cluster: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
    },
  });
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer (got "${values.workers}")`);
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
    cluster = await startCluster({ dataDir: clusterDir, frontendPort: await freeClusterPortBlock(), uiPort: await freePort(), fast: true });
    address = cluster.address;
  } else {
    console.log('Starting an in-memory Temporal dev server…');
    server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null });
    address = server.address;
  }
  const nativeConnection = await NativeConnection.connect({ address });
  const moreWorkerConnections = await Promise.all(Array.from({ length: workers - 1 }, () => NativeConnection.connect({ address })));
  const connection = await Connection.connect({ address });
  try {
    if (external) await checkSearchAttributes(nativeConnection, { address, namespace });
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
    return results.truncated ? 2 : 0;
  } finally {
    try {
      await connection.close();
      await nativeConnection.close();
      for (const more of moreWorkerConnections) await more.close();
    } finally {
      await server?.stop();
      await cluster?.stop();
      if (clusterDir) rmSync(clusterDir, { recursive: true, force: true });
    }
  }
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
