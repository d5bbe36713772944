// What a saga worker says about itself in its poller identity, and the checks that read it back from
// the task queue's pollers: a worker refuses to join a task queue served by a worker on another
// database (a saga's steps would then run against two databases), and a client learns there whether
// the workers expect encrypted payloads before it starts anything.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { temporal } from '@temporalio/proto';

type WorkflowService = temporal.api.workflowservice.v1.WorkflowService;

/**
 * How long after its last poll a poller still counts as serving the queue. A live worker always has
 * a long poll open and polls again as soon as one returns (at the latest after about a minute), while
 * the server keeps listing a stopped worker for several minutes.
 */
export const LIVE_POLLER_WINDOW_MS = 90_000;

/** What a saga worker's identity carries: its database fingerprint and whether it encrypts payloads. */
export interface WorkerTraits {
  /** {@link databaseFingerprint} of the worker's database. */
  database: string;
  /** Whether the worker's codec encrypts payloads (and refuses plaintext unless told otherwise). */
  encrypted: boolean;
}

/**
 * A short hash that tells databases apart without naming them: the identity is visible to anyone who
 * can describe the task queue, and a URL may hold a host name or a password. A SQLite file is local to
 * its machine, so its fingerprint includes the host and the absolute path; a PostgreSQL URL keeps its
 * host, port and database, not its user or password.
 */
export function databaseFingerprint(databaseUrl: string, host: string = hostname(), cwd: string = process.cwd()): string {
  let canonical: string;
  if (databaseUrl.startsWith('sqlite:')) {
    canonical = `sqlite:${host}:${resolve(cwd, databaseUrl.slice('sqlite:'.length))}`;
  } else {
    const url = new URL(databaseUrl);
    canonical = `postgres://${url.hostname}:${url.port || '5432'}${url.pathname}`;
  }
  return createHash('sha256').update(canonical).digest('hex').slice(0, 6);
}

/** The worker's identity, e.g. `saga-worker 1234@host db:ab12cd enc`: the SDK's `pid@host` and the traits. */
export function workerIdentity(traits: WorkerTraits, host: string = hostname()): string {
  return `saga-worker ${process.pid}@${host} db:${traits.database}${traits.encrypted ? ' enc' : ''}`;
}

/** The traits in a saga worker's identity; undefined for any other poller (a worker of an older release, a tool). */
export function parseWorkerIdentity(identity: string): WorkerTraits | undefined {
  const match = /^saga-worker \S+ db:([0-9a-f]{6})( enc)?$/.exec(identity);
  return match?.[1] ? { database: match[1], encrypted: Boolean(match[2]) } : undefined;
}

/** A poller of the task queue seen within {@link LIVE_POLLER_WINDOW_MS}. */
export interface LivePoller {
  identity: string;
  /** Milliseconds since its last poll. */
  ageMs: number;
}

/** The pollers of the task queue's workflow tasks that are still serving it. */
export async function livePollers(service: WorkflowService, namespace: string, taskQueue: string, now: number = Date.now()): Promise<LivePoller[]> {
  const { pollers } = await service.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (pollers ?? []).flatMap((p) => {
    const seconds = Number(p.lastAccessTime?.seconds ?? 0);
    const ageMs = now - (seconds * 1000 + Math.floor((p.lastAccessTime?.nanos ?? 0) / 1e6));
    return p.identity && ageMs <= LIVE_POLLER_WINDOW_MS ? [{ identity: p.identity, ageMs }] : [];
  });
}

/** Thrown at a worker's start when a worker on another database serves its task queue. */
export class TaskQueueTakenError extends Error {
  override readonly name = 'TaskQueueTakenError';
  constructor(
    readonly taskQueue: string,
    /** The other worker's identity, as the server lists it. */
    readonly otherWorker: string,
  ) {
    super(
      `Task queue "${taskQueue}" is served by a worker on another database (${otherWorker}): a saga's steps would run against both. ` +
        'Use another task queue for this worker (TEMPORAL_TASK_QUEUE=…) or stop the other stack.',
    );
  }
}

/**
 * Refuses, before the worker polls, to join a task queue that a live worker on another database
 * serves; a worker on the same database (scaling out) is welcome. Pollers without a saga identity are
 * left out: an older release during a rolling upgrade says nothing about its database.
 */
export async function checkTaskQueueDatabase(service: WorkflowService, config: { namespace: string; taskQueue: string }, database: string): Promise<void> {
  for (const poller of await livePollers(service, config.namespace, config.taskQueue)) {
    const traits = parseWorkerIdentity(poller.identity);
    if (traits && traits.database !== database) throw new TaskQueueTakenError(config.taskQueue, poller.identity);
  }
}

/** Thrown before a client without payload encryption starts a saga that the task queue's workers could not read. */
export class EncryptionRequiredError extends Error {
  override readonly name = 'EncryptionRequiredError';
  constructor(readonly taskQueue: string) {
    super(`The workers of task queue "${taskQueue}" expect encrypted payloads: set SAGA_CODEC_KEYS or --codec-endpoint (nothing was started)`);
  }
}

/**
 * Refuses, before a client without a codec starts anything, when a live saga worker of the queue
 * encrypts: it would refuse the input, and the saga would fail with `UnencryptedPayload`. With no
 * worker polling there is nobody to ask; the saga then waits for one, as any saga does.
 */
export async function checkWorkersAcceptPlaintext(service: WorkflowService, config: { namespace: string; taskQueue: string }): Promise<void> {
  const pollers = await livePollers(service, config.namespace, config.taskQueue);
  if (pollers.some((p) => parseWorkerIdentity(p.identity)?.encrypted)) throw new EncryptionRequiredError(config.taskQueue);
}
