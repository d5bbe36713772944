// What names a version of the saga worker fleet: the Worker Deployment it belongs to and its build id,
// and the default build id, which changes exactly when the workflow code does.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One version of a Worker Deployment. */
export interface DeploymentVersion {
  /** The Worker Deployment, e.g. "saga-temporal". */
  deploymentName: string;
  /** The build id, e.g. "0.1.0-3f2a9c41d0be". */
  buildId: string;
}

/** How the server names a version in visibility (`TemporalWorkerDeploymentVersion`) and in the CLI's output: `<deployment>:<build id>`. */
export function versionKey(version: DeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}

/** The `version` field of the project's package.json (read from disk, so sources and compiled output agree). */
export function packageVersion(): string {
  const path = [join(__dirname, '..', '..', 'package.json'), join(__dirname, '..', 'package.json')].find((candidate) => {
    try {
      return (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'saga-temporal';
    } catch {
      return false;
    }
  });
  if (!path) throw new Error(`No package.json of saga-temporal above ${__dirname}`);
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

/**
 * The build id a worker takes when `SAGA_BUILD_ID` is unset: the package version and the first 12 hex
 * digits of the SHA-256 of the workflow bundle. Two workers running the same workflow code share it;
 * any change of that code, however small, makes a new version (a change of activities alone does not:
 * activities are not replayed, and a new version for them would pin sagas for nothing).
 */
export function derivedBuildId(version: string, bundleCode: string): string {
  return `${version}-${createHash('sha256').update(bundleCode).digest('hex').slice(0, 12)}`;
}
