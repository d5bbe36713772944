// The worker's `workflowsPath`: every workflow type the worker registers, by name, with the versioning
// behaviour each one declares (docs/operations.md, "Pinned or auto-upgrade"). A type exported here
// without a declaration takes the worker's default, auto-upgrade (src/worker.ts, deploymentOptions).
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import type { VersioningBehavior, WorkflowDefinitionOptions } from '@temporalio/common';
import { orderSaga } from './order/workflow';
import { registrationSaga } from './registration/workflow';

/**
 * `versioningBehavior` on a worker that belongs to a deployment, nothing on one that does not: the
 * server refuses every workflow task completed with a behaviour by an unversioned worker
 * (`SAGA_WORKER_VERSIONING=false`, the tests' plain workers). An unversioned worker still has a build
 * id, but no deployment name.
 */
function onVersionedWorkers(versioningBehavior: VersioningBehavior): () => WorkflowDefinitionOptions {
  return () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior } : {});
}

// Minutes long, and held for an operator only when a compensation fails: an order finishes on the
// code that started it, so a change of its steps needs no patch and old branches can be dropped once
// their version is drained.
setWorkflowOptions(onVersionedWorkers('PINNED'), orderSaga);
// Waits up to 30 days for a code: pinning would keep every version alive for a month. It moves to
// each new version at its next workflow task, so every change of its commands needs a patch.
setWorkflowOptions(onVersionedWorkers('AUTO_UPGRADE'), registrationSaga);

export { orderSaga, registrationSaga };
export { reconcileSaga, reconcileSweep } from './reconciler/workflow';
