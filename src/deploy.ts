#!/usr/bin/env node
// `npm run deploy -- <command>`: moves the saga worker fleet from one version to the next with sagas
// in flight (docs/operations.md, "Deploying with sagas in flight"). It starts no worker itself: the
// new version's workers are started by whatever runs them (a process manager, compose, Kubernetes),
// and this command waits for them to poll before it sends them sagas.
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { buildIdProblem, ConfigError, connectionOptions, CONNECTION_FLAGS, DEFAULT_DEPLOYMENT_NAME, deploymentNameProblem, loadClientConfig, withConnectionFlags } from './config';
import { versionKey, type DeploymentVersion } from './deployment/version';
import { isReachable } from './reachable';
import {
  assertNoUnversionedPinned,
  countUnversionedPinned,
  DeploymentNotFoundError,
  describeDeployment,
  promoteVersion,
  rampVersion,
  retireVersion,
  UnversionedSagasRunningError,
  VersionInUseError,
  VersionNotFoundError,
  VersionNotPollingError,
  VersionRoutedError,
  waitForPollers,
  type DeploymentReport,
} from './deployment/versions';

const HELP = `Usage: npm run deploy -- <command> [options]

Commands:
  status                        the deployment's versions: which is current or ramping, and how many
                                running sagas each one still holds pinned
  promote <build-id>            wait until workers of that version poll, then make it current
        --ramp <percent>        send only that share (1 to 99) of new sagas to it, the rest to the current version
        --wait <seconds>        how long to wait for its workers (default 60)
  retire <build-id>             mark the version retired, so that its workers stop; refused while it is
                                current or ramping, or while any saga is pinned to it

Options:
  --deployment <name>           the Worker Deployment (default SAGA_DEPLOYMENT_NAME, else ${DEFAULT_DEPLOYMENT_NAME})
  --address, --namespace, --profile, --config-file, --api-key, --tls   as for the client
  -h, --help                    show this help

Exit codes: 0 done, 1 refused (a version in use, or no worker polling), 2 bad command line, 3 server unreachable.
`;

/** Where the command writes, and the environment it reads; the process's own by default. */
export interface DeployIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

/** Thrown when the command line is wrong; nothing was sent to the server. */
export class DeployUsageError extends Error {
  override readonly name = 'DeployUsageError';
}

/** How long `promote` waits for the new version's workers unless `--wait` says otherwise. @default 60 s */
export const DEFAULT_POLLER_WAIT_S = 60;

interface Parsed {
  command: 'status' | 'promote' | 'retire';
  version: DeploymentVersion;
  ramp: number | undefined;
  waitS: number;
  env: Record<string, string | undefined>;
}

function parse(argv: string[], env: Record<string, string | undefined>): Parsed | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        deployment: { type: 'string' },
        ramp: { type: 'string' },
        wait: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(Object.keys(CONNECTION_FLAGS).map((flag) => [flag, { type: flag === 'tls' ? ('boolean' as const) : ('string' as const) }])),
      },
    });
  } catch (err) {
    throw new DeployUsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [command, buildId, ...extra] = positionals;
  if (command !== 'status' && command !== 'promote' && command !== 'retire') throw new DeployUsageError(command ? `Unknown command "${command}"` : 'No command given');
  if (extra.length) throw new DeployUsageError(`Unexpected arguments: ${extra.join(' ')}`);
  const deploymentName = (values.deployment as string | undefined) ?? (env.SAGA_DEPLOYMENT_NAME || DEFAULT_DEPLOYMENT_NAME);
  const nameProblem = deploymentNameProblem(deploymentName);
  if (nameProblem) throw new DeployUsageError(`--deployment: ${nameProblem}`);
  if (command === 'status' && buildId !== undefined) throw new DeployUsageError('status takes no build id');
  if (command !== 'status') {
    if (buildId === undefined) throw new DeployUsageError(`${command} needs the build id of a version`);
    const problem = buildIdProblem(buildId);
    if (problem) throw new DeployUsageError(problem);
  }
  let ramp: number | undefined;
  if (values.ramp !== undefined) {
    if (command !== 'promote') throw new DeployUsageError('--ramp goes with promote');
    ramp = Number(values.ramp);
    if (!/^\d+$/.test(String(values.ramp)) || ramp < 1 || ramp > 99) throw new DeployUsageError(`--ramp must be a whole percentage from 1 to 99 (got "${String(values.ramp)}"); promote without --ramp sends every new saga`);
  }
  let waitS = DEFAULT_POLLER_WAIT_S;
  if (values.wait !== undefined) {
    waitS = Number(values.wait);
    if (!/^\d+$/.test(String(values.wait)) || waitS < 1) throw new DeployUsageError(`--wait must be a positive number of seconds (got "${String(values.wait)}")`);
  }
  return { command, version: { deploymentName, buildId: buildId ?? '' }, ramp, waitS, env: withConnectionFlags(env, values) };
}

