import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowUpdateStage, type Client, type WorkflowHandle } from '@temporalio/client';
import type { TemporalConfig } from '../config';
import { markCompensatedUpdate, retryCompensationUpdate, SagaStatus } from '@saga-temporal/saga';
import { startOrder } from '../order/start';
import { startRegistration } from '../registration/start';
import { orderInputSchema } from '../order/contract';
import { parseOrThrow } from '../shared/validation';
import { registrationInputSchema } from '../registration/contract';
import { SagaStatusKey } from '../shared/search-attributes';
import type { OrderResult } from '../order/contract';
import { MAX_VERIFICATION_SENDS, RESEND_INTERVAL_MS, resendVerificationSignal, verificationStateQuery, verifyEmailUpdate } from '../registration/contract';
import { CliError, ExitCode, UsageError } from './errors';
import type { CliIo } from './io';
import { orderFromFlags } from './inputs';
import { querySagaState, sagaOutcome, type SagaOutcome } from './outcome';
import { renderStatus, stepsTable, table, workflowUrl, type StatusView } from './render';
import { resolveSaga } from './resolve';

/** What every command gets: its output, its configuration and a connected client on demand. */
export interface CommandContext {
  io: CliIo;
  /** Whether `--json` was given. */
  json: boolean;
  config: TemporalConfig;
  /** Connects on first use, so `--help` and usage errors never need a server. */
  client(): Promise<Client>;
}

/** The parsed flags of a command, as `node:util` `parseArgs` returns them. */
export type Flags = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One flag of a command, with its help line. */
export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in the help, e.g. `<ms>`. */
  arg?: string;
  doc: string;
}

/** A client command: its help, its flags and what it does. */
export interface CommandSpec {
  name: string;
  /** Positional arguments as shown in the usage line, e.g. `<id>`. */
  args: string[];
  summary: string;
  /** Further lines of help. */
  details?: string[];
  options: OptionSpec[];
  run(ctx: CommandContext, flags: Flags, args: string[]): Promise<ExitCode>;
}

const ID_HELP = '<id> is a workflow id, an order id, or the e-mail address of a registration.';

function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

