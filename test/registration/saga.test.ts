import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../src/shared/failures';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { registrationWorkflowId, startRegistration } from '../../src/registration/start';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { resendVerificationSignal, verificationStateQuery, verifyEmailSignal, verifyEmailUpdate } from '../../src/registration/contract';
import { type registrationSaga } from '../../src/registration/workflow';
import { recordHistory } from '../helpers';
import { useSagaTestbed } from '../support/testbed';
import { sampleRegistration } from '../support/samples';


const testbed = useSagaTestbed();

type Handle = WorkflowHandle<typeof registrationSaga>;

const registration = sampleRegistration;

// The limits as the README states them, not read from the code: changing one is a change of contract.
const MAX_CODE_ATTEMPTS = 5;

async function waitingForCode(handle: Handle): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const { phase } = await handle.query(verificationStateQuery);
    if (phase === 'waiting') return;
    if (phase !== 'sending') throw new Error(`registration is ${phase}, not waiting`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('registration never started waiting for its code');
}

async function codeFor(email: string): Promise<string> {
  const code = await testbed.services.mail.latestVerificationCode(email);
  if (!code) throw new Error(`no verification e-mail to ${email}`);
  return code;
}

/** A code of the right shape that is not `code`. */
function wrong(code: string): string {
  return code === '000000' ? '111111' : '000000';
}

async function failureType(handle: Handle): Promise<string | undefined> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  if (cause instanceof CancelledFailure) return 'Cancelled';
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return (cause as ApplicationFailure).type ?? undefined;
}

/** The undo ran in the required order: the error e-mail went out (or was tried) before the account was deleted. */
async function expectUndone(handle: Handle, input: { userId: string; email: string }): Promise<void> {
  expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
  const kinds = (await testbed.services.mail.outbox({ to: input.email })).map((m) => m.kind);
  expect(kinds[0]).toBe('verification');
  expect(kinds.at(-1)).toBe('registration-failed');
  expect(kinds).not.toContain('welcome');
  const state = await handle.query(sagaStateQuery);
  const mailed = state.steps.find((s) => s.name === 'sendVerification')?.compensation;
  const deleted = state.steps.find((s) => s.name === 'createUser')?.compensation;
  expect(mailed?.status).toBe('done');
  expect(deleted?.status).toBe('done');
  expect(mailed!.endedAt! <= deleted!.startedAt!).toBe(true);
}

