import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError, ServiceError, type Client } from '@temporalio/client';
import { SagaStatus } from '@saga-temporal/saga';
import { SagaClient, SagaClientUsageError, SagaNotFoundError, SagaUpdateRejectedError } from '@saga-temporal/saga/client';
import { describeOrderResult, sagaOutcome } from '../../report';
import { MAX_VERIFICATION_SENDS, RESEND_INTERVAL_MS, resendVerificationSignal, verificationStateQuery, verifyEmailUpdate } from '../../registration/contract';
import { SagaStatusKey } from '../../shared/search-attributes';
import {
  assertRunning,
  findSaga,
  outcomeJson,
  outcomeLine,
  positiveIntFlag,
  printJson,
  printLine,
  printResult,
  requiredFlag,
  SAGA_REF_HELP,
  stringFlag,
  stringFlags,
  webUiUrl,
  type CommandContext,
  type CommandSpec,
  type Flags,
} from '../command';
import { CliError, ExitCode, UsageError } from '../errors';
import { stepsTable } from '../status-screen';
import { assertOneExpression, inUserTerms } from '../visibility-query';

// The commands that act on a saga already running: the user's side of a registration (verify,
// resend) and the operator's (cancel, and the ways out of COMPENSATION_FAILED: retry all or some
// compensations, one saga or every saga a query finds; skip one done by hand; mark it all done by hand).

/** `saga-client verify <id> --code`: submits a registration's verification code. */
export const verify: CommandSpec = {
  name: 'verify',
  args: ['<id>'],
  summary: 'Submit the code from the verification e-mail of a registration',
  details: [SAGA_REF_HELP, 'Exit code 1 when the code is refused.'],
  options: [{ name: 'code', type: 'string', arg: '<code>', doc: 'The code from the verification e-mail (required)' }],
  async run(ctx, flags, [ref = '']) {
    const code = requiredFlag(flags, 'code', 'verify');
    const { workflowId, handle, description } = await findSaga(ctx, ref, 'registrationSaga');
    assertRunning(workflowId, description.status.name);
    const answer = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code.trim() }] });
    if (ctx.json) printJson(ctx, { workflowId, ...answer });
    else if (answer.outcome === 'verified') printLine(ctx, `Verified: ${workflowId} activates the account now.`);
    else if (answer.outcome === 'rejected') printLine(ctx, `Wrong code: ${answer.attemptsLeft} attempt${answer.attemptsLeft === 1 ? '' : 's'} left.`);
    else if (answer.outcome === 'locked') printLine(ctx, 'Wrong code and no attempts left: the registration is being undone.');
    else printLine(ctx, `${workflowId} no longer waits for a code.`);
    return answer.accepted ? ExitCode.OK : ExitCode.FAILED;
  },
};

