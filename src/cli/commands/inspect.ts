import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError, ServiceError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeFromPayloadsAtIndex, decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { SagaStatus } from '@saga-temporal/saga';
import { querySagaState, table } from '../../report';
import { verificationStateQuery } from '../../registration/contract';
import { SagaStatusKey } from '../../shared/search-attributes';
import { terminalSafeDeep, terminalSafeJson, terminalSafeLines } from '../terminal-safe';
import { findSaga, printLine, printRecords, printResult, positiveIntFlag, SAGA_REF_HELP, stringFlag, webUiUrl, type CommandContext, type CommandSpec, type Flags } from '../command';
import { CliError, ExitCode, UsageError } from '../errors';
import { assertOneExpression, inUserTerms } from '../visibility-query';
import { CompensationLog, renderStatus, type ActivityTry, type StatusView, type TerminationView } from '../status-screen';
import { reconcileWorkflowId, type ReconcileResult } from '../../reconciler/contract';
import { readTermination } from '../../reconciler/terminate';
import { carrierHeartbeatOf } from '../../carrier/progress';

// The commands that only read: one saga's steps and compensations, and the sagas a visibility query
// finds (listed or counted).

const ActivityState = temporal.api.enums.v1.PendingActivityState;
const ACTIVITY_STATES: Record<number, ActivityTry['state']> = {
  [ActivityState.PENDING_ACTIVITY_STATE_SCHEDULED]: 'waiting',
  [ActivityState.PENDING_ACTIVITY_STATE_STARTED]: 'running',
  [ActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED]: 'cancelling',
  [ActivityState.PENDING_ACTIVITY_STATE_PAUSED]: 'paused',
};

type PendingActivity = temporal.api.workflow.v1.IPendingActivityInfo;

/** A pending activity as the status screen shows it; its last failure decoded with the client's codec. */
async function activityTry(client: Client, pending: PendingActivity): Promise<ActivityTry> {
  const state = ACTIVITY_STATES[pending.state ?? 0] ?? 'waiting';
  const since = optionalTsToDate(state === 'running' ? pending.lastStartedTime : pending.scheduledTime);
  let lastFailure: ActivityTry['lastFailure'];
  if (pending.lastFailure) {
    const error = await decodeOptionalFailureToOptionalError(client.workflow.options.loadedDataConverter, pending.lastFailure).catch(() => undefined);
    const type = error instanceof ApplicationFailure ? (error.type ?? undefined) : error?.name;
    lastFailure = { message: error?.message ?? pending.lastFailure.message ?? 'failed', ...(type ? { type } : {}) };
  }
  // A step whose command is at the broker: the worker heartbeats the carrier's delivery count.
  const details = pending.heartbeatDetails?.payloads?.length
    ? await decodeFromPayloadsAtIndex(client.workflow.options.loadedDataConverter, 0, pending.heartbeatDetails.payloads).catch(() => undefined)
    : undefined;
  const carrier = carrierHeartbeatOf(details)?.carrier;
  return {
    name: pending.activityType?.name ?? '?',
    try: pending.attempt ?? 1,
    state,
    ...(since ? { since: since.toISOString() } : {}),
    ...(lastFailure ? { lastFailure } : {}),
    ...(carrier ? { carrierDeliveries: carrier.deliveries } : {}),
  };
}

async function statusView(ctx: CommandContext, client: Client, handle: WorkflowHandle): Promise<StatusView> {
  const d = await handle.describe();
  const state = await querySagaState(client, handle);
  const activities = await Promise.all((d.raw.pendingActivities ?? []).map((pending) => activityTry(client, pending)));
  // A registration that waits for its code says so, and until when: its steps alone do not.
  const verification =
    d.type === 'registrationSaga' && d.status.name === 'RUNNING'
      ? await client.connection.withDeadline(Date.now() + 3_000, () => handle.query(verificationStateQuery)).catch(() => undefined)
      : undefined;
  return {
    workflowId: handle.workflowId,
    runId: d.runId,
    type: d.type,
    workflowStatus: d.status.name,
    sagaStatus: d.typedSearchAttributes.get(SagaStatusKey),
    summary: await d.staticSummary(),
    state,
    ...(state ? {} : { stateUnavailable: 'no worker answered the state query; is the worker running?' }),
    activities,
    ...(verification ? { verification } : {}),
    ...(d.status.name === 'TERMINATED' ? { termination: await terminationView(client, handle.workflowId, d.runId) } : {}),
    uiUrl: webUiUrl(ctx, handle.workflowId),
  };
}

