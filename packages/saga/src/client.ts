// The operator's side of a saga, for code outside workflows: read a saga's state, retry its
// compensations (all or some), skip one done by hand, declare it compensated by hand, list sagas by status. Runs in Node with
// @temporalio/client; never import it from workflow code.

import { WorkflowClient, WorkflowUpdateFailedError, WorkflowUpdateStage, type Client, type WorkflowClientInterceptor } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { DEFAULT_SAGA_STATUS_ATTRIBUTE, sagaHandlerNames, type SagaHandlerNames } from './handler-names';
import { sagaStatusKey, type SagaStatusAttributeKey } from './search-attributes';
import { SagaStatus, type RetryCompensationInput, type SagaState, type SkipCompensationInput } from './types';

/** Options of a {@link SagaClient}; they must match the `SagaOptions` the sagas run with. */
export interface SagaClientOptions {
  /** Keyword search attribute the sagas write their status to. @default 'SagaStatus' */
  searchAttribute?: string;
  /** Names of the state query and the operator updates. @default the `Saga` defaults */
  names?: Partial<SagaHandlerNames>;
  /** How long to wait for a worker to answer the state query before falling back to the search attribute, in ms. @default 3000 */
  queryTimeoutMs?: number;
}

/** Thrown when no workflow has the given id (and run id). */
export class SagaNotFoundError extends Error {
  override readonly name = 'SagaNotFoundError';
  constructor(
    readonly workflowId: string,
    readonly runId: string | undefined,
  ) {
    super(`No saga with workflow id ${workflowId}${runId ? ` and run id ${runId}` : ''}`);
  }
}

/** Thrown when the saga refused an operator update: it is not waiting in `COMPENSATION_FAILED`, or the input was invalid. */
export class SagaUpdateRejectedError extends Error {
  override readonly name = 'SagaUpdateRejectedError';
  constructor(
    readonly workflowId: string,
    readonly update: string,
    readonly reason: string,
  ) {
    super(`Saga ${workflowId} refused ${update}: ${reason}`);
  }
}

/** Thrown before any call to the server when an argument cannot be right (an unknown status, an empty reason, a step named twice). */
export class SagaClientUsageError extends Error {
  override readonly name = 'SagaClientUsageError';
}

/** A saga's state as far as it can be read: the full state from a worker, else the status from the search attribute. */
export type SagaReading =
  | { source: 'query'; workflowId: string; status: SagaStatus; state: SagaState }
  | { source: 'search-attribute'; workflowId: string; status: SagaStatus | undefined; workflowStatus: string };

/** One saga of a {@link SagaClient.list} result. */
export interface SagaListEntry {
  workflowId: string;
  runId: string;
  /** Workflow type, e.g. `orderSaga`. */
  type: string;
  /** The saga status from the search attribute; `undefined` for a workflow that never wrote it. */
  status: SagaStatus | undefined;
  /** Temporal's status of the execution (`RUNNING`, `COMPLETED`, `FAILED`, …). */
  workflowStatus: string;
  startTime: Date;
  closeTime: Date | undefined;
}

/** Filter of {@link sagaListQuery} and {@link SagaClient.list}. */
export interface SagaListFilter {
  /** Only sagas in this status. @default any */
  status?: SagaStatus;
  /** Only workflows of these types. @default any */
  workflowTypes?: readonly string[];
  /** Search attribute holding the saga status. @default 'SagaStatus' */
  searchAttribute?: string;
}

const statuses = Object.values(SagaStatus) as string[];