/** `saga-client resend <id>`: asks a registration for a new code. */
export const resend: CommandSpec = {
  name: 'resend',
  args: ['<id>'],
  summary: 'Ask a registration to mail a new verification code',
  details: [
    SAGA_REF_HELP,
    `Codes go out at least ${RESEND_INTERVAL_MS / 1000} s apart and ${MAX_VERIFICATION_SENDS} times at most; a request beyond that is refused (exit code 1) and no code is sent.`,
  ],
  options: [],
  async run(ctx, _flags, [ref = '']) {
    const { client, workflowId, handle, description } = await findSaga(ctx, ref, 'registrationSaga');
    assertRunning(workflowId, description.status.name);
    const read = () => client.connection.withDeadline(Date.now() + 3_000, () => handle.query(verificationStateQuery)).catch(() => undefined);
    const before = await read();
    await handle.signal(resendVerificationSignal);
    // The signal is answered by the saga, not by the server: watch its counters to tell a code sent
    // from a request it refused, rather than promising a code that never goes out.
    let after = before && (await read());
    for (let i = 0; before && after && after.sends === before.sends && after.resendsRefused === before.resendsRefused && i < 30; i++) {
      await sleep(100);
      after = await read();
    }
    const sofar = (n: number) => `${n} of ${MAX_VERIFICATION_SENDS} e-mails sent so far`;
    if (before && after && after.resendsRefused > before.resendsRefused) {
      const why = after.sends >= MAX_VERIFICATION_SENDS ? `all ${MAX_VERIFICATION_SENDS} e-mails have been sent` : `codes go out at least ${RESEND_INTERVAL_MS / 1000} s apart`;
      printResult(ctx, { workflowId, requested: true, sent: false, verification: after }, `No new code: ${why} (${sofar(after.sends)}); the last code still holds.`);
      return ExitCode.FAILED;
    }
    if (before && after && after.sends > before.sends) {
      printResult(ctx, { workflowId, requested: true, sent: true, verification: after }, `A new code is on its way to ${workflowId}'s address (${sofar(after.sends)}).`);
      return ExitCode.OK;
    }
    printResult(ctx, { workflowId, requested: true, ...(after ? { verification: after } : {}) }, `Asked ${workflowId} for a new code; no worker confirmed it yet: see status ${workflowId}.`);
    return ExitCode.OK;
  },
};

/** `saga-client cancel <id>`: cancels a running saga, which undoes its steps. */
export const cancel: CommandSpec = {
  name: 'cancel',
  args: ['<id>'],
  summary: 'Cancel a running saga: it undoes what it did, last step first',
  details: [SAGA_REF_HELP, 'An order whose shipment exists is committed: it completes in spite of the cancellation.'],
  options: [{ name: 'wait', type: 'boolean', doc: 'Wait for the saga to end and report how' }],
  async run(ctx, flags, [ref = '']) {
    const { client, workflowId, handle, description } = await findSaga(ctx, ref);
    assertRunning(workflowId, description.status.name);
    await handle.cancel();
    if (!flags.wait) {
      printResult(ctx, { workflowId, cancelRequested: true, uiUrl: webUiUrl(ctx, workflowId) }, `Cancellation requested for ${workflowId}. Follow: ${ctx.invokedAs} status ${workflowId} --watch`);
      return ExitCode.OK;
    }
    const outcome = await sagaOutcome(client, handle, description.type === 'orderSaga' ? describeOrderResult : undefined);
    printResult(ctx, { workflowId, cancelRequested: true, outcome: outcomeJson(outcome) }, `${workflowId} ${outcomeLine(outcome)}`);
    return ExitCode.OK;
  },
};

/** The filter every bulk repair adds to the operator's query: only sagas that wait for an operator. */
export const STUCK_SAGAS_FILTER = `${SagaStatusKey.name} = '${SagaStatus.COMPENSATION_FAILED}' AND ExecutionStatus = 'Running'`;

/** How `--step` names a step, in the help of both commands that take it. */
const STEP_NAME_HELP = '--step takes the forward step (capturePayment) or its compensation (refundPayment), as status shows them.';

const RETRY = 'retry-compensation';
const BULK_ONLY = ['dry-run', 'rate', 'limit'] as const;
const DEFAULT_RATE = 5;
const DEFAULT_LIMIT = 100;
const MAX_RATE = 100;

