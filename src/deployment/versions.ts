// What `npm run deploy` reads and changes on the server: a deployment's versions, where new sagas go
// (current and ramping), how many sagas each version still holds pinned, and the three moves of a
// deploy: ramp, promote, retire. Each move checks what it needs before it changes anything.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { RETIRED_KEY, retirementMark } from './retirement';
import { versionKey, type DeploymentVersion } from './version';

const VersionStatus = temporal.api.enums.v1.WorkerDeploymentVersionStatus;

/** Where a version stands, as the server says (the CLI's `worker deployment describe` prints the same words in capitals). */
export type VersionState = 'current' | 'ramping' | 'draining' | 'drained' | 'inactive' | 'unknown';

/** One version of a deployment, with the sagas it still holds. */
export interface VersionReport {
  buildId: string;
  state: VersionState;
  /** Running sagas pinned to this version: they finish on its workers and on no other. */
  pinnedRunning: number;
  /** Whether `npm run deploy -- retire` marked it (its workers stop by themselves). */
  retired: boolean;
}

/** A deployment as `npm run deploy -- status` prints it. */
export interface DeploymentReport {
  deploymentName: string;
  /** Build id of the current version, if any: new sagas start there. */
  current: string | undefined;
  /** Build id and share of new sagas of the ramping version, if any. */
  ramping: { buildId: string; percentage: number } | undefined;
  /** Oldest first. */
  versions: VersionReport[];
}

/** Thrown when the server knows no deployment of that name (no worker of it ever started). */
export class DeploymentNotFoundError extends Error {
  override readonly name = 'DeploymentNotFoundError';
  constructor(readonly deploymentName: string) {
    super(`No worker deployment named ${deploymentName}: start a worker with SAGA_DEPLOYMENT_NAME=${deploymentName} first`);
  }
}

/** Thrown by a promotion or a ramp when workers of the version do not poll every task queue they must within the wait. */
export class VersionNotPollingError extends Error {
  override readonly name = 'VersionNotPollingError';
  constructor(
    readonly version: string,
    readonly taskQueues: readonly string[],
    readonly waitedMs: number,
  ) {
    super(`No worker of ${version} polls the task queue(s) ${taskQueues.join(', ')} after ${Math.round(waitedMs / 1000)} s: start its workers (SAGA_BUILD_ID) before sending it sagas`);
  }
}

/** Thrown when the deployment has no version of that build id. */
export class VersionNotFoundError extends Error {
  override readonly name = 'VersionNotFoundError';
  constructor(readonly version: string) {
    super(`The deployment has no version ${version}: see \`npm run deploy -- status\``);
  }
}

/** Thrown by a retirement while new sagas still go to the version (it is current or ramping). */
export class VersionRoutedError extends Error {
  override readonly name = 'VersionRoutedError';
  constructor(
    readonly version: string,
    readonly state: 'current' | 'ramping',
  ) {
    super(`${version} is ${state}: new sagas still start on it. Promote another version first.`);
  }
}

/** Thrown by a retirement while sagas are still pinned to the version: its workers are the only ones that can finish them. */
export class VersionInUseError extends Error {
  override readonly name = 'VersionInUseError';
  constructor(
    readonly version: string,
    readonly pinnedRunning: number,
  ) {
    super(`${version} still runs ${pinnedRunning} pinned saga${pinnedRunning === 1 ? '' : 's'}: retiring its workers would strand them. Wait until \`npm run deploy -- status\` shows 0, then retire.`);
  }
}

function stateOf(status: temporal.api.enums.v1.WorkerDeploymentVersionStatus | null | undefined): VersionState {
  switch (status) {
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT:
      return 'current';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING:
      return 'ramping';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING:
      return 'draining';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED:
      return 'drained';
    case VersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE:
      return 'inactive';
    default:
      return 'unknown';
  }
}

function isNotFound(err: unknown): boolean {
  for (let e: unknown = err; typeof e === 'object' && e !== null; e = 'cause' in e ? e.cause : undefined) {
    if ('code' in e && e.code === 5) return true;
  }
  return false;
}

