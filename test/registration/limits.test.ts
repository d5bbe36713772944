import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/shared/failures';
import { startRegistration } from '../../src/registration/start';
import { resendVerificationSignal, verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import { type registrationSaga } from '../../src/registration/workflow';
import { useSagaTestbed } from '../support/testbed';

// The registration's limits, each pinned at the limit and one past it: wrong codes, verification
// e-mails in all, the time between two of them, and the verification deadline. Time skipping: the
// clock moves with `env.sleep`, and updates are sent while it stands still.

let seq = 0;

const testbed = useSagaTestbed();

type Handle = WorkflowHandle<typeof registrationSaga>;

// The limits as the README states them, not read from the workflow: changing one is a change of
// contract, and these tests are where it shows.
const MAX_CODE_ATTEMPTS = 5;
const MAX_VERIFICATION_SENDS = 5;

async function waitingRegistration(verificationTimeout?: string): Promise<{ handle: Handle; email: string; userId: string }> {
  seq += 1;
  const email = `limits${seq}.${Date.now().toString(36)}@example.com`;
  const userId = `u-limits-${seq}-${Date.now().toString(36)}`;
  const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper', ...(verificationTimeout ? { verificationTimeout } : {}) }, { taskQueue: testbed.taskQueue });
  await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).toBe('waiting');
  return { handle, email, userId };
}

async function latestCode(email: string): Promise<string> {
  const code = await testbed.services.mail.latestVerificationCode(email);
  if (!code) throw new Error(`no verification e-mail to ${email}`);
  return code;
}

const wrong = (code: string) => (code === '000000' ? '111111' : '000000');
const verificationMails = async (email: string) => (await testbed.services.mail.outbox({ to: email, kind: 'verification' })).length;

async function failureType(handle: Handle): Promise<string | undefined> {
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return ((err as WorkflowFailedError).cause as ApplicationFailure).type ?? undefined;
}

describe('wrong verification codes', () => {
  it(`accepts the right code on the last attempt left, after ${MAX_CODE_ATTEMPTS - 1} wrong ones`, async () => {
    const { handle, email, userId } = await waitingRegistration();
    const code = await latestCode(email);
    for (let left = MAX_CODE_ATTEMPTS - 1; left >= 1; left--) {
      expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: wrong(code) }] })).toEqual({ accepted: false, outcome: 'rejected', attemptsLeft: left });
    }
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] })).toEqual({ accepted: true, outcome: 'verified', attemptsLeft: 1 });
    expect((await handle.result()).status).toBe('ACTIVE');
    expect((await testbed.services.users.get(userId))?.status).toBe('active');
  });

  it(`locks on the ${MAX_CODE_ATTEMPTS}th wrong code and refuses the right one after it`, async () => {
    const { handle, email, userId } = await waitingRegistration();
    const code = await latestCode(email);
    for (let left = MAX_CODE_ATTEMPTS - 1; left >= 0; left--) {
      expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: wrong(code) }] })).toMatchObject({ attemptsLeft: left });
    }
    const late = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(Error);
    expect(await failureType(handle)).toBe(FailureType.VerificationFailed);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
  });
});

