import { WorkflowUpdateStage } from '@temporalio/client';
import { markCompensatedUpdate, retryCompensationUpdate, SagaStatus } from '@saga-temporal/saga';
import { describeOrderResult, sagaOutcome } from '../../report';
import { MAX_VERIFICATION_SENDS, RESEND_INTERVAL_MS, resendVerificationSignal, verificationStateQuery, verifyEmailUpdate } from '../../registration/contract';
import { assertRunning, findSaga, outcomeJson, outcomeLine, printJson, printLine, printResult, requiredFlag, SAGA_REF_HELP, webUiUrl, type CommandSpec } from '../command';
import { ExitCode } from '../errors';
import { stepsTable } from '../status-screen';

// The commands that act on a saga already running: the user's side of a registration (verify,
// resend) and the operator's (cancel, and the two ways out of COMPENSATION_FAILED).

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
  details: [SAGA_REF_HELP, `Codes go out at least ${RESEND_INTERVAL_MS / 1000} s apart and ${MAX_VERIFICATION_SENDS} times at most; requests beyond that are ignored.`],
  options: [],
  async run(ctx, _flags, [ref = '']) {
    const { client, workflowId, handle, description } = await findSaga(ctx, ref, 'registrationSaga');
    assertRunning(workflowId, description.status.name);
    await handle.signal(resendVerificationSignal);
    const state = await client.connection.withDeadline(Date.now() + 3_000, () => handle.query(verificationStateQuery)).catch(() => undefined);
    printResult(ctx, { workflowId, requested: true, ...(state ? { verification: state } : {}) }, `Asked ${workflowId} for a new code${state ? ` (${state.sends} of ${MAX_VERIFICATION_SENDS} e-mails sent so far)` : ''}.`);
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
      printResult(ctx, { workflowId, cancelRequested: true, uiUrl: webUiUrl(ctx, workflowId) }, `Cancellation requested for ${workflowId}. Follow: saga-client status ${workflowId} --watch`);
      return ExitCode.OK;
    }
    const outcome = await sagaOutcome(client, handle, description.type === 'orderSaga' ? describeOrderResult : undefined);
    printResult(ctx, { workflowId, cancelRequested: true, outcome: outcomeJson(outcome) }, `${workflowId} ${outcomeLine(outcome)}`);
    return ExitCode.OK;
  },
};

/** `saga-client retry-compensation <id>`: runs a stuck saga's failed compensations again. */
export const retryCompensation: CommandSpec = {
  name: 'retry-compensation',
  args: ['<id>'],
  summary: 'Run the failed compensations of a saga waiting in COMPENSATION_FAILED again',
  details: [SAGA_REF_HELP, 'Without --wait it returns once the saga accepted the request; a retry round can take as long as the compensation retry policy allows.'],
  options: [{ name: 'wait', type: 'boolean', doc: 'Wait for the retry round to end and show the state after it' }],
  async run(ctx, flags, [ref = '']) {
    const { workflowId, handle } = await findSaga(ctx, ref);
    const update = await handle.startUpdate(retryCompensationUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    if (!flags.wait) {
      printResult(ctx, { workflowId, accepted: true }, `${workflowId} is retrying its compensations. Follow: saga-client status ${workflowId} --watch`);
      return ExitCode.OK;
    }
    const state = await update.result();
    printResult(ctx, { workflowId, accepted: true, state }, `${workflowId}: saga ${state.status} after the retry`, stepsTable(state.steps));
    return state.status === SagaStatus.COMPENSATION_FAILED ? ExitCode.FAILED : ExitCode.OK;
  },
};

/** `saga-client mark-compensated <id> --reason`: closes a stuck saga repaired by hand. */
export const markCompensated: CommandSpec = {
  name: 'mark-compensated',
  args: ['<id>'],
  summary: 'Declare a saga in COMPENSATION_FAILED compensated after repairing it by hand',
  details: [SAGA_REF_HELP],
  options: [{ name: 'reason', type: 'string', arg: '<text>', doc: 'What was repaired, and how (required; kept as the operator note)' }],
  async run(ctx, flags, [ref = '']) {
    const reason = requiredFlag(flags, 'reason', 'mark-compensated');
    const { workflowId, handle } = await findSaga(ctx, ref);
    const state = await handle.executeUpdate(markCompensatedUpdate, { args: [{ reason }] });
    printResult(ctx, { workflowId, state }, `${workflowId}: saga ${state.status}; operator note: ${state.operatorNote ?? reason}`);
    return ExitCode.OK;
  },
};
