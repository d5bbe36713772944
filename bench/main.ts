// `npm run bench`: starts an in-memory dev server (or uses the one at TEMPORAL_ADDRESS) and the worker
// in this process, runs the benchmark plan, prints the tables and writes the results as JSON.
//
//   npm run bench                 the full plan, about 10 minutes on 2 cores
//   npm run bench -- --quick      small counts, about 1 to 2 minutes
//   npm run bench -- --profile    the same, with the process profiled (--cpu-prof) and the hot frames summarized

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../src/devserver';
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
    },
  });
  const outDir = values.out ?? DEFAULT_OUT_DIR;
  if (values.profile) return profiled(process.argv.slice(2), outDir);

  // Compensating orders fail activities on purpose by the hundred: keep the logs to real errors.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
  });

  let server: DevServer | undefined;
  const external = process.env.TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  let address: string;
  if (external) {
    address = external;
  } else {
    console.log('Starting an in-memory Temporal dev server…');
    server = await startDevServer({ port: await freePort(), uiPort: await freePort(), dbFile: null, logFile: null });
    address = server.address;
  }
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  try {
    if (external) await checkSearchAttributes(nativeConnection, { address, namespace });
    const results = await runBenchmark({
      connection: nativeConnection,
      client: new Client({ connection, namespace }),
      namespace,
      plan: values.quick ? quickPlan : fullPlan,
      serverAddress: address,
      startedServer: server !== undefined,
      ...(server ? { serverPid: server.pid } : {}),
      ...(values.db === 'memory' ? { databaseUrl: 'sqlite::memory:' } : values.db ? { databaseUrl: values.db } : {}),
      log: (line) => console.log(line),
    });
    console.log(`\n${formatReport(results)}\n`);
    console.log(`Results: ${writeResults(results, outDir)}`);
    return results.truncated ? 2 : 0;
  } finally {
    await connection.close();
    await nativeConnection.close();
    await server?.stop();
  }
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
