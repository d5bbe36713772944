// The first start of a deployment: until some version is current, the server routes new sagas to no
// worker at all and they wait for ever. The first worker of a deployment without a current version
// makes its own version current; every later version becomes current only through `npm run deploy`.
import type { temporal } from '@temporalio/proto';
import type { DeploymentVersion } from './version';
import { countUnversionedPinned } from './versions';

type WorkflowService = temporal.api.workflowservice.v1.WorkflowService;

// gRPC status codes the server answers with.
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

/** What {@link adoptFirstVersion} did. */
export type Adoption =
  /** The deployment had no current version: this one is now current. */
  | 'made-current'
  /** Some version was current already (this one or another): nothing changed. */
  | 'left-as-is'
  /** Orders started on unversioned workers still run: no version is made current until they finish (see `UnversionedSagasRunningError`). */
  | 'waiting-for-unversioned'
  /** The server does not implement Worker Deployments (the time-skipping test server): the worker runs unversioned in effect. */
  | 'unsupported';

/** The gRPC status code of a failed call, from the raw error or the SDK's wrapper of it. */
export function grpcCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if ('code' in err && typeof err.code === 'number') return err.code;
  return 'cause' in err ? grpcCode(err.cause) : undefined;
}

/**
 * Makes `version` the deployment's current version when it has none (a deployment never deployed, or
 * unknown to the server), before the worker polls, unless sagas of a pinned type started on
 * unversioned workers still run on `taskQueue`: `allowNoPollers` lets the server accept a version no
 * worker has polled for yet. A deployment that has a current version is left alone.
 */
export async function adoptFirstVersion(service: WorkflowService, opts: { namespace: string; version: DeploymentVersion; identity: string; taskQueue: string }): Promise<Adoption> {
  const { namespace, version, identity, taskQueue } = opts;
  try {
    const { workerDeploymentInfo } = await service.describeWorkerDeployment({ namespace, deploymentName: version.deploymentName });
    if (workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId) return 'left-as-is';
  } catch (err) {
    if (grpcCode(err) === UNIMPLEMENTED) return 'unsupported';
    if (grpcCode(err) !== NOT_FOUND) throw err;
  }
  // The first current version would take over the orders of unversioned workers: they finish there first.
  if ((await countUnversionedPinned(service, namespace, taskQueue)) > 0) return 'waiting-for-unversioned';
  await service.setWorkerDeploymentCurrentVersion({ namespace, deploymentName: version.deploymentName, buildId: version.buildId, allowNoPollers: true, identity });
  return 'made-current';
}
