import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { SagaStatus } from '@saga-temporal/saga';
import { querySagaState, table } from '../../report';
import { SagaStatusKey } from '../../shared/search-attributes';
import { findSaga, printJson, printLine, positiveIntFlag, SAGA_REF_HELP, stringFlag, webUiUrl, type CommandContext, type CommandSpec } from '../command';
import { ExitCode, UsageError } from '../errors';
import { renderStatus, type StatusView } from '../status-screen';

// The commands that only read: one saga's steps and compensations, and the list of sagas.

async function statusView(ctx: CommandContext, client: Client, handle: WorkflowHandle): Promise<StatusView> {
  const d = await handle.describe();
  const state = await querySagaState(client, handle);
  return {
    workflowId: handle.workflowId,
    type: d.type,
    workflowStatus: d.status.name,
    sagaStatus: d.typedSearchAttributes.get(SagaStatusKey),
    summary: await d.staticSummary(),
    state,
    ...(state ? {} : { stateUnavailable: 'no worker answered the state query; is the worker running?' }),
    uiUrl: webUiUrl(ctx, handle.workflowId),
  };
}

/** A saga stops changing by itself once the workflow closed or it waits for an operator. */
function settled(view: StatusView): boolean {
  return view.workflowStatus !== 'RUNNING' || (view.state?.status ?? view.sagaStatus) === SagaStatus.COMPENSATION_FAILED;
}

/** `saga-client status <id>`: a saga's steps and compensations, redrawn with `--watch`. */
export const status: CommandSpec = {
  name: 'status',
  args: ['<id>'],
  summary: "Show a saga's steps and compensations as a table",
  details: [SAGA_REF_HELP, 'With --watch it redraws on every change until the saga ends or waits for an operator; Ctrl-C stops watching.'],
  options: [
    { name: 'watch', type: 'boolean', short: 'w', doc: 'Redraw live until the saga ends' },
    { name: 'interval', type: 'string', arg: '<ms>', doc: 'Time between polls with --watch (default 1000)' },
  ],
  async run(ctx, flags, [ref = '']) {
    const interval = positiveIntFlag(flags, 'interval', 1_000, 'status');
    const { client, handle } = await findSaga(ctx, ref);
    let last = '';
    for (;;) {
      const view = await statusView(ctx, client, handle);
      const frame = ctx.json ? JSON.stringify(view, null, flags.watch ? undefined : 2) : renderStatus(view);
      if (frame !== last) {
        if (ctx.json || !flags.watch) ctx.io.stdout(`${frame}\n`);
        // On a terminal the frame replaces the previous one; in a pipe or log each change is appended.
        else if (ctx.io.isTTY) ctx.io.stdout(`\x1b[H\x1b[2J${frame}\n`);
        else ctx.io.stdout(`${last ? '\n' : ''}${frame}\n`);
        last = frame;
      }
      if (!flags.watch || settled(view)) {
        if (flags.watch && !ctx.json && view.workflowStatus === 'RUNNING') {
          printLine(ctx, `\nThe saga waits for an operator: saga-client retry-compensation ${view.workflowId}, or mark-compensated ${view.workflowId} --reason "…"`);
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

/** `saga-client list`: sagas newest first, by type and saga status. */
export const list: CommandSpec = {
  name: 'list',
  args: [],
  summary: 'List sagas, newest first, optionally by saga status (a visibility query on SagaStatus)',
  details: [`Saga statuses: ${Object.values(SagaStatus).join(', ')}.`, 'Visibility is eventually consistent: a saga started a moment ago may show a second later.'],
  options: [
    { name: 'status', type: 'string', short: 's', arg: '<STATUS>', doc: 'Only sagas in this saga status' },
    { name: 'type', type: 'string', arg: '<order|registration>', doc: 'Only this kind of saga' },
    { name: 'limit', type: 'string', arg: '<n>', doc: 'At most this many (default 20)' },
  ],
  async run(ctx, flags) {
    const limit = positiveIntFlag(flags, 'limit', 20, 'list');
    const wantedStatus = stringFlag(flags, 'status')?.toUpperCase();
    if (wantedStatus !== undefined && !(Object.values(SagaStatus) as string[]).includes(wantedStatus)) {
      throw new UsageError(`--status must be one of ${Object.values(SagaStatus).join(', ')} (got "${stringFlag(flags, 'status')}")`, 'list');
    }
    const kind = stringFlag(flags, 'type');
    if (kind !== undefined && !SAGA_TYPES[kind]) throw new UsageError(`--type must be order or registration (got "${kind}")`, 'list');
    const types = kind ? [SAGA_TYPES[kind]] : Object.values(SAGA_TYPES);
    const query = [`(${types.map((t) => `WorkflowType = '${t}'`).join(' OR ')})`, ...(wantedStatus ? [`${SagaStatusKey.name} = '${wantedStatus}'`] : [])].join(' AND ');
    const client = await ctx.client();
    const rows: { workflowId: string; runId: string; type: string; sagaStatus: string | null; workflowStatus: string; startTime: string; closeTime: string | null; uiUrl: string }[] = [];
    for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      rows.push({
        workflowId: info.workflowId,
        runId: info.runId,
        type: info.type,
        sagaStatus: info.typedSearchAttributes.get(SagaStatusKey) ?? null,
        workflowStatus: info.status.name,
        startTime: info.startTime.toISOString(),
        closeTime: info.closeTime?.toISOString() ?? null,
        uiUrl: webUiUrl(ctx, info.workflowId),
      });
      if (rows.length >= limit) break;
    }
    if (ctx.json) printJson(ctx, rows);
    else if (rows.length === 0) printLine(ctx, `No sagas${wantedStatus ? ` in status ${wantedStatus}` : ''}.`);
    else
      printLine(
        ctx,
        table(
          ['WORKFLOW ID', 'TYPE', 'SAGA STATUS', 'WORKFLOW', 'STARTED'],
          rows.map((r) => [r.workflowId, r.type, r.sagaStatus ?? '-', r.workflowStatus, r.startTime.replace('T', ' ').slice(0, 19)]),
        ),
      );
    return ExitCode.OK;
  },
};