/** The deployment as a table: one line per version, oldest first. */
export function formatDeployment(report: DeploymentReport): string {
  const rows = report.versions.map((v) => {
    const where = v.state === 'ramping' && report.ramping ? `ramping ${report.ramping.percentage}%` : v.state;
    return [versionKey({ deploymentName: report.deploymentName, buildId: v.buildId }), where, String(v.pinnedRunning), v.retired ? 'yes' : 'no'];
  });
  const header = ['version', 'state', 'pinned sagas running', 'retired'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [`Deployment ${report.deploymentName}: current ${report.current ?? 'none'}${report.ramping ? `, ramping ${report.ramping.buildId} at ${report.ramping.percentage}%` : ''}`, line(header), ...rows.map(line)].join('\n') + '\n';
}

const IDENTITY = `saga-deploy@${process.pid}`;

/** Runs one deploy command; returns the exit code. */
export async function runDeploy(argv: string[], io: DeployIo): Promise<number> {
  let parsed: Parsed | 'help';
  let config;
  try {
    parsed = parse(argv, io.env);
    if (parsed === 'help') {
      io.stdout(HELP);
      return 0;
    }
    config = loadClientConfig(parsed.env);
  } catch (err) {
    if (err instanceof DeployUsageError || err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  let connection: Connection;
  try {
    // Probed first: the client's connection retries a refused address until its timeout.
    if (!(await isReachable(config.address, 2_000))) throw new Error('unreachable');
    connection = await Connection.connect({ ...connectionOptions(config), connectTimeout: 5_000 });
  } catch {
    io.stderr(`Cannot reach the Temporal server at ${config.address}\n`);
    return 3;
  }
  const client = new Client({ connection, namespace: config.namespace });
  const { version } = parsed;
  try {
    if (parsed.command === 'promote') {
      await assertNoUnversionedPinned(client, version, config.taskQueue);
      io.stdout(`Waiting for workers of ${versionKey(version)} on task queue ${config.taskQueue}…\n`);
      await waitForPollers(client, version, { taskQueues: [config.taskQueue], timeoutMs: parsed.waitS * 1000 });
      if (parsed.ramp === undefined) {
        await promoteVersion(client, version, IDENTITY);
        io.stdout(`${versionKey(version)} is current: new sagas start on it, auto-upgrading sagas move to it.\n`);
      } else {
        await rampVersion(client, version, parsed.ramp, IDENTITY);
        io.stdout(`${versionKey(version)} is ramping: ${parsed.ramp}% of new sagas start on it.\n`);
      }
    } else if (parsed.command === 'retire') {
      await retireVersion(client, version, IDENTITY);
      io.stdout(`${versionKey(version)} is retired: nothing is pinned to it, and its workers stop within seconds.\n`);
    }
    io.stdout(formatDeployment(await describeDeployment(client, version.deploymentName)));
    const unversioned = await countUnversionedPinned(client.workflowService, config.namespace, config.taskQueue);
    if (unversioned > 0) io.stdout(`${unversioned} order(s) started before versioning still run on unversioned workers of task queue ${config.taskQueue}.\n`);
    return 0;
  } catch (err) {
    if (err instanceof VersionInUseError || err instanceof VersionRoutedError || err instanceof VersionNotPollingError || err instanceof VersionNotFoundError || err instanceof DeploymentNotFoundError || err instanceof UnversionedSagasRunningError) {
      io.stderr(`Refused: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  void runDeploy(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env }).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`npm run deploy failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