/**
 * The saga types declared pinned (src/workflows.ts). A pinned type may drop an old branch without a
 * patch, so its sagas started on unversioned workers (before versioning was turned on) must finish on
 * unversioned workers: the first current version would otherwise take them over.
 */
export const PINNED_SAGA_TYPES: readonly string[] = ['orderSaga'];

/** The visibility query of the running sagas of a pinned type on `taskQueue` that unversioned workers ran and no version holds. */
export function unversionedPinnedQuery(taskQueue: string): string {
  const types = PINNED_SAGA_TYPES.map((t) => `'${t}'`).join(', ');
  // `BuildIds` holds `unversioned` once an unversioned worker has completed a workflow task of the
  // saga: a saga started before any worker ran it (a fresh deployment's first orders) is not counted.
  return `WorkflowType IN (${types}) AND TaskQueue = '${taskQueue.replace(/'/g, "''")}' AND ExecutionStatus = 'Running' AND BuildIds = 'unversioned' AND TemporalWorkerDeploymentVersion IS NULL`;
}

/** How many running sagas of a pinned type on `taskQueue` were started by unversioned workers. */
export async function countUnversionedPinned(service: Client['workflowService'], namespace: string, taskQueue: string): Promise<number> {
  const { count } = await service.countWorkflowExecutions({ namespace, query: unversionedPinnedQuery(taskQueue) });
  return Number(count ?? 0);
}

/**
 * Refuses to make the first version of a deployment current while sagas of a pinned type started on
 * unversioned workers still run: the server would move them to that version at their next workflow
 * task, and an order of an earlier release need not replay on its code.
 */
export class UnversionedSagasRunningError extends Error {
  override readonly name = 'UnversionedSagasRunningError';
  constructor(
    readonly version: string,
    readonly running: number,
  ) {
    super(
      `${running} order(s) started before versioning still run on unversioned workers; making ${version} the deployment's first current version would move them to code they may not replay on. ` +
        'Keep a worker of the previous release running with SAGA_WORKER_VERSIONING=false until they finish (npm run deploy -- status counts them), then promote.',
    );
  }
}

/**
 * The guard of a deployment's first current version (none current yet): throws
 * {@link UnversionedSagasRunningError} while unversioned sagas of a pinned type run on `taskQueue`.
 */
export async function assertNoUnversionedPinned(client: Client, version: DeploymentVersion, taskQueue: string): Promise<void> {
  if (await describeRouting(client, version.deploymentName)) return;
  const running = await countUnversionedPinned(client.workflowService, client.options.namespace, taskQueue);
  if (running > 0) throw new UnversionedSagasRunningError(versionKey(version), running);
}

/** The visibility query of the running sagas pinned to `version` (search attributes the server sets on every versioned workflow). */
export function pinnedQuery(version: DeploymentVersion): string {
  return `TemporalWorkerDeploymentVersion = '${versionKey(version)}' AND TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'`;
}

/** How many running sagas are pinned to `version`. Visibility lags the histories by up to a second or so. */
export async function countPinned(client: Client, version: DeploymentVersion): Promise<number> {
  const { count } = await client.workflow.count(pinnedQuery(version));
  return count;
}

/** The deployment's versions, where new sagas go, and the pinned sagas of each version. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentReport> {
  const { namespace } = client.options;
  const info = await client.workflowService.describeWorkerDeployment({ namespace, deploymentName }).then(
    (r) => r.workerDeploymentInfo,
    (err: unknown) => {
      throw isNotFound(err) ? new DeploymentNotFoundError(deploymentName) : err;
    },
  );
  if (!info) throw new DeploymentNotFoundError(deploymentName);
  const routing = info.routingConfig;
  const summaries = [...(info.versionSummaries ?? [])].sort((a, b) => Number(a.createTime?.seconds ?? 0) - Number(b.createTime?.seconds ?? 0));
  const versions = await Promise.all(
    summaries.map(async (summary): Promise<VersionReport> => {
      const buildId = summary.deploymentVersion?.buildId ?? '';
      const version = { deploymentName, buildId };
      // A version whose first worker has just polled is listed before it can be described.
      const describing = client.workflowService.describeWorkerDeploymentVersion({ namespace, deploymentVersion: version }).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      const [pinnedRunning, described] = await Promise.all([countPinned(client, version), describing]);
      const retired = Boolean(described?.workerDeploymentVersionInfo?.metadata?.entries?.[RETIRED_KEY]);
      return { buildId, state: stateOf(summary.status), pinnedRunning, retired };
    }),
  );
  const rampingBuildId = routing?.rampingDeploymentVersion?.buildId;
  return {
    deploymentName,
    current: routing?.currentDeploymentVersion?.buildId || undefined,
    ramping: rampingBuildId ? { buildId: rampingBuildId, percentage: routing?.rampingVersionPercentage ?? 0 } : undefined,
    versions,
  };
}

/** The task queues the server lists under `version` (those its workers have polled); none for a version it does not know. */
export async function taskQueuesOf(client: Client, version: DeploymentVersion): Promise<string[]> {
  const described = await client.workflowService.describeWorkerDeploymentVersion({ namespace: client.options.namespace, deploymentVersion: version }).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  return [...new Set((described?.workerDeploymentVersionInfo?.taskQueueInfos ?? []).map((q) => q.name ?? ''))].filter(Boolean);
}