/** `saga-client retry-compensation <id> [--step]... | --query`: runs a stuck saga's failed compensations again, or those of every saga a query finds. */
export const retryCompensation: CommandSpec = {
  name: RETRY,
  args: ['[<id>]'],
  summary: 'Run the failed compensations of a saga waiting in COMPENSATION_FAILED again (all, or some with --step); --query for many sagas',
  details: [
    SAGA_REF_HELP,
    'With --step only the failed compensations of those steps run again; the others stay failed and the saga keeps waiting.',
    STEP_NAME_HELP,
    'Without --wait it returns once the saga accepted the request; a retry round can take as long as the compensation retry policy allows.',
    `With --query instead of <id>: every saga the visibility query finds, ANDed with ${STUCK_SAGAS_FILTER}.`,
    'The query must be one expression: balanced parentheses and quotes, no comment.',
    'Each saga is asked at most --rate times per second and its answer reported (accepted, or refused with the reason); --dry-run lists them and sends nothing.',
    'Exit code 1 when a saga refused.',
  ],
  options: [
    { name: 'step', type: 'string', multiple: true, arg: '<name>', doc: "Retry only this step's failed compensation, named by the step or by the compensation, e.g. capturePayment or refundPayment (repeatable)" },
    { name: 'wait', type: 'boolean', doc: 'Wait for the retry round to end and show the state after it (one saga)' },
    { name: 'query', type: 'string', arg: '<visibility query>', doc: `Every saga it finds, ANDed with ${STUCK_SAGAS_FILTER}` },
    { name: 'dry-run', type: 'boolean', doc: 'With --query: list the sagas and their failed steps, send nothing' },
    { name: 'rate', type: 'string', arg: '<n>', doc: `With --query: requests per second at most (default ${DEFAULT_RATE})` },
    { name: 'limit', type: 'string', arg: '<n>', doc: `With --query: at most this many sagas (default ${DEFAULT_LIMIT})` },
  ],
  async run(ctx, flags, [ref]) {
    const steps = stepFlags(flags);
    const query = stringFlag(flags, 'query');
    if (query !== undefined) {
      if (ref !== undefined) throw new UsageError('give either a saga <id> or --query, not both', RETRY);
      if (flags.wait) throw new UsageError('--wait is for one saga; with --query each saga is reported once it accepted', RETRY);
      return retryMatching(ctx, query, steps, {
        dryRun: flags['dry-run'] === true,
        rate: rateFlag(flags),
        limit: positiveIntFlag(flags, 'limit', DEFAULT_LIMIT, RETRY),
      });
    }
    if (ref === undefined) throw new UsageError('missing <id> (or --query to retry many sagas)', RETRY);
    const bulkFlag = BULK_ONLY.find((name) => flags[name] !== undefined);
    if (bulkFlag) throw new UsageError(`--${bulkFlag} goes with --query`, RETRY);
    const { client, workflowId } = await findSaga(ctx, ref);
    const sagaClient = new SagaClient(client);
    const named = steps ? await stepsNamed(sagaClient, workflowId, ctx.runId, steps, RETRY) : undefined;
    const which = named ? `the failed compensations of ${named.join(', ')}` : 'its failed compensations';
    const state = await operatorCall(() => sagaClient.retryCompensation(workflowId, { wait: flags.wait === true, ...(ctx.runId ? { runId: ctx.runId } : {}), ...(named ? { steps: named } : {}) }));
    if (!state) {
      printResult(ctx, { workflowId, accepted: true, ...(named ? { steps: named } : {}) }, `${workflowId} is retrying ${which}. Follow: ${ctx.invokedAs} status ${workflowId} --watch`);
      return ExitCode.OK;
    }
    const stillFailed = state.compensationFailures.map((f) => f.step);
    const left = stillFailed.length > 0 && state.status === SagaStatus.COMPENSATION_FAILED ? `; still failed: ${stillFailed.join(', ')}` : '';
    printResult(ctx, { workflowId, accepted: true, ...(named ? { steps: named } : {}), state }, `${workflowId}: saga ${state.status} after the retry${left}`, stepsTable(state.steps));
    // A retry of some steps did its part when those are undone, even while others still wait.
    const failed = named ? named.some((s) => stillFailed.includes(s)) : state.status === SagaStatus.COMPENSATION_FAILED;
    return failed ? ExitCode.FAILED : ExitCode.OK;
  },
};

