import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FailureType } from '../../src/shared/failures';
import { createServices, type Services } from '../../src/services';
import { verificationMail } from '../../src/services/mail-templates';
import { failureOf, testEngines, type TestDatabase } from '../postgres';

// What protects an address's verification, at the production defaults, on the real database: wrong
// codes and registration e-mails counted per mailbox over a sliding 24 hours, a user id that stays
// with its address, and codes that a copy of the database does not give away. The numbers are
// written out here, not imported: each one is a promise the documentation makes.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.parse('2026-03-01T08:00:00.000Z');

const uid = () => randomUUID().slice(0, 8);

describe.each(testEngines())('verification limits and codes at rest on $name', (engine) => {
  let database: TestDatabase | undefined;
  let services: Services | undefined;
  const open = () => {
    if (!services) throw new Error(`${engine.name} services are not open`);
    return services;
  };

  beforeAll(async () => {
    if (!engine.create) return;
    database = await engine.create();
    services = await createServices({ databaseUrl: database.url, faults: {} });
  });
  afterAll(async () => {
    await services?.close();
    await database?.drop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Moves the services' clock (Date only: the database drivers keep their real timers). */
  const clockAt = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(ms);
  };

  // Each registration is a run of its own; its compensation undoes its own step (same key).
  const createKeys = new Map<string, string>();
  const create = async (userId: string, email: string) => {
    const key = `wf-${userId}/run-${uid()}/createUser`;
    const created = await open().users.create({ key, userId, email, name: 'Grace Hopper' });
    createKeys.set(userId, key);
    return created;
  };

  /** A pending account of `email` with `code` as its outstanding verification code. */
  async function pendingWithCode(email: string, code = '123456', userId = `u-${uid()}`): Promise<string> {
    await create(userId, email);
    await open().users.issueVerificationCode({ key: `${createKeys.get(userId) ?? ''}/mail/verification/1`, userId, sequence: 1, code, to: email, message: verificationMail({ name: 'Grace', code, sequence: 1 }) });
    return userId;
  }

  const check = (userId: string, code: string) => open().users.checkVerificationCode({ key: `wf-${userId}/run-1/check/${uid()}`, userId, code });

  async function wrongCodes(userId: string, n: number): Promise<unknown[]> {
    const answers: unknown[] = [];
    for (let i = 0; i < n; i++) answers.push(await check(userId, '000000'));
    return answers;
  }

  const deleteAccount = (userId: string) => open().users.delete({ key: createKeys.get(userId) ?? '', userId });

  describe.skipIf(!engine.create)('wrong codes: 10 per mailbox in any 24 hours', () => {
    it('accepts the right code after 9 wrong ones in 24 hours', async () => {
      const userId = await pendingWithCode(`ada.${uid()}@example.com`);
      expect(await wrongCodes(userId, 9)).toEqual(Array.from({ length: 9 }, () => ({ accepted: false })));
      expect(await check(userId, '123456')).toEqual({ accepted: true });
    });

    it('answers the 10th wrong code as locked and refuses the right code after it', async () => {
      const userId = await pendingWithCode(`ada.${uid()}@example.com`);
      const answers = await wrongCodes(userId, 10);
      expect(answers.slice(0, 9)).toEqual(Array.from({ length: 9 }, () => ({ accepted: false })));
      expect(answers[9]).toEqual({ accepted: false, locked: true });
      expect(await check(userId, '123456')).toEqual({ accepted: false, locked: true });
    });

    it('counts over every account of the mailbox: a new registration gets no fresh tries', async () => {
      const email = `ada.${uid()}@example.com`;
      for (let run = 0; run < 2; run++) {
        const attacker = await pendingWithCode(email);
        await wrongCodes(attacker, 5);
        await deleteAccount(attacker);
      }
      const owner = await pendingWithCode(email);
      expect(await check(owner, '123456')).toEqual({ accepted: false, locked: true });
    });

    it('lets the owner in 24 hours after the last wrong code, and not one second before', async () => {
      const email = `ada.${uid()}@example.com`;
      clockAt(START);
      const attacker = await pendingWithCode(email, '111111');
      await wrongCodes(attacker, 10);
      await deleteAccount(attacker);

      const owner = await pendingWithCode(email, '654321');
      clockAt(START + DAY - 1_000);
      expect(await check(owner, '654321')).toEqual({ accepted: false, locked: true });
      clockAt(START + DAY);
      expect(await check(owner, '654321')).toEqual({ accepted: true });
    });

    it('counts ada+1@x and ada+2@x as the mailbox ada@x: a +tag buys no fresh tries', async () => {
      const local = `ada.${uid()}`;
      for (const tag of ['+1', '+2']) {
        const attacker = await pendingWithCode(`${local}${tag}@example.com`);
        await wrongCodes(attacker, 5);
        await deleteAccount(attacker);
      }
      const owner = await pendingWithCode(`${local}@example.com`);
      expect(await check(owner, '123456')).toEqual({ accepted: false, locked: true });
    });
  });

  describe.skipIf(!engine.create)('a caller-chosen user id stays with its address', () => {
    it('refuses it for another address with UserIdTaken, live or deleted, naming neither address', async () => {
      const userId = `u-${uid()}`;
      const victim = `victim.${uid()}@example.com`;
      const decoy = `decoy.${uid()}@example.com`;
      await create(userId, victim);
      const whileLive = await failureOf(create(userId, decoy));
      expect(whileLive).toMatchObject({ type: FailureType.UserIdTaken, nonRetryable: true, message: `User id ${userId} belongs to another e-mail address: choose another user id` });
      await deleteAccount(userId);
      const afterDeletion = await failureOf(create(userId, decoy));
      expect(afterDeletion).toMatchObject({ type: FailureType.UserIdTaken, nonRetryable: true });
      expect(await open().users.get(userId)).toMatchObject({ email: victim, status: 'deleted' });
    });

    it('keeps counting the wrong codes of an address that registers again under its own user id', async () => {
      const userId = `u-${uid()}`;
      const email = `ada.${uid()}@example.com`;
      await pendingWithCode(email, '111111', userId);
      await wrongCodes(userId, 5);
      await deleteAccount(userId);
      await pendingWithCode(email, '222222', userId);
      const answers = await wrongCodes(userId, 5);
      expect(answers[4]).toEqual({ accepted: false, locked: true });
    });
  });

  describe.skipIf(!engine.create)('registration e-mails: 10 per mailbox in any 24 hours', () => {
    const notice = (to: string) => open().mail.send({ key: `wf-${uid()}/run-1/mail/registration-failed`, kind: 'registration-failed', to, subject: 'Your registration could not be completed', text: 'Hello' });

    it('sends the 10th to a mailbox, +tags included, and refuses the 11th with MailLimitReached, storing no code', async () => {
      const local = `ada.${uid()}`;
      clockAt(START);
      for (let i = 1; i <= 9; i++) await notice(`${local}+${i}@example.com`);
      const tenth = await pendingWithCode(`${local}@example.com`, '101010');
      expect(await open().users.get(tenth)).toMatchObject({ codeOutstanding: true });

      const eleventh = `u-${uid()}`;
      await create(eleventh, `${local}+11@example.com`);
      const refused = await failureOf(
        open().users.issueVerificationCode({
          key: `wf-${eleventh}/run-1/mail/verification/1`,
          userId: eleventh,
          sequence: 1,
          code: '111111',
          to: `${local}+11@example.com`,
          message: verificationMail({ name: 'Grace', code: '111111', sequence: 1 }),
        }),
      );
      expect(refused).toMatchObject({ type: FailureType.MailLimitReached, nonRetryable: true });
      expect(refused.message).not.toContain(local);
      expect(await open().users.get(eleventh)).toMatchObject({ codeOutstanding: false });
      expect(await open().mail.outbox({ to: `${local}+11@example.com` })).toEqual([]);
    });

    it('sends again 24 hours after the first of the 10, and not one second before', async () => {
      const to = `ada.${uid()}@example.com`;
      clockAt(START);
      for (let i = 0; i < 10; i++) await notice(to);
      clockAt(START + DAY - 1_000);
      expect(await failureOf(notice(to))).toMatchObject({ type: FailureType.MailLimitReached });
      clockAt(START + DAY);
      await expect(notice(to)).resolves.toEqual({ messageId: expect.stringMatching(/^msg-/) });
    });
  });

  describe.skipIf(!engine.create)('codes at rest', () => {
    it('stores a hash that a copy of the database cannot test guesses against: none of the 1,000,000 codes matches it without the pepper', async () => {
      const code = '424242';
      const userId = await pendingWithCode(`ada.${uid()}@example.com`, code);
      const row = await open().db.get<{ code_hash: string; code_salt: string }>('SELECT code_hash, code_salt FROM users WHERE user_id = ?', [userId]);
      const { code_hash: stored, code_salt: salt } = row!;
      expect(JSON.stringify(row)).not.toContain(code);
      // The attack that worked on an HMAC keyed by the row's own salt: try every code with what the row holds.
      const hex = stored.replace(/^[a-z0-9]+:/, '');
      let matches = 0;
      for (let n = 0; n < 1_000_000; n++) {
        if (createHmac('sha256', salt).update(String(n).padStart(6, '0')).digest('hex') === hex) matches += 1;
      }
      expect(matches).toBe(0);
      expect(await check(userId, code)).toEqual({ accepted: true });
    });

    it('still accepts a code hashed before the upgrade (an HMAC keyed by its salt), so a registration waiting across it finishes', async () => {
      const userId = await pendingWithCode(`ada.${uid()}@example.com`, '717171');
      const salt = 'aa'.repeat(16);
      await open().db.run('UPDATE users SET code_hash = ?, code_salt = ? WHERE user_id = ?', [createHmac('sha256', salt).update('727272').digest('hex'), salt, userId]);
      expect(await check(userId, '717171')).toEqual({ accepted: false });
      expect(await check(userId, '727272')).toEqual({ accepted: true });
    });

    it('refuses the right code to services holding the database but another secret', async () => {
      const code = '515151';
      const userId = await pendingWithCode(`ada.${uid()}@example.com`, code);
      const thief = await createServices({ databaseUrl: database!.url, faults: {}, secret: 'not the secret the worker was given, 32+ chars' });
      try {
        expect(await thief.users.checkVerificationCode({ key: `wf-${userId}/run-1/check/thief`, userId, code })).toEqual({ accepted: false });
      } finally {
        await thief.close();
      }
      expect(await check(userId, code)).toEqual({ accepted: true });
    });

    it('keeps the code out of the outbox table: the body is sealed, and only the secret opens it', async () => {
      const code = '636363';
      const email = `ada.${uid()}@example.com`;
      await pendingWithCode(email, code);
      const rows = await open().db.all<{ body: string }>('SELECT body FROM outbox WHERE to_address = ?', [email]);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.body).not.toContain(code);
      expect(rows[0]?.body).not.toContain('Grace');
      expect(await open().mail.latestVerificationCode(email)).toBe(code);
      expect((await open().mail.outbox({ to: email }))[0]?.text).toContain(`Your verification code is ${code}.`);

      const thief = await createServices({ databaseUrl: database!.url, faults: {}, secret: 'not the secret the worker was given, 32+ chars' });
      try {
        expect(await thief.mail.latestVerificationCode(email)).toBeUndefined();
        expect((await thief.mail.outbox({ to: email }))[0]?.text).not.toContain(code);
      } finally {
        await thief.close();
      }
    });
  });
});