/** Who terminated the saga and why, and what its reconciliation did, if it ran. */
async function terminationView(client: Client, workflowId: string, runId: string): Promise<TerminationView | undefined> {
  const termination = await readTermination(client, workflowId, runId);
  if (!termination) return undefined;
  const view: TerminationView = { reason: termination.reason, identity: termination.identity };
  if (termination.kept) view.kept = { by: termination.kept.by, reason: termination.kept.reason };
  const reconciliation = client.workflow.getHandle<() => Promise<ReconcileResult>>(reconcileWorkflowId(workflowId, runId));
  const closed = await reconciliation.describe().then(
    (r) => r.status.name === 'COMPLETED',
    () => false,
  );
  if (closed) {
    const { outcome, undone, needsOperator, finished, forwardGaveUp } = await reconciliation.result();
    view.reconciled = { outcome, undone, needsOperator, ...(finished?.length ? { finished } : {}), ...(forwardGaveUp?.length ? { forwardGaveUp } : {}) };
  }
  return view;
}

/** A saga stops changing by itself once the workflow closed or it waits for an operator. */
function settled(view: StatusView): boolean {
  return view.workflowStatus !== 'RUNNING' || (view.state?.status ?? view.sagaStatus) === SagaStatus.COMPENSATION_FAILED;
}

/** `saga-client status <id>`: a saga's steps and compensations, redrawn with `--watch`. */
export const status: CommandSpec = {
  name: 'status',
  args: ['<id>'],
  summary: "Show a saga's steps and compensations as a table, with their times and tries",
  details: [
    SAGA_REF_HELP,
    'With --watch it redraws on every change until the saga ends or waits for an operator; Ctrl-C stops watching.',
    'On a terminal the running times tick at every poll; in a pipe a frame is added only when something changed.',
    'Under -o jsonl, --watch prints one JSON object per change.',
    '-w is --workflow-id, as in the temporal CLI: --watch has no short form.',
  ],
  options: [
    { name: 'watch', type: 'boolean', doc: 'Redraw live until the saga ends' },
    { name: 'interval', type: 'string', arg: '<ms>', doc: 'Time between polls with --watch (default 1000)' },
  ],
  async run(ctx, flags, [ref = '']) {
    const interval = positiveIntFlag(flags, 'interval', 1_000, 'status');
    const { client, handle } = await findSaga(ctx, ref);
    const log = new CompensationLog();
    let last = '';
    for (;;) {
      const view = await statusView(ctx, client, handle);
      if (view.state) log.observe(view.state.steps, view.activities);
      // What the saga says, without the clock: a change of it is a change worth a new frame.
      const json = JSON.stringify({ ...view, compensationTries: log.entries() }, null, flags.watch || ctx.output === 'jsonl' ? undefined : 2);
      const changed = json !== last;
      if (ctx.json) {
        if (changed) ctx.io.stdout(`${terminalSafeJson(json)}\n`);
      } else {
        // Sanitised field by field, so a line break inside a message cannot start a line of its own.
        const frame = terminalSafeLines(renderStatus(terminalSafeDeep(view), { log, width: ctx.io.isTTY && ctx.io.columns ? ctx.io.columns : 100 }));
        if (!flags.watch) ctx.io.stdout(`${frame}\n`);
        // On a terminal the frame replaces the previous one; in a pipe or log each change is appended.
        else if (ctx.io.isTTY) ctx.io.stdout(`\x1b[H\x1b[2J${frame}\n`);
        else if (changed) ctx.io.stdout(`${last ? '\n' : ''}${frame}\n`);
      }
      last = json;
      if (!flags.watch || settled(view)) {
        if (flags.watch && !ctx.json && view.workflowStatus === 'RUNNING') {
          printLine(ctx, `\nThe saga waits for an operator: ${ctx.invokedAs} retry-compensation ${view.workflowId} [--step <name>], skip-compensation ${view.workflowId} --step <name> --reason "…", or mark-compensated ${view.workflowId} --reason "…"`);
        }
        return ExitCode.OK;
      }
      try {
        await sleep(interval, undefined, { signal: ctx.io.signal });
      } catch {
        return ExitCode.OK;
      }
    }
  },
};

