import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verificationMail } from '../../src/services/mail-templates';
import { failureOf, testEngines, useTestServices } from '../postgres';

// The users service through an account's whole life, each answer compared whole: what `get` shows of
// an account, each refusal with its type, its message word for word and its details, and the paths
// the sagas reach only after a reset or a second registration of the same address.

const uid = () => randomUUID().slice(0, 8);

describe.each(testEngines())('users service on $name', (engine) => {
  const services = useTestServices(engine);

  const register = async (userId = `u-${uid()}`, email = `ada.${uid()}@example.com`, key = `wf-${userId}/run-${uid()}/createUser`) => {
    await services().users.create({ key, userId, email, name: 'Ada Lovelace' });
    return { userId, email, key };
  };

  const issue = (userId: string, email: string, sequence: number, code = '123456', run = 'run-1') =>
    services().users.issueVerificationCode({
      key: `wf-${userId}/${run}/mail/verification/${sequence}`,
      userId,
      sequence,
      code,
      to: email,
      message: verificationMail({ name: 'Ada', code, sequence }),
    });

  const check = (userId: string, code: string) => services().users.checkVerificationCode({ key: `wf-${userId}/run-1/check/${uid()}`, userId, code });

  describe.skipIf(!engine.create)('what get shows of an account', () => {
    it('shows a new account as pending, its address in lower case, with no code and no failed check', async () => {
      const userId = `u-${uid()}`;
      const email = `Ada.${uid()}@Example.COM`;
      await register(userId, email);
      expect(await services().users.get(userId)).toEqual({
        userId,
        email: email.toLowerCase(),
        name: 'Ada Lovelace',
        status: 'pending',
        codeOutstanding: false,
        failedChecks: 0,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    });

    it('shows the sequence of the latest code and whether it is still outstanding', async () => {
      const { userId, email } = await register();
      await issue(userId, email, 1, '111111');
      await issue(userId, email, 2, '222222');
      expect(await services().users.get(userId)).toMatchObject({ verificationSequence: 2, codeOutstanding: true });
      expect(await check(userId, '222222')).toEqual({ accepted: true });
      expect(await services().users.get(userId)).toMatchObject({ verificationSequence: 2, codeOutstanding: false, failedChecks: 0 });
    });

    it('answers undefined for a user id nobody registered', async () => {
      expect(await services().users.get(`u-${uid()}`)).toBeUndefined();
    });
  });

  describe.skipIf(!engine.create)('creating an account', () => {
    it('answers a repeated registration of a pending account under a new run as created, and leaves it as it was', async () => {
      const { userId, email } = await register();
      const before = await services().users.get(userId);
      const again = await services().users.create({ key: `wf-${userId}/run-reset/createUser`, userId, email: email.toUpperCase(), name: 'Someone Else' });
      expect(again).toEqual({ userId, status: 'pending' });
      expect(await services().users.get(userId)).toEqual(before);
    });

    it('refuses a user id that belongs to another address with UserIdTaken, its details naming the user id only', async () => {
      const { userId } = await register();
      const refused = await failureOf(services().users.create({ key: `wf-${userId}/run-2/createUser`, userId, email: `eve.${uid()}@example.com`, name: 'Eve' }));
      expect(refused).toMatchObject({ type: 'UserIdTaken', nonRetryable: true, message: `User id ${userId} belongs to another e-mail address: choose another user id` });
      expect(refused.details).toEqual([{ userId }]);
    });

    it('refuses to register an active account again with EmailTaken, saying the user id is registered', async () => {
      const { userId, email } = await register();
      await services().users.activate({ key: `wf-${userId}/run-1/activate`, userId });
      const refused = await failureOf(services().users.create({ key: `wf-${userId}/run-2/createUser`, userId, email, name: 'Ada Lovelace' }));
      expect(refused).toMatchObject({ type: 'EmailTaken', nonRetryable: true, message: `User id ${userId} is already registered` });
      expect(refused.details).toEqual([{ userId }]);
    });

    it('refuses a second account for a live address with EmailTaken, naming the new user id only, the address in the details', async () => {
      const { email } = await register();
      const other = `u-${uid()}`;
      const refused = await failureOf(services().users.create({ key: `wf-${other}/run-1/createUser`, userId: other, email, name: 'Eve' }));
      expect(refused).toMatchObject({ type: 'EmailTaken', nonRetryable: true, message: `Another account already uses the e-mail address of user ${other}` });
      expect(refused.details).toEqual([{ userId: other, email }]);
    });

    it('registers a deleted account again under its own id as a new pending account: the new name, no code left', async () => {
      const { userId, email, key } = await register();
      await issue(userId, email, 1);
      expect(await services().users.delete({ key, userId })).toEqual({ deleted: true });
      await services().users.create({ key: `wf-${userId}/run-2/createUser`, userId, email, name: 'Augusta Ada King' });
      expect(await services().users.get(userId)).toMatchObject({ status: 'pending', name: 'Augusta Ada King', codeOutstanding: false });
      expect(await services().users.get(userId)).not.toHaveProperty('verificationSequence');
      // The first code's sequence is forgotten with it: sequence 1 is issued again.
      await issue(userId, email, 1, '654321', 'run-2');
      expect(await check(userId, '654321')).toEqual({ accepted: true });
    });
  });

  describe.skipIf(!engine.create)('deleting an account', () => {
    it('answers deleted: false when the account was already deleted under another key', async () => {
      const { userId, email, key } = await register();
      // The same registration after a reset: a second create key that ran, for the same account.
      const resetKey = `wf-${userId}/run-reset/createUser`;
      await services().users.create({ key: resetKey, userId, email, name: 'Ada Lovelace' });
      expect(await services().users.delete({ key, userId })).toEqual({ deleted: true });
      expect(await services().users.delete({ key: resetKey, userId })).toEqual({ deleted: false });
      expect(await services().users.get(userId)).toMatchObject({ status: 'deleted' });
    });
  });

  describe.skipIf(!engine.create)('activating an account', () => {
    it('refuses an unknown user with InvalidInput, naming it', async () => {
      const userId = `u-${uid()}`;
      const refused = await failureOf(services().users.activate({ key: `wf-${userId}/run-1/activate`, userId }));
      expect(refused).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: `No user ${userId}` });
      expect(refused.details).toEqual([{ userId }]);
    });

    it('refuses a deleted account with StepAlreadyCompensated, saying why', async () => {
      const { userId, key } = await register();
      await services().users.delete({ key, userId });
      const refused = await failureOf(services().users.activate({ key: `wf-${userId}/run-1/activate`, userId }));
      expect(refused).toMatchObject({ type: 'StepAlreadyCompensated', message: `User ${userId} was deleted; it cannot be activated` });
      expect(refused.details).toEqual([{ userId }]);
    });

    it('makes the account active and forgets its code', async () => {
      const { userId, email } = await register();
      await issue(userId, email, 1);
      expect(await services().users.activate({ key: `wf-${userId}/run-1/activate`, userId })).toEqual({ status: 'active' });
      expect(await services().users.get(userId)).toMatchObject({ status: 'active', codeOutstanding: false });
    });
  });

  describe.skipIf(!engine.create)('issuing a verification code', () => {
    it('refuses an unknown user with InvalidInput and mails nothing', async () => {
      const userId = `u-${uid()}`;
      const email = `nobody.${uid()}@example.com`;
      const refused = await failureOf(issue(userId, email, 1));
      expect(refused).toMatchObject({ type: 'InvalidInput', message: `No user ${userId}` });
      expect(refused.details).toEqual([{ userId }]);
      expect(await services().mail.outbox({ to: email })).toEqual([]);
    });

    it('refuses a deleted account with StepAlreadyCompensated, saying no code is sent', async () => {
      const { userId, email, key } = await register();
      await services().users.delete({ key, userId });
      const refused = await failureOf(issue(userId, email, 1));
      expect(refused).toMatchObject({ type: 'StepAlreadyCompensated', message: `User ${userId} was deleted; no verification code is sent` });
      expect(refused.details).toEqual([{ userId }]);
      expect(await services().mail.outbox({ to: email })).toEqual([]);
    });

    it('refuses an account already verified with InvalidInput', async () => {
      const { userId, email } = await register();
      await services().users.activate({ key: `wf-${userId}/run-1/activate`, userId });
      const refused = await failureOf(issue(userId, email, 1));
      expect(refused).toMatchObject({ type: 'InvalidInput', message: `User ${userId} is already verified` });
      expect(refused.details).toEqual([{ userId }]);
    });

    it('refuses a stale code, naming its sequence and the later one, and keeps the later code in force', async () => {
      const { userId, email } = await register();
      await issue(userId, email, 2, '222222');
      const refused = await failureOf(issue(userId, email, 1, '111111', 'run-2'));
      expect(refused).toMatchObject({ type: 'InvalidInput', message: `Verification code 1 of user ${userId} is stale: code 2 was issued after it` });
      expect(refused.details).toEqual([{ userId, sequence: 1, latest: 2 }]);
      expect(await check(userId, '222222')).toEqual({ accepted: true });
    });

    it('accepts the same sequence again under a new key, the code of the later send in force', async () => {
      const { userId, email } = await register();
      await issue(userId, email, 1, '111111');
      await issue(userId, email, 1, '121212', 'run-2');
      expect(await check(userId, '111111')).toEqual({ accepted: false });
      expect(await check(userId, '121212')).toEqual({ accepted: true });
    });

    it('stores no code when the verification e-mail bounces', async () => {
      const { userId } = await register(`u-${uid()}`, `ada.${uid()}@bounce.test`);
      const bounced = await failureOf(issue(userId, (await services().users.get(userId))!.email, 1));
      expect(bounced).toMatchObject({ type: 'MailBounced' });
      expect(await services().users.get(userId)).toMatchObject({ codeOutstanding: false });
      expect(await services().users.get(userId)).not.toHaveProperty('verificationSequence');
    });
  });

  describe.skipIf(!engine.create)('checking a code', () => {
    it('refuses every code for an unknown user and for an account with no code issued, counting nothing', async () => {
      expect(await check(`u-${uid()}`, '123456')).toEqual({ accepted: false });
      const { userId } = await register();
      expect(await check(userId, '123456')).toEqual({ accepted: false });
      expect(await services().users.get(userId)).toMatchObject({ failedChecks: 0 });
    });

    it('refuses the right code for an account that is no longer pending, even with a code still stored', async () => {
      const { userId, email } = await register();
      await issue(userId, email, 1, '123456');
      await services().db.run("UPDATE users SET status = 'active' WHERE user_id = ?", [userId]);
      expect(await check(userId, '123456')).toEqual({ accepted: false });
    });

    it('answers a stored hash of the wrong length as a wrong code, without an error', async () => {
      const { userId, email } = await register();
      await issue(userId, email, 1, '123456');
      await services().db.run("UPDATE users SET code_hash = 'p1:abc' WHERE user_id = ?", [userId]);
      expect(await check(userId, '123456')).toEqual({ accepted: false });
      expect(await services().users.get(userId)).toMatchObject({ failedChecks: 1 });
    });
  });
});
