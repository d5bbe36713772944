import { userInfo } from 'node:os';
import { ReconcileOutcome, RECONCILE_SWEEP_WORKFLOW, RECONCILER_INTERVAL, SWEEP_BATCH, type ReconcileResult, type ReconcileSweepResult } from '../../reconciler/contract';
import { terminateSaga } from '../../reconciler/terminate';
import { assertRunning, findSaga, positiveIntFlag, printLine, printResult, requiredFlag, SAGA_REF_HELP, stringFlag, type CommandSpec } from '../command';
import { ExitCode, UsageError } from '../errors';
import { assertOneExpression } from '../visibility-query';

// The commands for sagas ended from outside their code: terminate one (the reconciler then undoes it,
// or leaves it to the operator who keeps its effects), and run the reconciler now.

// A container may run the client under a uid with no user name: then --by is required.
function systemUser(): string {
  try {
    return userInfo().username;
  } catch {
    throw new UsageError('--keep-effects needs --by <name>: no system user name to default to', 'terminate');
  }
}

/** `saga-client terminate <id> --reason [--keep-effects [--by]]`. */
export const terminate: CommandSpec = {
  name: 'terminate',
  args: ['<id>'],
  summary: 'Terminate a saga: its code stops at once and the reconciler undoes what it left (cancel is the normal way)',
  details: [
    SAGA_REF_HELP,
    'Terminating gives the saga no chance to unwind: prefer cancel. The reconciler (every 5 minutes, or reconcile) undoes what stands, except after its pivot.',
    'With --keep-effects the operator takes the effects over by hand: the reconciler leaves the saga, and status shows who decided and why.',
  ],
  options: [
    { name: 'reason', type: 'string', arg: '<text>', doc: 'Why (required; kept in the history)' },
    { name: 'keep-effects', type: 'boolean', doc: 'Record that you undo or keep the effects by hand; the reconciler leaves the saga' },
    { name: 'by', type: 'string', arg: '<name>', doc: 'With --keep-effects: who takes the effects over (default: the system user name)' },
  ],
  async run(ctx, flags, [ref = '']) {
    const reason = requiredFlag(flags, 'reason', 'terminate');
    const keep = flags['keep-effects'] === true;
    const by = stringFlag(flags, 'by');
    if (by !== undefined && !keep) throw new UsageError('--by goes with --keep-effects', 'terminate');
    if (by !== undefined && by.trim() === '') throw new UsageError('--by needs a name', 'terminate');
    const keptBy = keep ? (by ?? systemUser()) : undefined;
    const { client, workflowId, description } = await findSaga(ctx, ref);
    assertRunning(workflowId, description.status.name);
    const { runId } = await terminateSaga(client, workflowId, { reason, runId: description.runId, ...(keptBy ? { keepEffectsBy: keptBy } : {}) });
    const next = keptBy
      ? `Effects kept by ${keptBy}: the reconciler leaves ${workflowId}; undo or finish its steps by hand (${ctx.invokedAs} status ${workflowId} shows them).`
      : `The reconciler undoes what it left standing within ${RECONCILER_INTERVAL}, or now: ${ctx.invokedAs} reconcile --query "WorkflowId = '${workflowId}'"`;
    printResult(ctx, { workflowId, runId, terminated: true, ...(keptBy ? { keptBy } : {}) }, `Terminated ${workflowId}. ${next}`);
    return ExitCode.OK;
  },
};