describe('verification e-mails', () => {
  it(`sends at most ${MAX_VERIFICATION_SENDS} in all: every resend a minute apart goes out up to the cap, the next is refused`, async () => {
    const { handle, email } = await waitingRegistration();
    for (let sends = 2; sends <= MAX_VERIFICATION_SENDS; sends++) {
      await testbed.env.sleep('61 seconds');
      await handle.signal(resendVerificationSignal);
      await expect.poll(() => verificationMails(email), { timeout: 20_000, interval: 25 }).toBe(sends);
    }
    await testbed.env.sleep('61 seconds');
    await handle.signal(resendVerificationSignal);
    await expect.poll(async () => (await handle.query(verificationStateQuery)).resendsRefused, { timeout: 20_000, interval: 25 }).toBe(1);
    expect(await handle.query(verificationStateQuery)).toMatchObject({ phase: 'waiting', sends: MAX_VERIFICATION_SENDS });
    expect(await verificationMails(email)).toBe(MAX_VERIFICATION_SENDS);

    // The last code sent still verifies: the cap refuses e-mails, not the registration.
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: await latestCode(email) }] })).toMatchObject({ outcome: 'verified' });
    expect((await handle.result()).status).toBe('ACTIVE');
  });

  it('refuses a resend 59 seconds after the last e-mail and sends one at 61 seconds', async () => {
    const { handle, email } = await waitingRegistration();
    await testbed.env.sleep('59 seconds');
    await handle.signal(resendVerificationSignal);
    await expect.poll(async () => (await handle.query(verificationStateQuery)).resendsRefused, { timeout: 20_000, interval: 25 }).toBe(1);
    expect(await verificationMails(email)).toBe(1);

    await testbed.env.sleep('2 seconds');
    await handle.signal(resendVerificationSignal);
    await expect.poll(() => verificationMails(email), { timeout: 20_000, interval: 25 }).toBe(2);
    expect((await handle.query(verificationStateQuery)).resendsRefused).toBe(1);
    await handle.cancel();
    await handle.result().catch(() => undefined);
  });
});

describe('registration e-mails per mailbox', () => {
  it('undoes a registration whose mailbox has had its 10 registration e-mails of the last 24 hours, mailing it nothing more', async () => {
    seq += 1;
    const local = `mailbox${seq}.${Date.now().toString(36)}`;
    for (let i = 1; i <= 10; i++) {
      await testbed.services.mail.send({ key: `wf-notice-${local}-${i}/run-1/mail`, kind: 'registration-failed', to: `${local}+${i}@example.com`, subject: 'Notice', text: 'Hello' });
    }
    const email = `${local}@example.com`;
    const userId = `u-limits-${seq}-${Date.now().toString(36)}`;
    const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper' }, { taskQueue: testbed.taskQueue });
    expect(await failureType(handle)).toBe(FailureType.MailLimitReached);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
    expect(await testbed.services.mail.outbox({ to: email })).toEqual([]);
  });
});

describe('the verification deadline', () => {
  // The documented default, left unset: 24 hours.
  it('left unset, accepts the code 24 hours less one second after the start', async () => {
    const { handle, email, userId } = await waitingRegistration();
    await testbed.env.sleep(24 * 3_600_000 - 1_000);
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: await latestCode(email) }] })).toMatchObject({ outcome: 'verified' });
    expect((await handle.result()).status).toBe('ACTIVE');
    expect((await testbed.services.users.get(userId))?.status).toBe('active');
  });

  it('left unset, undoes the registration 24 hours and one second after the start', async () => {
    const { handle, email, userId } = await waitingRegistration();
    const code = await latestCode(email);
    await testbed.env.sleep(24 * 3_600_000 + 1_000);
    await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).not.toBe('waiting');
    const late = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(Error);
    expect(await failureType(handle)).toBe(FailureType.VerificationExpired);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
  });

  it('accepts the code one second before the deadline', async () => {
    const { handle, email, userId } = await waitingRegistration('1 minute');
    await testbed.env.sleep('59 seconds');
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: await latestCode(email) }] })).toMatchObject({ outcome: 'verified' });
    expect((await handle.result()).status).toBe('ACTIVE');
    expect((await testbed.services.users.get(userId))?.status).toBe('active');
  });

  it('undoes the registration one second after the deadline, and the code no longer counts', async () => {
    const { handle, email, userId } = await waitingRegistration('1 minute');
    const code = await latestCode(email);
    await testbed.env.sleep('61 seconds');
    await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).not.toBe('waiting');
    const late = await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(Error);
    expect(await failureType(handle)).toBe(FailureType.VerificationExpired);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
  });
});
