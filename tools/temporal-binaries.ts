import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where `scripts/install-temporal.mjs` puts the servers (git-ignored). */
export const TEMPORAL_HOME = resolve(__dirname, '..', '.temporal');

/** Thrown when `TEMPORAL_CLI_PATH` or `TEMPORAL_TEST_SERVER_PATH` names a file that is not there. */
export class TemporalBinaryError extends Error {
  override readonly name = 'TemporalBinaryError';
  constructor(
    readonly variable: string,
    readonly path: string,
  ) {
    super(`${variable}=${path} does not exist. Unset ${variable} to use the installed server, or point it at one.`);
  }
}

/** How the SDK should obtain a server executable: a file on disk, or its own download. */
export type ServerExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

function resolveExecutable(variable: string, installed: string): ServerExecutable {
  const override = process.env[variable];
  if (override) {
    if (!existsSync(override)) throw new TemporalBinaryError(variable, override);
    return { type: 'existing-path', path: override };
  }
  if (existsSync(installed)) return { type: 'existing-path', path: installed };
  return { type: 'cached-download' };
}

/** The Temporal CLI (dev server): `TEMPORAL_CLI_PATH`, else the installed one, else the SDK download. */
export function temporalCli(): ServerExecutable {
  return resolveExecutable('TEMPORAL_CLI_PATH', join(TEMPORAL_HOME, 'cli', 'temporal'));
}

/** The time-skipping test server: `TEMPORAL_TEST_SERVER_PATH`, else the installed one, else the SDK download. */
export function temporalTestServer(): ServerExecutable {
  return resolveExecutable('TEMPORAL_TEST_SERVER_PATH', join(TEMPORAL_HOME, 'test-server', 'temporal-test-server'));
}

/** Thrown when a piece of the local cluster is neither installed nor given by its override. */
export class ClusterBinaryMissingError extends Error {
  override readonly name = 'ClusterBinaryMissingError';
  constructor(
    readonly what: string,
    readonly variable: string,
  ) {
    super(`${what} is not installed: run \`npm run install-temporal -- --cluster\` (builds it with Go), or set ${variable}.`);
  }
}

function required(variable: string, installed: string, what: string): string {
  const resolved = resolveExecutable(variable, installed);
  if (resolved.type !== 'existing-path') throw new ClusterBinaryMissingError(what, variable);
  return resolved.path;
}

/** What `npm run cluster` runs, as installed by `install-temporal --cluster` or given by the overrides. */
export interface ClusterBinaries {
  /** The Temporal server (`TEMPORAL_SERVER_PATH`). */
  server: string;
  /** Its schema tool (`TEMPORAL_SQL_TOOL_PATH`). */
  sqlTool: string;
  /** Its PostgreSQL schema, `schema/postgresql/v12` of the server module (`TEMPORAL_SCHEMA_DIR`). */
  schemaDir: string;
  /** The standalone Web UI server (`TEMPORAL_UI_SERVER_PATH`). */
  uiServer: string;
}

/** The cluster's binaries; throws {@link ClusterBinaryMissingError} or {@link TemporalBinaryError} naming what is missing. */
export function clusterBinaries(): ClusterBinaries {
  const serverDir = join(TEMPORAL_HOME, 'server');
  const schemaDir = process.env.TEMPORAL_SCHEMA_DIR || join(serverDir, 'schema');
  if (!existsSync(join(schemaDir, 'temporal', 'versioned'))) throw new ClusterBinaryMissingError('The Temporal PostgreSQL schema', 'TEMPORAL_SCHEMA_DIR');
  return {
    server: required('TEMPORAL_SERVER_PATH', join(serverDir, 'temporal-server'), 'The Temporal server'),
    sqlTool: required('TEMPORAL_SQL_TOOL_PATH', join(serverDir, 'temporal-sql-tool'), 'The Temporal schema tool'),
    schemaDir,
    uiServer: required('TEMPORAL_UI_SERVER_PATH', join(TEMPORAL_HOME, 'ui-server', 'temporal-ui-server'), 'The Temporal Web UI server'),
  };
}
