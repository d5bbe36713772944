// How a version's workers learn that they are retired. `npm run deploy -- retire` writes a mark into
// the version's metadata on the server once nothing is pinned to it; every worker of that version
// reads its metadata now and then, and shuts down (draining its tasks) when it finds the mark. The
// workers may run on any number of machines: the server is the one place they all read.
import type { temporal } from '@temporalio/proto';
import type { DeploymentVersion } from './version';

type WorkflowService = temporal.api.workflowservice.v1.WorkflowService;

/** The metadata key of the retirement mark; its value is the time of the retirement, as JSON. */
export const RETIRED_KEY = 'saga-temporal.retired';

/** How often a versioned worker reads its version's metadata. @default 10_000 ms */
export const DEFAULT_RETIREMENT_CHECK_MS = 10_000;

/** The retirement mark as a payload, for `updateWorkerDeploymentVersionMetadata`. */
export function retirementMark(at: Date): temporal.api.common.v1.IPayload {
  return { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(at.toISOString())) };
}

/** Whether the server holds the retirement mark for `version`. A version the server does not know is not retired. */
export async function isRetired(service: WorkflowService, namespace: string, version: DeploymentVersion): Promise<boolean> {
  try {
    const { workerDeploymentVersionInfo } = await service.describeWorkerDeploymentVersion({ namespace, deploymentVersion: version });
    return Boolean(workerDeploymentVersionInfo?.metadata?.entries?.[RETIRED_KEY]);
  } catch {
    // A failed read (the server restarting, a version not yet registered) is not a retirement.
    return false;
  }
}

/**
 * Resolves once `version` is marked retired, reading every `intervalMs`; stops reading (and never
 * resolves) once `signal` aborts.
 */
export function watchRetirement(opts: { service: WorkflowService; namespace: string; version: DeploymentVersion; intervalMs?: number; signal: AbortSignal }): Promise<void> {
  const { service, namespace, version, signal } = opts;
  const intervalMs = opts.intervalMs ?? DEFAULT_RETIREMENT_CHECK_MS;
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const check = async () => {
      if (signal.aborted) return;
      if (await isRetired(service, namespace, version)) {
        if (!signal.aborted) resolve();
        return;
      }
      if (!signal.aborted) timer = setTimeout(() => void check(), intervalMs);
    };
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    timer = setTimeout(() => void check(), intervalMs);
  });
}