/** `saga-client skip-compensation <id> --step --reason`: records a failed compensation as done by hand. */
export const skipCompensation: CommandSpec = {
  name: 'skip-compensation',
  args: ['<id>'],
  summary: 'Record that the failed compensation of one step was done by hand; the saga ends COMPENSATED once none is left failed',
  details: [SAGA_REF_HELP, STEP_NAME_HELP, 'The saga never runs that compensation again; the step shows it as skipped by the operator, with the reason.'],
  options: [
    { name: 'step', type: 'string', arg: '<name>', doc: 'The step whose compensation was done by hand, or that compensation, e.g. capturePayment or refundPayment (required)' },
    { name: 'reason', type: 'string', arg: '<text>', doc: 'What was repaired, and how (required; kept on the step)' },
  ],
  async run(ctx, flags, [ref = '']) {
    const given = requiredFlag(flags, 'step', 'skip-compensation');
    const reason = requiredFlag(flags, 'reason', 'skip-compensation');
    const { client, workflowId } = await findSaga(ctx, ref);
    const sagaClient = new SagaClient(client);
    const [step = given] = await stepsNamed(sagaClient, workflowId, ctx.runId, [given], 'skip-compensation');
    const state = await operatorCall(() => sagaClient.skipCompensation(workflowId, step, reason, ctx.runId ? { runId: ctx.runId } : {}));
    const left = state.compensationFailures.map((f) => f.step);
    const next = left.length > 0 ? `; still failed: ${left.join(', ')}` : '';
    printResult(ctx, { workflowId, skipped: step, state }, `${workflowId}: compensation of ${step} skipped by the operator; saga ${state.status}${next}`, stepsTable(state.steps));
    return ExitCode.OK;
  },
};

/**
 * The steps `names` mean, each given as a step or as its compensation's name, read from the saga's
 * state: operators see compensations fail (`refundPayment`) while the saga's updates want the step it
 * undoes (`capturePayment`). A name that fits more than one step is refused; one that fits none goes
 * to the saga unchanged, which refuses it listing its compensations. Without a worker to answer the
 * state query the names go unchanged too.
 */
async function stepsNamed(sagaClient: SagaClient, workflowId: string, runId: string | undefined, names: readonly string[], command: string): Promise<string[]> {
  const reading = await operatorCall(() => sagaClient.state(workflowId, runId));
  if (reading.source !== 'query') return [...names];
  const steps = reading.state.steps;
  const mapped = names.map((name) => {
    const fits = steps.filter((s) => s.name === name || s.compensation?.name === name).map((s) => s.name);
    const distinct = [...new Set(fits)];
    if (distinct.length > 1) throw new UsageError(`--step ${name} is ambiguous: it names ${distinct.map((s) => `step ${s}`).join(' and ')}; give the step's name`, command);
    return distinct[0] ?? name;
  });
  const twice = mapped.find((s, i) => mapped.indexOf(s) !== i);
  if (twice !== undefined) throw new UsageError(`--step names ${twice} twice (as the step and as its compensation, or twice over)`, command);
  return mapped;
}

/** The `--step` values: each named once, none blank; `undefined` when none was given (every failed compensation). */
function stepFlags(flags: Flags): string[] | undefined {
  const steps = stringFlags(flags, 'step');
  if (steps.length === 0) return undefined;
  if (steps.some((s) => s.trim() === '')) throw new UsageError('--step needs a step name', RETRY);
  const twice = steps.find((s, i) => steps.indexOf(s) !== i);
  if (twice !== undefined) throw new UsageError(`--step ${twice} is given twice`, RETRY);
  return steps;
}

function rateFlag(flags: Flags): number {
  const raw = stringFlag(flags, 'rate');
  if (raw === undefined) return DEFAULT_RATE;
  const rate = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(rate) || rate <= 0 || rate > MAX_RATE) throw new UsageError(`--rate must be a number of requests per second above 0 and at most ${MAX_RATE} (got "${raw}")`, RETRY);
  return rate;
}

