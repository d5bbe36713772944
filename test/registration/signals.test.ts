import { afterAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Activities } from '../../src/activities';
import { FailureType } from '../../src/shared/failures';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startRegistration } from '../../src/registration/start';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { resendVerificationSignal, verificationStateQuery, verifyEmailSignal, verifyEmailUpdate } from '../../src/registration/contract';
import { type registrationSaga } from '../../src/registration/workflow';
import { recordHistory } from '../helpers';
import { useSagaTestbed } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';

// The registration's signal and update handlers at the edges, on a real dev server: codes that arrive
// while the saga unwinds after a cancellation, a code check that fails on the signal path, and a
// client flooding one registration with messages. In each, the saga must still end undone or done,
// never closed half-way.

let seq = 0;

// Switches the wrapped activities read: a check that fails as if the database were down, a check and an
// error e-mail that each wait until released, to hold the saga while a check runs or while it unwinds.
const control = { checkDown: false, checkCalls: 0, checkStarted: false, releaseCheck: () => undefined as void, errorMailStarted: false, releaseErrorMail: () => undefined as void };
let checkGate: Promise<void> = Promise.resolve();
let errorMailGate: Promise<void> = Promise.resolve();

const testbed = useSagaTestbed({
    server: 'dev-server',
    activities: (real: Activities) => ({
      ...real,
      async checkVerificationCode(input: Parameters<Activities['checkVerificationCode']>[0]) {
        control.checkCalls += 1;
        control.checkStarted = true;
        await checkGate;
        if (control.checkDown) throw ApplicationFailure.create({ type: 'DatabaseUnavailable', message: 'the users database is down', nonRetryable: true });
        return real.checkVerificationCode(input);
      },
      async sendRegistrationFailedEmail(input: Parameters<Activities['sendRegistrationFailedEmail']>[0]) {
        control.errorMailStarted = true;
        await errorMailGate;
        return real.sendRegistrationFailedEmail(input);
      },
    }),
  });

// Runs before the testbed's own teardown, which closes it: a held error e-mail would keep its worker from stopping.
afterAll(() => {
  control.releaseCheck();
  control.releaseErrorMail();
});

type Handle = WorkflowHandle<typeof registrationSaga>;

async function start(): Promise<{ handle: Handle; userId: string; email: string }> {
  seq += 1;
  const userId = `u-sig-${seq}-${Date.now().toString(36)}`;
  const email = `signals${seq}.${Date.now().toString(36)}@example.com`;
  const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper', verificationTimeout: '1h' }, { taskQueue: testbed.taskQueue });
  await waitUntil(async () => (await handle.query(verificationStateQuery)).phase === 'waiting');
  return { handle, userId, email };
}

async function outcome(handle: Handle): Promise<unknown> {
  return handle.result().then(
    (value) => value,
    (err: unknown) => err,
  );
}

async function searchStatus(handle: Handle): Promise<unknown> {
  return (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);
}