/**
 * Waits until workers of `version` have polled every task queue in `taskQueues` and every task queue
 * of the deployment's current version (the server refuses a new version that would leave one of
 * those without workers). Throws {@link VersionNotPollingError} after `timeoutMs`.
 */
export async function waitForPollers(client: Client, version: DeploymentVersion, opts: { taskQueues: readonly string[]; timeoutMs: number; intervalMs?: number }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const current = await describeRouting(client, version.deploymentName);
  const needed = new Set([...opts.taskQueues, ...(current && current !== version.buildId ? await taskQueuesOf(client, { ...version, buildId: current }) : [])]);
  for (;;) {
    const polled = new Set(await taskQueuesOf(client, version));
    const missing = [...needed].filter((q) => !polled.has(q));
    if (missing.length === 0) return;
    if (Date.now() >= deadline) throw new VersionNotPollingError(versionKey(version), missing, opts.timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 500));
  }
}

/** Build id of the deployment's current version, if it has one (or the deployment exists). */
async function describeRouting(client: Client, deploymentName: string): Promise<string | undefined> {
  const response = await client.workflowService.describeWorkerDeployment({ namespace: client.options.namespace, deploymentName }).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  return response?.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId || undefined;
}

/** Sends `percentage` of new sagas to `version`, the rest to the current version. */
export async function rampVersion(client: Client, version: DeploymentVersion, percentage: number, identity: string): Promise<void> {
  await client.workflowService.setWorkerDeploymentRampingVersion({ namespace: client.options.namespace, deploymentName: version.deploymentName, buildId: version.buildId, percentage, identity });
}

/** Makes `version` current: every new saga starts on it, and auto-upgrading sagas move to it at their next workflow task. */
export async function promoteVersion(client: Client, version: DeploymentVersion, identity: string): Promise<void> {
  await client.workflowService.setWorkerDeploymentCurrentVersion({ namespace: client.options.namespace, deploymentName: version.deploymentName, buildId: version.buildId, identity });
}

/**
 * Marks `version` retired, so that its workers stop (src/deployment/retirement.ts). Refuses, before
 * changing anything, while the version is current or ramping ({@link VersionRoutedError}) or while
 * sagas are pinned to it ({@link VersionInUseError}).
 */
export async function retireVersion(client: Client, version: DeploymentVersion, identity: string, now: Date = new Date()): Promise<void> {
  const report = await describeDeployment(client, version.deploymentName);
  if (!report.versions.some((v) => v.buildId === version.buildId)) throw new VersionNotFoundError(versionKey(version));
  if (report.current === version.buildId) throw new VersionRoutedError(versionKey(version), 'current');
  if (report.ramping?.buildId === version.buildId) throw new VersionRoutedError(versionKey(version), 'ramping');
  const pinned = await countPinned(client, version);
  if (pinned > 0) throw new VersionInUseError(versionKey(version), pinned);
  await client.workflowService.updateWorkerDeploymentVersionMetadata({
    namespace: client.options.namespace,
    deploymentVersion: version,
    upsertEntries: { [RETIRED_KEY]: retirementMark(now) },
    identity,
  });
}