function strings(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function required(flags: Flags, name: string, command: string): string {
  const v = str(flags, name);
  if (v === undefined || v.trim() === '') throw new UsageError(`--${name} is required`, command);
  return v;
}

function positiveInt(flags: Flags, name: string, fallback: number, command: string): number {
  const raw = str(flags, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got "${raw}")`, command);
  return n;
}

function line(ctx: CommandContext, text = ''): void {
  ctx.io.stdout(`${text}\n`);
}

function json(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

function url(ctx: CommandContext, workflowId: string): string {
  return workflowUrl(ctx.config.uiUrl, ctx.config.namespace, workflowId);
}

function describeOrderResult(result: unknown): string {
  const r = result as OrderResult;
  return `shipped with ${r.carrier}, tracking ${r.trackingNumber}${r.confirmationSent ? '' : ' (confirmation e-mail not sent)'}`;
}

function outcomeLine(outcome: SagaOutcome): string {
  const undone = outcome.compensated.length ? `; undone: ${outcome.compensated.join(', ')}` : '';
  return `${outcome.status}: ${outcome.message}${undone}`;
}

function outcomeJson(outcome: SagaOutcome): Record<string, unknown> {
  return { status: outcome.status, message: outcome.message, compensated: outcome.compensated, ...(outcome.result === undefined ? {} : { result: outcome.result }) };
}

async function findSaga(ctx: CommandContext, ref: string, type?: 'registrationSaga' | 'orderSaga') {
  const client = await ctx.client();
  const saga = await resolveSaga(client, ref, ctx.config.idSecret);
  if (type && saga.description.type !== type) {
    throw new CliError(`${saga.workflowId} is a ${saga.description.type}, not a ${type === 'registrationSaga' ? 'registration' : 'order'}`, ExitCode.USAGE);
  }
  return { client, ...saga, handle: client.workflow.getHandle(saga.workflowId) };
}

function assertRunning(workflowId: string, status: string): void {
  if (status !== 'RUNNING') throw new CliError(`${workflowId} has already ended (${status})`);
}

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
    uiUrl: url(ctx, handle.workflowId),
  };
}

/** A saga stops changing by itself once the workflow closed or it waits for an operator. */
function settled(view: StatusView): boolean {
  return view.workflowStatus !== 'RUNNING' || (view.state?.status ?? view.sagaStatus) === SagaStatus.COMPENSATION_FAILED;
}

const order: CommandSpec = {
  name: 'order',
  args: [],
  summary: 'Start an order saga, from flags or from a JSON file',
  details: [
    'Flags override the fields of --file. The order id defaults to a fresh o-<8 hex>, the customer to "guest".',
    'Example: order --email ada@example.com --item sku-widget:2:1999 --token tok_visa \\',
    '           --name "Ada Lovelace" --street "1 Main St" --city Berlin --postal-code 10115 --country DE',
  ],
  options: [
    { name: 'file', type: 'string', short: 'f', arg: '<order.json>', doc: 'Read the order from a JSON file (the saga input)' },
    { name: 'order-id', type: 'string', arg: '<id>', doc: 'Order id; the workflow id is order-<id>' },
    { name: 'customer', type: 'string', arg: '<id>', doc: 'Customer id (default "guest")' },
    { name: 'email', type: 'string', arg: '<address>', doc: 'Where the confirmation goes' },
    { name: 'item', type: 'string', multiple: true, arg: '<sku:qty:cents>', doc: 'An order line, repeatable, e.g. sku-widget:2:1999' },
    { name: 'currency', type: 'string', arg: '<ISO>', doc: 'Currency (default EUR)' },
    { name: 'token', type: 'string', arg: '<tok_…>', doc: 'Payment token, e.g. tok_visa' },
    { name: 'name', type: 'string', arg: '<text>', doc: 'Recipient name' },
    { name: 'street', type: 'string', arg: '<text>', doc: 'Street and number' },
    { name: 'city', type: 'string', arg: '<text>', doc: 'City' },
    { name: 'postal-code', type: 'string', arg: '<code>', doc: 'Postal code' },
    { name: 'country', type: 'string', arg: '<CC>', doc: 'ISO 3166-1 alpha-2 country code, e.g. DE' },
    { name: 'wait', type: 'boolean', doc: 'Wait for the saga to end and report how; exit code 1 if it did not complete' },
  ],
  async run(ctx, flags) {
    const input = await orderFromFlags({
      file: str(flags, 'file'),
      orderId: str(flags, 'order-id'),
      customer: str(flags, 'customer'),
      email: str(flags, 'email'),
      currency: str(flags, 'currency'),
      items: strings(flags, 'item'),
      token: str(flags, 'token'),
      name: str(flags, 'name'),
      street: str(flags, 'street'),
      city: str(flags, 'city'),
      postalCode: str(flags, 'postal-code'),
      country: str(flags, 'country'),
    });
    const valid = parseOrThrow(orderInputSchema, 'order', input);
    const client = await ctx.client();
    const handle = await startOrder(client, valid, { taskQueue: ctx.config.taskQueue });
    const started = { workflowId: handle.workflowId, orderId: valid.orderId, uiUrl: url(ctx, handle.workflowId) };
    if (!flags.wait) {
      if (ctx.json) json(ctx, started);
      else {
        line(ctx, `Started order ${valid.orderId} as ${handle.workflowId}`);
        line(ctx, `  Web UI: ${started.uiUrl}`);
        line(ctx, `  Follow: saga-client status ${handle.workflowId} --watch`);
      }
      return ExitCode.OK;
    }
    if (!ctx.json) line(ctx, `Started order ${valid.orderId} as ${handle.workflowId}; waiting for it to end…`);
    const outcome = await sagaOutcome(client, handle, describeOrderResult);
    if (ctx.json) json(ctx, { ...started, outcome: outcomeJson(outcome) });
    else {
      line(ctx, outcomeLine(outcome));
      line(ctx, `  Web UI: ${started.uiUrl}`);
    }
    return outcome.status === SagaStatus.COMPLETED ? ExitCode.OK : ExitCode.FAILED;
  },
};

const register: CommandSpec = {
  name: 'register',
  args: [],
  summary: 'Start a registration saga: create the account and mail a verification code',
  options: [
    { name: 'email', type: 'string', arg: '<address>', doc: 'E-mail address to register (required)' },
    { name: 'name', type: 'string', arg: '<text>', doc: 'Name of the user (required)' },
    { name: 'user-id', type: 'string', arg: '<id>', doc: 'User id (default: generated by the saga)' },
    { name: 'timeout', type: 'string', arg: '<duration>', doc: 'Time to verify the address, e.g. 30m or 24h (default 24h)' },
  ],
  async run(ctx, flags) {
    const input = {
      email: required(flags, 'email', 'register'),
      name: required(flags, 'name', 'register'),
      ...(str(flags, 'user-id') ? { userId: str(flags, 'user-id') } : {}),
      ...(str(flags, 'timeout') ? { verificationTimeout: str(flags, 'timeout') } : {}),
    };
    const valid = parseOrThrow(registrationInputSchema, 'registration', input);
    const handle = await startRegistration(await ctx.client(), valid, { taskQueue: ctx.config.taskQueue, idSecret: ctx.config.idSecret });
    const started = { workflowId: handle.workflowId, email: valid.email, uiUrl: url(ctx, handle.workflowId) };
    if (ctx.json) json(ctx, started);
    else {
      line(ctx, `Started the registration of ${valid.email} as ${handle.workflowId}`);
      line(ctx, `  Web UI: ${started.uiUrl}`);
      line(ctx, `  Then:   saga-client verify ${valid.email} --code <code from the e-mail>`);
    }
    return ExitCode.OK;
  },
};

const verify: CommandSpec = {
  name: 'verify',
  args: ['<id>'],
  summary: 'Submit the code from the verification e-mail of a registration',
  details: [ID_HELP, 'Exit code 1 when the code is refused.'],
  options: [{ name: 'code', type: 'string', arg: '<code>', doc: 'The code from the verification e-mail (required)' }],
  async run(ctx, flags, [ref = '']) {
    const code = required(flags, 'code', 'verify');
    const { workflowId, handle, description } = await findSaga(ctx, ref, 'registrationSaga');
    assertRunning(workflowId, description.status.name);
    const answer = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code.trim() }] });
    if (ctx.json) json(ctx, { workflowId, ...answer });
    else if (answer.outcome === 'verified') line(ctx, `Verified: ${workflowId} activates the account now.`);
    else if (answer.outcome === 'rejected') line(ctx, `Wrong code: ${answer.attemptsLeft} attempt${answer.attemptsLeft === 1 ? '' : 's'} left.`);
    else if (answer.outcome === 'locked') line(ctx, 'Wrong code and no attempts left: the registration is being undone.');
    else line(ctx, `${workflowId} no longer waits for a code.`);
    return answer.accepted ? ExitCode.OK : ExitCode.FAILED;
  },
};

const resend: CommandSpec = {
  name: 'resend',
  args: ['<id>'],
  summary: 'Ask a registration to mail a new verification code',
  details: [ID_HELP, `Codes go out at least ${RESEND_INTERVAL_MS / 1000} s apart and ${MAX_VERIFICATION_SENDS} times at most; requests beyond that are ignored.`],
  options: [],
  async run(ctx, _flags, [ref = '']) {
    const { client, workflowId, handle, description } = await findSaga(ctx, ref, 'registrationSaga');
    assertRunning(workflowId, description.status.name);
    await handle.signal(resendVerificationSignal);
    const state = await client.connection.withDeadline(Date.now() + 3_000, () => handle.query(verificationStateQuery)).catch(() => undefined);
    if (ctx.json) json(ctx, { workflowId, requested: true, ...(state ? { verification: state } : {}) });
    else line(ctx, `Asked ${workflowId} for a new code${state ? ` (${state.sends} of ${MAX_VERIFICATION_SENDS} e-mails sent so far)` : ''}.`);
    return ExitCode.OK;
  },
};

const status: CommandSpec = {
  name: 'status',
  args: ['<id>'],
  summary: "Show a saga's steps and compensations as a table",
  details: [ID_HELP, 'With --watch it redraws on every change until the saga ends or waits for an operator; Ctrl-C stops watching.'],
  options: [
    { name: 'watch', type: 'boolean', short: 'w', doc: 'Redraw live until the saga ends' },
    { name: 'interval', type: 'string', arg: '<ms>', doc: 'Time between polls with --watch (default 1000)' },
  ],
  async run(ctx, flags, [ref = '']) {
    const interval = positiveInt(flags, 'interval', 1_000, 'status');
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
          line(ctx, `\nThe saga waits for an operator: saga-client retry-compensation ${view.workflowId}, or mark-compensated ${view.workflowId} --reason "…"`);
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

const cancel: CommandSpec = {
  name: 'cancel',
  args: ['<id>'],
  summary: 'Cancel a running saga: it undoes what it did, last step first',
  details: [ID_HELP, 'An order whose shipment exists is committed: it completes in spite of the cancellation.'],
  options: [{ name: 'wait', type: 'boolean', doc: 'Wait for the saga to end and report how' }],
  async run(ctx, flags, [ref = '']) {
    const { client, workflowId, handle, description } = await findSaga(ctx, ref);
    assertRunning(workflowId, description.status.name);
    await handle.cancel();
    if (!flags.wait) {
      if (ctx.json) json(ctx, { workflowId, cancelRequested: true, uiUrl: url(ctx, workflowId) });
      else line(ctx, `Cancellation requested for ${workflowId}. Follow: saga-client status ${workflowId} --watch`);
      return ExitCode.OK;
    }
    const outcome = await sagaOutcome(client, handle, description.type === 'orderSaga' ? describeOrderResult : undefined);
    if (ctx.json) json(ctx, { workflowId, cancelRequested: true, outcome: outcomeJson(outcome) });
    else line(ctx, `${workflowId} ${outcomeLine(outcome)}`);
    return ExitCode.OK;
  },
};

const SAGA_TYPES: Record<string, string> = { order: 'orderSaga', registration: 'registrationSaga' };

const list: CommandSpec = {
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
    const limit = positiveInt(flags, 'limit', 20, 'list');
    const wantedStatus = str(flags, 'status')?.toUpperCase();
    if (wantedStatus !== undefined && !(Object.values(SagaStatus) as string[]).includes(wantedStatus)) {
      throw new UsageError(`--status must be one of ${Object.values(SagaStatus).join(', ')} (got "${str(flags, 'status')}")`, 'list');
    }
    const kind = str(flags, 'type');
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
        uiUrl: url(ctx, info.workflowId),
      });
      if (rows.length >= limit) break;
    }
    if (ctx.json) json(ctx, rows);
    else if (rows.length === 0) line(ctx, `No sagas${wantedStatus ? ` in status ${wantedStatus}` : ''}.`);
    else
      line(
        ctx,
        table(
          ['WORKFLOW ID', 'TYPE', 'SAGA STATUS', 'WORKFLOW', 'STARTED'],
          rows.map((r) => [r.workflowId, r.type, r.sagaStatus ?? '-', r.workflowStatus, r.startTime.replace('T', ' ').slice(0, 19)]),
        ),
      );
    return ExitCode.OK;
  },
};

const retryCompensation: CommandSpec = {
  name: 'retry-compensation',
  args: ['<id>'],
  summary: 'Run the failed compensations of a saga waiting in COMPENSATION_FAILED again',
  details: [ID_HELP, 'Without --wait it returns once the saga accepted the request; a retry round can take as long as the compensation retry policy allows.'],
  options: [{ name: 'wait', type: 'boolean', doc: 'Wait for the retry round to end and show the state after it' }],
  async run(ctx, flags, [ref = '']) {
    const { workflowId, handle } = await findSaga(ctx, ref);
    const update = await handle.startUpdate(retryCompensationUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    if (!flags.wait) {
      if (ctx.json) json(ctx, { workflowId, accepted: true });
      else line(ctx, `${workflowId} is retrying its compensations. Follow: saga-client status ${workflowId} --watch`);
      return ExitCode.OK;
    }
    const state = await update.result();
    if (ctx.json) json(ctx, { workflowId, accepted: true, state });
    else {
      line(ctx, `${workflowId}: saga ${state.status} after the retry`);
      line(ctx, stepsTable(state.steps));
    }
    return state.status === SagaStatus.COMPENSATION_FAILED ? ExitCode.FAILED : ExitCode.OK;
  },
};

const markCompensated: CommandSpec = {
  name: 'mark-compensated',
  args: ['<id>'],
  summary: 'Declare a saga in COMPENSATION_FAILED compensated after repairing it by hand',
  details: [ID_HELP],
  options: [{ name: 'reason', type: 'string', arg: '<text>', doc: 'What was repaired, and how (required; kept as the operator note)' }],
  async run(ctx, flags, [ref = '']) {
    const reason = required(flags, 'reason', 'mark-compensated');
    const { workflowId, handle } = await findSaga(ctx, ref);
    const state = await handle.executeUpdate(markCompensatedUpdate, { args: [{ reason }] });
    if (ctx.json) json(ctx, { workflowId, state });
    else line(ctx, `${workflowId}: saga ${state.status}; operator note: ${state.operatorNote ?? reason}`);
    return ExitCode.OK;
  },
};

/** Every command of the client, in the order the help lists them. */
export const commands: readonly CommandSpec[] = [order, register, verify, resend, status, cancel, list, retryCompensation, markCompensated];