function quote(value: string): string {
  if (/['"\\\n]/.test(value)) throw new SagaClientUsageError(`Cannot put ${JSON.stringify(value)} in a visibility query: quotes, backslashes and newlines are not allowed`);
  return `'${value}'`;
}

/**
 * A visibility query listing sagas by status and workflow type, e.g.
 * `(WorkflowType = 'orderSaga') AND SagaStatus = 'COMPENSATION_FAILED'`; the empty string when there is no filter.
 */
export function sagaListQuery(filter: SagaListFilter = {}): string {
  const attribute = filter.searchAttribute ?? DEFAULT_SAGA_STATUS_ATTRIBUTE;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(attribute)) throw new SagaClientUsageError(`${JSON.stringify(attribute)} is not a search attribute name`);
  const parts: string[] = [];
  if (filter.workflowTypes !== undefined) {
    if (filter.workflowTypes.length === 0) throw new SagaClientUsageError('workflowTypes is empty: leave it out to list every type');
    parts.push(`(${filter.workflowTypes.map((t) => `WorkflowType = ${quote(t)}`).join(' OR ')})`);
  }
  if (filter.status !== undefined) {
    if (!statuses.includes(filter.status)) throw new SagaClientUsageError(`Unknown saga status ${JSON.stringify(filter.status)}: use one of ${statuses.join(', ')}`);
    parts.push(`${attribute} = ${quote(filter.status)}`);
  }
  return parts.join(' AND ');
}

// The steps of a partial retry, checked before anything is sent: the saga would refuse the same list.
function stepList(steps: readonly string[]): string[] {
  if (!Array.isArray(steps) || steps.some((s) => typeof s !== 'string' || s.trim() === '')) throw new SagaClientUsageError('steps must be a list of step names');
  if (steps.length === 0) throw new SagaClientUsageError('steps is empty: name at least one step, or leave steps out to retry every failed compensation');
  const twice = steps.find((s, i) => steps.indexOf(s) !== i);
  if (twice !== undefined) throw new SagaClientUsageError(`step "${twice}" is named twice`);
  return [...steps];
}

/**
 * Operator helper over a Temporal `Client`. Every method takes the saga's workflow id (and optionally
 * a run id; by default the latest run) and throws {@link SagaNotFoundError} when there is no such workflow.
 *
 * @example
 * const sagas = new SagaClient(client);
 * for await (const s of sagas.list({ status: 'COMPENSATION_FAILED' })) await sagas.retryCompensation(s.workflowId);
 */
export class SagaClient {
  private readonly names: SagaHandlerNames;
  private readonly key: SagaStatusAttributeKey;
  private readonly queryTimeoutMs: number;
  private readonly updates: WorkflowClient;
  private readonly refusedAtStart = new Set<string>();

  constructor(
    readonly client: Client,
    options: SagaClientOptions = {},
  ) {
    this.names = sagaHandlerNames(options.names);
    this.key = sagaStatusKey(options.searchAttribute);
    this.queryTimeoutMs = options.queryTimeoutMs ?? 3000;
    // The SDK hands back the handle of an update the saga refused at once, instead of throwing: only
    // the interceptor sees that its outcome came with the acceptance. The client's own interceptors stay.
    const own = client.workflow.options.interceptors;
    const noteRefusal: WorkflowClientInterceptor = {
      startUpdate: async (input, next) => {
        const output = await next(input);
        if (output.outcome?.failure) this.refusedAtStart.add(output.updateId);
        return output;
      },
    };
    this.updates = new WorkflowClient({
      connection: client.connection,
      namespace: client.workflow.options.namespace,
      dataConverter: client.workflow.options.dataConverter,
      identity: client.workflow.options.identity,
      interceptors: [...(Array.isArray(own) ? own : []), noteRefusal],
    });
  }

  /** The saga's full state from its state query; when no worker answers in time, its status from the search attribute. */
  async state(workflowId: string, runId?: string): Promise<SagaReading> {
    const handle = this.client.workflow.getHandle(workflowId, runId);
    try {
      const state = await this.client.connection.withDeadline(Date.now() + this.queryTimeoutMs, () => handle.query<SagaState>(this.names.state));
      return { source: 'query', workflowId, status: state.status, state };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new SagaNotFoundError(workflowId, runId);
    }
    const described = await this.guard(workflowId, runId, () => handle.describe());
    return { source: 'search-attribute', workflowId, status: described.typedSearchAttributes.get(this.key) as SagaStatus | undefined, workflowStatus: described.status.name };
  }

  /**
   * Asks a saga waiting in `COMPENSATION_FAILED` to run its failed compensations again (only those of
   * `steps` when given; the others stay failed) and resolves with its state after that round
   * (`wait: false`: once it accepted). The saga refuses a step whose compensation did not fail.
   */
  async retryCompensation(workflowId: string, options: { runId?: string; wait?: boolean; steps?: readonly string[] } = {}): Promise<SagaState | undefined> {
    const input: RetryCompensationInput | undefined = options.steps === undefined ? undefined : { steps: stepList(options.steps) };
    const handle = this.updates.getHandle(workflowId, options.runId);
    const name = this.names.retryCompensation;
    const update = await this.update(workflowId, options.runId, name, async () => {
      const waitForStage = WorkflowUpdateStage.ACCEPTED;
      // No argument at all when every failed compensation is meant, as before steps existed.
      const started = input
        ? await handle.startUpdate<SagaState, [RetryCompensationInput]>(name, { args: [input], waitForStage })
        : await handle.startUpdate<SagaState, []>(name, { waitForStage });
      // Refused: the outcome is already here, so `result()` throws the saga's reason without waiting.
      if (this.refusedAtStart.delete(started.updateId)) await started.result();
      return started;
    });
    if (options.wait === false) return undefined;
    return this.update(workflowId, options.runId, this.names.retryCompensation, () => update.result());
  }

  /** Declares a saga waiting in `COMPENSATION_FAILED` compensated after a repair by hand; `reason` (what was repaired, and how) is kept as its operator note. */
  async markCompensated(workflowId: string, reason: string, options: { runId?: string } = {}): Promise<SagaState> {
    if (typeof reason !== 'string' || reason.trim() === '') throw new SagaClientUsageError('markCompensated needs a reason: what was repaired, and how');
    const handle = this.client.workflow.getHandle(workflowId, options.runId);
    return this.update(workflowId, options.runId, this.names.markCompensated, () => handle.executeUpdate<SagaState, [{ reason: string }]>(this.names.markCompensated, { args: [{ reason }] }));
  }

  /**
   * Tells a saga waiting in `COMPENSATION_FAILED` that the failed compensation of `step` was done by
   * hand; `reason` (what was repaired, and how) is kept on that step. Resolves with the saga's state: it
   * ends `COMPENSATED` once no failed compensation remains, and keeps waiting otherwise.
   */
  async skipCompensation(workflowId: string, step: string, reason: string, options: { runId?: string } = {}): Promise<SagaState> {
    if (typeof step !== 'string' || step.trim() === '') throw new SagaClientUsageError('skipCompensation needs the step whose compensation was done by hand');
    if (typeof reason !== 'string' || reason.trim() === '') throw new SagaClientUsageError('skipCompensation needs a reason: what was repaired by hand, and how');
    const handle = this.client.workflow.getHandle(workflowId, options.runId);
    return this.update(workflowId, options.runId, this.names.skipCompensation, () =>
      handle.executeUpdate<SagaState, [SkipCompensationInput]>(this.names.skipCompensation, { args: [{ step, reason }] }),
    );
  }

  /** Sagas matching the filter, newest first, as the server's visibility store sees them (eventually consistent). */
  async *list(filter: Omit<SagaListFilter, 'searchAttribute'> & { pageSize?: number } = {}): AsyncIterable<SagaListEntry> {
    const query = sagaListQuery({ ...filter, searchAttribute: this.key.name });
    for await (const info of this.client.workflow.list({ query, ...(filter.pageSize === undefined ? {} : { pageSize: filter.pageSize }) })) {
      yield {
        workflowId: info.workflowId,
        runId: info.runId,
        type: info.type,
        status: info.typedSearchAttributes.get(this.key) as SagaStatus | undefined,
        workflowStatus: info.status.name,
        startTime: info.startTime,
        closeTime: info.closeTime,
      };
    }
  }

  private async guard<T>(workflowId: string, runId: string | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new SagaNotFoundError(workflowId, runId);
      throw err;
    }
  }

  private async update<T>(workflowId: string, runId: string | undefined, name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new SagaUpdateRejectedError(workflowId, name, err.cause?.message ?? err.message);
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    // The server answers an update to a closed workflow as if there were no workflow: tell them apart.
    const described = await this.guard(workflowId, runId, () => this.client.workflow.getHandle(workflowId, runId).describe());
    throw new SagaUpdateRejectedError(workflowId, name, `the workflow has closed (${described.status.name}); only a running saga waiting in ${SagaStatus.COMPENSATION_FAILED} accepts it`);
  }
}