// The operator helper's typed errors, as the client's one-line errors and exit codes.
async function operatorCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof SagaUpdateRejectedError) throw new CliError(`Refused: ${err.reason}`, ExitCode.FAILED);
    if (err instanceof SagaClientUsageError) throw new UsageError(err.message);
    if (err instanceof SagaNotFoundError) throw new CliError(err.message, ExitCode.NOT_FOUND);
    throw err;
  }
}

/** What the bulk retry reports about one saga. */
interface BulkRecord {
  workflowId: string;
  runId: string;
  type: string;
  /** `would-retry` in a dry run; otherwise the saga's answer. */
  outcome: 'would-retry' | 'accepted' | 'refused';
  /** Dry run: the steps whose compensation failed (absent when no worker answered the state query). */
  failedSteps?: string[];
  /** Why the saga refused. */
  reason?: string;
}

// Every per-saga record of the bulk retry goes through here: a line of text each, or under --json into
// the one document printed at the end.
function bulkReporter(ctx: CommandContext) {
  const records: BulkRecord[] = [];
  return {
    records,
    emit(record: BulkRecord): void {
      records.push(record);
      if (!ctx.json) printLine(ctx, bulkLine(record));
    },
  };
}

function bulkLine(r: BulkRecord): string {
  if (r.outcome === 'refused') return `refused      ${r.workflowId}  ${r.type}: ${r.reason ?? ''}`;
  if (r.outcome === 'accepted') return `accepted     ${r.workflowId}  ${r.type}`;
  return `would retry  ${r.workflowId}  ${r.type}  failed: ${r.failedSteps ? r.failedSteps.join(', ') : '? (no worker answered the state query)'}`;
}

// Quoted values of a query the server complains about may be anything the operator typed: only the
// shape of the complaint is repeated.
function withoutLiterals(text: string): string {
  return text.replace(/'[^']*'|"[^"]*"/g, '…');
}

const GRPC_INVALID_ARGUMENT = 3;

/** The running sagas waiting for an operator that the query finds, at most `limit` + 1 (to tell whether there are more). */
async function findStuck(client: Client, query: string, limit: number, userQuery: string): Promise<{ workflowId: string; runId: string; type: string }[]> {
  const found: { workflowId: string; runId: string; type: string }[] = [];
  try {
    for await (const info of client.workflow.list({ query, pageSize: Math.min(limit + 1, 100) })) {
      found.push({ workflowId: info.workflowId, runId: info.runId, type: info.type });
      if (found.length > limit) break;
    }
  } catch (err) {
    const grpc = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : undefined;
    if (grpc?.code === GRPC_INVALID_ARGUMENT) throw new UsageError(`--query is not a valid visibility query: ${withoutLiterals(inUserTerms(grpc.details || grpc.message, userQuery))}`, RETRY);
    throw err;
  }
  return found;
}