describe('registration saga', () => {
  it('activates the account and sends a welcome e-mail when the code is verified in time', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    expect(handle.workflowId).toBe(registrationWorkflowId(input.email));
    expect(handle.workflowId).not.toContain('grace');
    await waitingForCode(handle);
    const answer = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: await codeFor(input.email) }] });
    expect(answer).toEqual({ accepted: true, outcome: 'verified', attemptsLeft: MAX_CODE_ATTEMPTS });
    const result = await handle.result();
    expect(result).toEqual({ userId: input.userId, status: 'ACTIVE', welcomeSent: true });
    expect((await testbed.services.users.get(input.userId))?.status).toBe('active');
    expect((await testbed.services.mail.outbox({ to: input.email })).map((m) => m.kind)).toEqual(['verification', 'welcome']);
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPLETED);
    await recordHistory(handle, 'registration', 'verified');
  });

  it('answers a wrong code with the attempts left, then accepts the right one', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    const code = await codeFor(input.email);
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: wrong(code) }] })).toEqual({
      accepted: false,
      outcome: 'rejected',
      attemptsLeft: MAX_CODE_ATTEMPTS - 1,
    });
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] })).toMatchObject({ accepted: true, outcome: 'verified' });
    expect((await handle.result()).status).toBe('ACTIVE');
  });

  it('accepts the code as a signal, for clients that cannot wait for an answer', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    await handle.signal(verifyEmailSignal, { code: await codeFor(input.email) });
    expect((await handle.result()).status).toBe('ACTIVE');
  });

  it('sends the error e-mail, then deletes the account, after too many wrong codes', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    const code = await codeFor(input.email);
    for (let left = MAX_CODE_ATTEMPTS - 1; left >= 0; left--) {
      const answer = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: wrong(code) }] });
      expect(answer).toEqual({ accepted: false, outcome: left === 0 ? 'locked' : 'rejected', attemptsLeft: left });
    }
    expect(await failureType(handle)).toBe(FailureType.VerificationFailed);
    await expectUndone(handle, input);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(state.failure?.message).toMatch(/wrong 5 times/);
    const [failedMail] = await testbed.services.mail.outbox({ to: input.email, kind: 'registration-failed' });
    expect(failedMail?.text).toMatch(/wrong 5 times/);
    await recordHistory(handle, 'registration', 'too-many-wrong-codes');
  });

  it('locks the address after 10 wrong codes in 24 hours over all its registrations, even to the right code', async () => {
    const email = registration().email;
    // Two registrations of 5 wrong codes each: 10, the mailbox's allowance for 24 hours.
    for (let run = 0; run < 2; run++) {
      const input = registration({ email });
      const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
      await waitingForCode(handle);
      const code = await codeFor(email);
      for (let i = 0; i < MAX_CODE_ATTEMPTS; i++) await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: wrong(code) }] });
      expect(await failureType(handle)).toBe(FailureType.VerificationFailed);
    }
    // A new registration of the address gets no fresh tries: the right code is refused too.
    const input = registration({ email });
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: await codeFor(email) }] })).toEqual({ accepted: false, outcome: 'locked', attemptsLeft: 0 });
    expect(await failureType(handle)).toBe(FailureType.VerificationFailed);
    expect((await handle.query(sagaStateQuery)).failure?.message).toMatch(/locked/);
    expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
    const mails = await testbed.services.mail.outbox({ to: email, kind: 'registration-failed' });
    expect(mails.at(-1)?.text).toMatch(/too many wrong codes were entered for this address/);
  });

  it('refuses a resend inside the rate limit, then sends a new code that replaces the old one', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    const first = await codeFor(input.email);

    await handle.signal(resendVerificationSignal);
    await expect.poll(async () => (await handle.query(verificationStateQuery)).resendsRefused).toBe(1);

    await testbed.env.sleep('61 seconds');
    await handle.signal(resendVerificationSignal);
    await expect.poll(async () => (await testbed.services.mail.outbox({ to: input.email, kind: 'verification' })).length).toBe(2);
    const second = await codeFor(input.email);
    expect((await handle.query(verificationStateQuery)).sends).toBe(2);

    if (first !== second) {
      expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: first }] })).toMatchObject({ accepted: false, outcome: 'rejected' });
    }
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: second }] })).toMatchObject({ accepted: true });
    expect((await handle.result()).status).toBe('ACTIVE');
    await recordHistory(handle, 'registration', 'resent');
  });

  it('undoes the registration when the 24-hour deadline passes, in well under a few seconds', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    const started = performance.now();
    expect(await failureType(handle)).toBe(FailureType.VerificationExpired);
    expect(performance.now() - started).toBeLessThan(5_000);
    await expectUndone(handle, input);
    const history = await handle.fetchHistory();
    const timer = history.events?.find((e) => e.timerStartedEventAttributes);
    expect(Number(timer?.timerStartedEventAttributes?.startToFireTimeout?.seconds)).toBe(24 * 3600);
    expect(timer?.userMetadata?.summary?.data).toBeDefined();
    expect(Buffer.from(timer!.userMetadata!.summary!.data!).toString()).toContain('Waiting up to 24h for e-mail verification');
    expect((await handle.query(sagaStateQuery)).failure?.type).toBe(FailureType.VerificationExpired);
    await recordHistory(handle, 'registration', 'expired');
  });

  it('undoes the registration when the verification e-mail bounces', async () => {
    const input = registration({ email: `nobody${Date.now().toString(36)}@bounce.test` });
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    expect(await failureType(handle)).toBe(FailureType.MailBounced);
    expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
    const outbox = await testbed.services.mail.outbox({ to: input.email });
    expect(outbox.map((m) => [m.kind, m.status])).toEqual([
      ['verification', 'bounced'],
      ['registration-failed', 'bounced'],
    ]);
    await recordHistory(handle, 'registration', 'bounced');
  });

  it('undoes the registration when it is cancelled while waiting for the code', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    await handle.cancel();
    expect(await failureType(handle)).toBe('Cancelled');
    await expectUndone(handle, input);
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.CANCELLED);
    await recordHistory(handle, 'registration', 'cancelled');
  });

  it('lets one address run only one registration at a time', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await expect(startRegistration(testbed.env.client, { ...input, userId: undefined }, { taskQueue: testbed.taskQueue })).rejects.toThrow(/already started|exists/i);
    // Cancel once it waits: the Java test server cannot cancel an activity whose completion races the
    // cancellation (ACTIVITY_UNKNOWN), a case the real server handles.
    await waitingForCode(handle);
    await handle.cancel();
    await failureType(handle);
  });

  it('rejects a verification update that is malformed, without counting an attempt', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await waitingForCode(handle);
    const err = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: 'not a code!' }] }).catch((e: unknown) => e);
    expect((err as Error & { cause?: Error }).cause?.message).toMatch(/code must be/);
    expect((await handle.query(verificationStateQuery)).attemptsLeft).toBe(MAX_CODE_ATTEMPTS);
    await handle.cancel();
    await failureType(handle);
  });
});