describe('codes that arrive after a cancellation', () => {
  it('are refused while the saga unwinds: the account is deleted and the saga ends CANCELLED', async () => {
    const { handle, userId, email } = await start();
    const code = (await testbed.services.mail.latestVerificationCode(email))!;
    control.errorMailStarted = false;
    errorMailGate = new Promise((resolve) => (control.releaseErrorMail = resolve));

    await handle.cancel();
    await waitUntil(() => control.errorMailStarted);
    const checksBefore = control.checkCalls;
    // The right code and wrong ones, by signal and by update, while the error e-mail is in flight.
    await handle.signal(verifyEmailSignal, { code });
    await handle.signal(verifyEmailSignal, { code: '000000' });
    await expect(handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await handle.signal(verifyEmailSignal, { code });
    control.releaseErrorMail();

    const err = await outcome(handle);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
    expect(await searchStatus(handle)).toBe(SagaStatus.CANCELLED);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
    expect(control.checkCalls).toBe(checksBefore);
    expect((await handle.query(verificationStateQuery)).phase).toBe('closed');
    const [mail] = await testbed.services.mail.outbox({ to: email, kind: 'registration-failed' });
    expect(mail?.text).toContain('the registration was cancelled.');
  });
});

describe('codes that arrive after the deadline', () => {
  it('are refused while the saga unwinds: no code check reaches the users service, and the saga ends expired', async () => {
    seq += 1;
    const userId = `u-sig-late-${seq}-${Date.now().toString(36)}`;
    const email = `signals-late${seq}.${Date.now().toString(36)}@example.com`;
    control.errorMailStarted = false;
    errorMailGate = new Promise((resolve) => (control.releaseErrorMail = resolve));
    const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper', verificationTimeout: '3s' }, { taskQueue: testbed.taskQueue });
    await waitUntil(async () => (await testbed.services.mail.latestVerificationCode(email)) !== undefined);
    const code = (await testbed.services.mail.latestVerificationCode(email))!;
    // The deadline passed: the saga stopped waiting and holds in its error e-mail while it unwinds.
    await waitUntil(() => control.errorMailStarted, 30_000);
    const checksBefore = control.checkCalls;
    await handle.signal(verifyEmailSignal, { code });
    await expect(handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await handle.signal(verifyEmailSignal, { code });
    control.releaseErrorMail();

    const err = await outcome(handle);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.VerificationExpired);
    expect(control.checkCalls).toBe(checksBefore);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
  });
});

describe('a code check under way when the registration is cancelled', () => {
  it('is not cancelled but finishes; the update is answered closed and the registration unwinds to CANCELLED', async () => {
    const { handle, userId } = await start();
    control.checkStarted = false;
    checkGate = new Promise((resolve) => (control.releaseCheck = resolve));
    const answer = handle.executeUpdate(verifyEmailUpdate, { args: [{ code: '000000' }] });
    await waitUntil(() => control.checkStarted);

    await handle.cancel();
    await waitUntil(async () => (await handle.fetchHistory()).events!.some((e) => e.workflowExecutionCancelRequestedEventAttributes));
    control.releaseCheck();
    checkGate = Promise.resolve();

    expect(await answer).toEqual({ accepted: false, outcome: 'closed', attemptsLeft: 5 });
    const err = await outcome(handle);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const events = (await handle.fetchHistory()).events!;
    const check = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkVerificationCode');
    expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(false);
    expect(events.some((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(check?.eventId))).toBe(true);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
    await recordHistory(handle, 'registration', 'cancelled-during-code-check-patched');
  });
});

describe('a code check that fails on the signal path', () => {
  it('is logged and leaves the registration waiting, with no attempt used; a later code verifies it', async () => {
    const { handle, userId, email } = await start();
    control.checkDown = true;
    const calls = control.checkCalls;
    await handle.signal(verifyEmailSignal, { code: '123456' });
    await waitUntil(() => control.checkCalls > calls);
    // The failed check is reported to the workflow; give it the task in which it would fail.
    await waitUntil(async () => (await handle.fetchHistory()).events!.some((e) => e.activityTaskFailedEventAttributes));
    const state = await handle.query(verificationStateQuery);
    expect(state).toMatchObject({ phase: 'waiting', attemptsLeft: 5 });
    expect((await handle.describe()).status.name).toBe('RUNNING');

    control.checkDown = false;
    const answer = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: (await testbed.services.mail.latestVerificationCode(email))! }] });
    expect(answer).toMatchObject({ accepted: true, outcome: 'verified' });
    expect(await handle.result()).toMatchObject({ userId, status: 'ACTIVE' });
    expect((await testbed.services.users.get(userId))?.status).toBe('active');
  });
});

describe('a flood of signals and updates against one registration', () => {
  it('ends the registration, undone, after 200 messages, far from the history limit', async () => {
    const { handle, userId } = await start();
    // Malformed codes and resend requests: none of them ends the registration on its own.
    const flood = Array.from({ length: 250 }, (_, i) =>
      (i % 2 === 0 ? handle.signal(verifyEmailSignal, { code: '!' }) : handle.signal(resendVerificationSignal)).catch((err: unknown) => err),
    );
    await Promise.all(flood);

    const err = await outcome(handle);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.VerificationFailed);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    expect((await handle.query(verificationStateQuery)).phase).toBe('flooded');
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
    const events = (await handle.fetchHistory()).events!.length;
    expect(events).toBeLessThan(4 * 250 + 100);
    // Closed: the server refuses anything more.
    await expect(handle.signal(verifyEmailSignal, { code: '123456' })).rejects.toThrow();
    await recordHistory(handle, 'registration', 'flooded');
  });
});