async function retryMatching(ctx: CommandContext, userQuery: string, steps: string[] | undefined, options: { dryRun: boolean; rate: number; limit: number }): Promise<ExitCode> {
  if (userQuery.trim() === '') throw new UsageError(`--query is empty: give a filter, e.g. --query "WorkflowType = 'orderSaga'"`, RETRY);
  assertOneExpression(userQuery, RETRY);
  const query = `(${userQuery}) AND ${STUCK_SAGAS_FILTER}`;
  const client = await ctx.client();
  const found = await findStuck(client, query, options.limit, userQuery);
  const more = found.length > options.limit;
  const sagas = found.slice(0, options.limit);
  const sagaClient = new SagaClient(client);
  const report = bulkReporter(ctx);
  const which = steps ? `the failed compensations of ${steps.join(', ')}` : 'the failed compensations';
  const beyond = more ? ` More sagas match: only the first ${options.limit} were taken (--limit).` : '';

  if (options.dryRun) {
    if (!ctx.json) printLine(ctx, `Dry run, nothing is sent: would retry ${which} of ${sagas.length} saga${sagas.length === 1 ? '' : 's'} matching ${query}`);
    for (const saga of sagas) {
      const reading = await sagaClient.state(saga.workflowId, saga.runId).catch(() => undefined);
      const failedSteps = reading?.source === 'query' ? reading.state.compensationFailures.map((f) => f.step) : undefined;
      report.emit({ ...saga, outcome: 'would-retry', ...(failedSteps ? { failedSteps } : {}) });
    }
    const summary = { matched: sagas.length, more };
    printResult(ctx, { query, dryRun: true, ...(steps ? { steps } : {}), sagas: report.records, summary }, `Dry run: ${sagas.length} saga${sagas.length === 1 ? '' : 's'} would be asked to retry; nothing was sent.${beyond}`);
    return ExitCode.OK;
  }

  if (!ctx.json) printLine(ctx, `Retrying ${which} of ${sagas.length} saga${sagas.length === 1 ? '' : 's'} matching ${query}, at most ${options.rate} per second`);
  const interval = 1000 / options.rate;
  const begun = Date.now();
  let stopped = false;
  for (const [i, saga] of sagas.entries()) {
    // Interrupted before this request (while the query ran, or before the first request): send no more.
    if (ctx.io.signal?.aborted) {
      stopped = true;
      break;
    }
    const due = begun + i * interval - Date.now();
    if (due > 0) {
      try {
        await sleep(due, undefined, { signal: ctx.io.signal });
      } catch {
        stopped = true;
        break;
      }
    }
    try {
      await sagaClient.retryCompensation(saga.workflowId, { runId: saga.runId, wait: false, ...(steps ? { steps } : {}) });
      report.emit({ ...saga, outcome: 'accepted' });
    } catch (err) {
      if (err instanceof SagaUpdateRejectedError) report.emit({ ...saga, outcome: 'refused', reason: err.reason });
      else if (err instanceof SagaNotFoundError) report.emit({ ...saga, outcome: 'refused', reason: 'the workflow no longer exists' });
      else throw err;
    }
  }
  const accepted = report.records.filter((r) => r.outcome === 'accepted').length;
  const refused = report.records.filter((r) => r.outcome === 'refused').length;
  const summary = { matched: sagas.length, accepted, refused, more, ...(stopped ? { stopped: true } : {}) };
  const halt = stopped ? ` Stopped before the ${sagas.length - accepted - refused} left.` : '';
  printResult(ctx, { query, dryRun: false, ...(steps ? { steps } : {}), sagas: report.records, summary }, `${sagas.length} saga${sagas.length === 1 ? '' : 's'}: ${accepted} accepted, ${refused} refused.${halt}${beyond}`);
  return refused > 0 ? ExitCode.FAILED : ExitCode.OK;
}

/** `saga-client mark-compensated <id> --reason`: closes a stuck saga repaired by hand. */
export const markCompensated: CommandSpec = {
  name: 'mark-compensated',
  args: ['<id>'],
  summary: 'Declare a saga in COMPENSATION_FAILED compensated after repairing it by hand',
  details: [SAGA_REF_HELP],
  options: [{ name: 'reason', type: 'string', arg: '<text>', doc: 'What was repaired, and how (required; kept as the operator note)' }],
  async run(ctx, flags, [ref = '']) {
    const reason = requiredFlag(flags, 'reason', 'mark-compensated');
    const { client, workflowId } = await findSaga(ctx, ref);
    // Through the operator helper, as the other repairs: a closed saga is refused the same way (exit 1).
    const state = await operatorCall(() => new SagaClient(client).markCompensated(workflowId, reason, ctx.runId ? { runId: ctx.runId } : {}));
    printResult(ctx, { workflowId, state }, `${workflowId}: saga ${state.status}; operator note: ${state.operatorNote ?? reason}`);
    return ExitCode.OK;
  },
};
