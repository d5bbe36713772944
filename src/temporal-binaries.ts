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