function resultLine(r: ReconcileResult): string {
  const undone = r.undone.length ? `${r.dryRun ? 'would undo' : 'undone'} ${r.undone.join(', ')}` : 'nothing to undo';
  const kept = r.kept.length ? `; kept ${r.kept.join(', ')}` : '';
  const finished = r.finished?.length ? `; ${r.dryRun ? 'would finish' : 'finished'} ${r.finished.join(', ')}` : '';
  const gaveUp = r.forwardGaveUp?.length ? `; gave up ${r.forwardGaveUp.join(', ')} (optional)` : '';
  const by = r.keptBy ? `; effects kept by ${r.keptBy.by}: ${r.keptBy.reason}` : '';
  const later = r.supersededBy ? `; carried on by its later run ${r.supersededBy} (a reset)` : '';
  const children = r.children.length ? `; children: ${r.children.map((c) => `${c.workflowId} ${c.action}`).join(', ')}` : '';
  const operator = r.needsOperator.length ? `; needs an operator: ${r.needsOperator.join('; ')}` : '';
  return `${r.outcome.padEnd(17)} ${r.workflowId}  ${r.workflowType}: ${undone}${kept}${finished}${gaveUp}${by}${later}${children}${operator}`;
}

/** `saga-client reconcile [--dry-run] [--query] [--limit]`: runs the reconciler's sweep now and reports each saga. */
export const reconcile: CommandSpec = {
  name: 'reconcile',
  args: [],
  summary: 'Undo what sagas that closed without settling (terminated, timed out) left standing, now',
  details: [
    `Runs the sweep the Schedule runs every ${RECONCILER_INTERVAL}, on this task queue: each saga whose workflow closed while its SagaStatus was RUNNING or COMPENSATING is reconciled once.`,
    'Outcomes: UNDONE, NOTHING_STOOD, FINISHED_FORWARD (past the pivot: nothing undone, the steps after it finished), KEPT_AFTER_PIVOT (past the pivot, nothing left to finish or the optional steps gave up), LEFT_TO_OPERATOR (terminate --keep-effects), SUPERSEDED (a reset carries the saga on in a later run: left to it), NEEDS_OPERATOR.',
    '--dry-run reports what each reconciliation would undo and changes nothing. The query must be one expression. Exit code 1 when a saga needs an operator or its reconciliation failed.',
  ],
  options: [
    { name: 'dry-run', type: 'boolean', doc: 'Report what would be undone, change nothing' },
    { name: 'query', type: 'string', short: 'q', arg: '<visibility query>', doc: "Only the sagas it finds, e.g. \"WorkflowType = 'orderSaga'\"" },
    { name: 'limit', type: 'string', arg: '<n>', doc: `At most this many sagas (default ${SWEEP_BATCH})` },
  ],
  async run(ctx, flags) {
    const query = stringFlag(flags, 'query');
    if (query !== undefined) {
      if (query.trim() === '') throw new UsageError(`--query is empty: give a filter, e.g. --query "WorkflowType = 'orderSaga'"`, 'reconcile');
      assertOneExpression(query, 'reconcile');
    }
    const limit = positiveIntFlag(flags, 'limit', SWEEP_BATCH, 'reconcile');
    const dryRun = flags['dry-run'] === true;
    const client = await ctx.client();
    const sweep: ReconcileSweepResult = await client.workflow.execute(RECONCILE_SWEEP_WORKFLOW, {
      taskQueue: ctx.config.taskQueue,
      workflowId: `reconcile-sweep-${new Date().toISOString()}`,
      args: [{ dryRun, limit, ...(query ? { query } : {}) }],
    });
    if (!ctx.json) for (const r of sweep.results) printLine(ctx, resultLine(r));
    if (!ctx.json) for (const f of sweep.failed) printLine(ctx, `FAILED            ${f}`);
    const already = sweep.skipped + sweep.alreadyReconciled.length;
    const head = dryRun ? 'Dry run, nothing changed: ' : '';
    const tail = already ? `; ${already} already reconciled` : '';
    printResult(ctx, { dryRun, ...sweep }, `${head}${sweep.results.length} saga${sweep.results.length === 1 ? '' : 's'} reconciled${dryRun ? ' (would be)' : ''}${tail}.`);
    return sweep.failed.length > 0 || sweep.results.some((r) => r.outcome === ReconcileOutcome.NEEDS_OPERATOR) ? ExitCode.FAILED : ExitCode.OK;
  },
};