const SAGA_TYPES: Record<string, string> = { order: 'orderSaga', registration: 'registrationSaga' };
const SAGA_STATUSES = Object.values(SagaStatus) as string[];

/** The flags `list` and `count` share: which sagas a visibility query finds. */
const queryOptions: CommandSpec['options'] = [
  { name: 'status', type: 'string', short: 's', arg: '<STATUS>', doc: 'Only sagas in this saga status' },
  { name: 'type', type: 'string', arg: '<order|registration>', doc: 'Only this kind of saga' },
  { name: 'query', type: 'string', short: 'q', arg: '<query>', doc: "A visibility query, ANDed with the others, e.g. \"StartTime > '2026-11-01T00:00:00Z'\"" },
];

/** The visibility query of `--type`, `--status` and `--query`, and the saga status asked for. */
function sagaQuery(flags: Flags, command: string): { query: string; wantedStatus: string | undefined; userQuery: string | undefined } {
  const wantedStatus = stringFlag(flags, 'status')?.toUpperCase();
  if (wantedStatus !== undefined && !SAGA_STATUSES.includes(wantedStatus)) {
    throw new UsageError(`--status must be one of ${SAGA_STATUSES.join(', ')} (got "${stringFlag(flags, 'status')}")`, command);
  }
  const kind = stringFlag(flags, 'type');
  if (kind !== undefined && !SAGA_TYPES[kind]) throw new UsageError(`--type must be order or registration (got "${kind}")`, command);
  const extra = stringFlag(flags, 'query')?.trim();
  if (extra === '') throw new UsageError('--query is empty', command);
  // Checked here, where a position is one in the user's own text, before it joins the type filter.
  if (extra !== undefined) assertOneExpression(extra, command);
  const types = kind ? [SAGA_TYPES[kind]] : Object.values(SAGA_TYPES);
  const query = [
    `(${types.map((t) => `WorkflowType = '${t}'`).join(' OR ')})`,
    ...(wantedStatus ? [`${SagaStatusKey.name} = '${wantedStatus}'`] : []),
    ...(extra ? [`(${extra})`] : []),
  ].join(' AND ');
  return { query, wantedStatus, userQuery: extra };
}

const GRPC_INVALID_ARGUMENT = 3;

function invalidArgument(err: unknown): string | undefined {
  const grpc = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : isGrpcServiceError(err) ? err : undefined;
  return grpc?.code === GRPC_INVALID_ARGUMENT ? (grpc.details || grpc.message).replace(/\s*\n\s*/g, '; ') : undefined;
}

/** Runs a visibility call; the server's refusal of the query becomes one usage line (exit code 2). */
async function visibility<T>(call: () => Promise<T>, command: string, userQuery: string | undefined): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const why = invalidArgument(err);
    if (why !== undefined) throw new CliError(`The server refused the visibility query: ${inUserTerms(why, userQuery)} (see \`client ${command} --help\`)`, ExitCode.USAGE);
    throw err;
  }
}

interface ListRow {
  workflowId: string;
  runId: string;
  type: string;
  sagaStatus: string | null;
  workflowStatus: string;
  startTime: string;
  closeTime: string | null;
  uiUrl: string;
}

