import { describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startRegistration } from '../../src/registration/start';
import { resendVerificationSignal, verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import type { registrationSaga } from '../../src/registration/workflow';
import { countInjectedFaults } from '../../scripts/lib/chaos/workload';
import { useSagaTestbed } from '../support/testbed';
import { sampleRegistration } from '../support/samples';

// The first verification e-mail is a forward step: when it cannot go out, the registration is undone.
// It must therefore retry as a forward step does (for up to five minutes), not give up after the five
// attempts of best-effort mail: a mail service failing for a quarter of a minute would otherwise undo a
// registration its customer was about to complete. Under the chaos run's faults (about one call in ten
// failing) that happened to about one registration in a thousand.

const testbed = useSagaTestbed();

type Handle = WorkflowHandle<typeof registrationSaga>;

/** Lets the server's clock run (retry backoffs are timers) until `done` holds. */
async function skipUntil(done: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await done()) return;
    await testbed.env.sleep('2 seconds');
  }
  throw new Error(`never: ${what}`);
}

/** The attempt numbers of the activity `type` that started, from the history. */
async function attemptsOf(handle: Handle, type: string): Promise<number[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).map((e) => String(e.eventId)));
  return events
    .filter((e) => e.activityTaskStartedEventAttributes && scheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0);
}

describe('the first verification e-mail', () => {
  it('is retried past 5 failed attempts (the mail policy gives up there); the registration then waits for its code and completes', async () => {
    const faults = countInjectedFaults(testbed.services.faults);
    testbed.services.faults.set('users', { failOperations: ['issueVerificationCode'] });
    const input = sampleRegistration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    try {
      // Six failures in a row: one more than the mail policy's maximumAttempts of 5.
      await skipUntil(() => faults.failedOperations >= 6, '6 failed attempts at the verification e-mail');
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect((await handle.query(verificationStateQuery)).phase).toBe('sending');
    } finally {
      testbed.services.faults.set('users', undefined);
    }
    await skipUntil(async () => (await handle.query(verificationStateQuery)).phase === 'waiting', 'the registration waiting for its code');
    // The step's activity ran at least 7 times and succeeded on its last attempt: one schedule, no new step.
    const attempts = await attemptsOf(handle, 'sendVerificationEmail');
    expect(attempts.length).toBe(1);
    expect(attempts[0]).toBeGreaterThanOrEqual(7);
    const code = await testbed.services.mail.latestVerificationCode(input.email);
    expect(code).toMatch(/^\d{6}$/);
    expect((await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code! }] })).outcome).toBe('verified');
    expect(await handle.result()).toMatchObject({ userId: input.userId, status: 'ACTIVE' });
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
  });

  it('a cancellation while the first code is still being retried undoes the registration at once: CANCELLED, no code sent, the account deleted', async () => {
    const faults = countInjectedFaults(testbed.services.faults);
    testbed.services.faults.set('users', { failOperations: ['issueVerificationCode'] });
    const input = sampleRegistration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    try {
      await skipUntil(() => faults.failedOperations >= 2, '2 failed attempts at the verification e-mail');
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
    } finally {
      testbed.services.faults.set('users', undefined);
    }
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
    expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
    const kinds = (await testbed.services.mail.outbox({ to: input.email })).map((m) => m.kind);
    expect(kinds).not.toContain('verification');
    expect(await testbed.services.mail.latestVerificationCode(input.email)).toBeUndefined();
  });

  it('a resend stays best-effort: its failure after the mail policy leaves the registration waiting', async () => {
    // The other side of the line drawn above: only the first code is a forward step.
    const input = sampleRegistration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await skipUntil(async () => (await handle.query(verificationStateQuery)).phase === 'waiting', 'the registration waiting for its code');
    const faults = countInjectedFaults(testbed.services.faults);
    testbed.services.faults.set('users', { failOperations: ['issueVerificationCode'] });
    try {
      // Resends are refused within a minute of the last code: let the clock pass that first.
      await testbed.env.sleep('61 seconds');
      await handle.signal(resendVerificationSignal);
      await skipUntil(async () => (await handle.query(sagaStateQuery)).steps.some((s) => s.name === 'resendVerification#2' && s.status === 'failed'), 'the resend giving up');
      expect(faults.failedOperations).toBe(5);
    } finally {
      testbed.services.faults.set('users', undefined);
    }
    const attempts = await attemptsOf(handle, 'sendVerificationEmail');
    expect(attempts).toEqual([1, 5]);
    expect((await handle.query(verificationStateQuery)).phase).toBe('waiting');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.cancel();
    await handle.result().catch(() => undefined);
  });
});