/** `saga-client list`: sagas newest first, by type, saga status and visibility query. */
export const list: CommandSpec = {
  name: 'list',
  args: [],
  summary: 'List sagas, newest first, optionally by saga status or visibility query',
  details: [`Saga statuses: ${SAGA_STATUSES.join(', ')}.`, 'Visibility is eventually consistent: a saga started a moment ago may show a second later.', 'Under -o jsonl, one saga per line.'],
  options: [...queryOptions, { name: 'limit', type: 'string', arg: '<n>', doc: 'At most this many (default 20)' }],
  async run(ctx, flags) {
    const limit = positiveIntFlag(flags, 'limit', 20, 'list');
    const { query, wantedStatus, userQuery } = sagaQuery(flags, 'list');
    const client = await ctx.client();
    const rows = await visibility(async () => {
      const found: ListRow[] = [];
      for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
        found.push({
          workflowId: info.workflowId,
          runId: info.runId,
          type: info.type,
          sagaStatus: info.typedSearchAttributes.get(SagaStatusKey) ?? null,
          workflowStatus: info.status.name,
          startTime: info.startTime.toISOString(),
          closeTime: info.closeTime?.toISOString() ?? null,
          uiUrl: webUiUrl(ctx, info.workflowId),
        });
        if (found.length >= limit) break;
      }
      return found;
    }, 'list', userQuery);
    printRecords(ctx, rows, () =>
      rows.length === 0
        ? [`No sagas${wantedStatus ? ` in status ${wantedStatus}` : ''}.`]
        : [
            table(
              ['WORKFLOW ID', 'TYPE', 'SAGA STATUS', 'WORKFLOW', 'STARTED'],
              rows.map((r) => [r.workflowId, r.type, r.sagaStatus ?? '-', r.workflowStatus, r.startTime.replace('T', ' ').slice(0, 19)]),
            ),
          ],
    );
    return ExitCode.OK;
  },
};

/** The value of a group of a `GROUP BY` count: the SDK gives a keyword as a string or a one-element list. */
function groupValue(values: readonly unknown[]): string | null {
  const v = values[0];
  const first = Array.isArray(v) ? (v[0] as unknown) : v;
  return typeof first === 'string' ? first : null;
}

/**
 * The number of sagas per saga status. `GROUP BY` where the server groups by a custom attribute;
 * servers that group by `ExecutionStatus` only (the dev server's SQLite visibility among them) refuse
 * it, and then each status is counted on its own.
 */
async function countByStatus(client: Client, query: string): Promise<Record<string, number>> {
  const byStatus: Record<string, number> = Object.fromEntries(SAGA_STATUSES.map((s) => [s, 0]));
  try {
    const { groups } = await client.workflow.count(`${query} GROUP BY ${SagaStatusKey.name}`);
    for (const g of groups) {
      const value = groupValue(g.groupValues);
      if (value !== null) byStatus[value] = g.count;
    }
    return byStatus;
  } catch (err) {
    if (invalidArgument(err) === undefined) throw err;
  }
  const counts = await Promise.all(SAGA_STATUSES.map((s) => client.workflow.count(`${query} AND ${SagaStatusKey.name} = '${s}'`)));
  SAGA_STATUSES.forEach((s, i) => (byStatus[s] = counts[i]?.count ?? 0));
  return byStatus;
}

/** `saga-client count`: how many sagas a query finds, per saga status unless one is asked for. */
export const count: CommandSpec = {
  name: 'count',
  args: [],
  summary: 'Count sagas, per saga status or in one status, optionally by visibility query',
  details: [`Saga statuses: ${SAGA_STATUSES.join(', ')}.`, 'With --status it prints the number alone; without, the total and the count of each saga status.'],
  options: queryOptions,
  async run(ctx, flags) {
    const { query, wantedStatus, userQuery } = sagaQuery(flags, 'count');
    const client = await ctx.client();
    // The total first: it is also what tells a malformed --query from a server that cannot group.
    const { count: total } = await visibility(() => client.workflow.count(query), 'count', userQuery);
    if (wantedStatus) {
      printResult(ctx, { query, count: total }, String(total));
      return ExitCode.OK;
    }
    const byStatus = await countByStatus(client, query);
    const counted = Object.values(byStatus).reduce((a, b) => a + b, 0);
    // Sagas whose workflow started but has not written its status yet belong to no status.
    const rows = [...Object.entries(byStatus), ...(total > counted ? [['(none yet)', total - counted] as const] : [])];
    printResult(ctx, { query, count: total, byStatus }, table(['SAGA STATUS', 'COUNT'], [...rows.map(([s, n]) => [s, String(n)]), ['total', String(total)]]));
    return ExitCode.OK;
  },
};
