import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createServices } from '../../src/services';
import { bounces } from '../../src/services/mail';
import { failureOf, testEngines, useTestServices, type TestDatabase } from '../postgres';

// The mail service's promises beyond sending once per key: which e-mails count against a mailbox's
// daily bound (registration e-mails that were delivered, nothing else), what the outbox lists and
// stores, and the exact refusals a saga records.

const uid = () => randomUUID().slice(0, 8);
const keyOf = (step: string) => `wf-${uid()}/run-1/${step}`;

describe('bounces', () => {
  it('bounces every address at bounce.test, in any case, and no other domain', () => {
    expect(bounces('ada@bounce.test')).toBe(true);
    expect(bounces('Ada@Bounce.TEST')).toBe(true);
    expect(bounces('ada@notbounce.test')).toBe(false);
    expect(bounces('ada@bounce.test.example')).toBe(false);
    expect(bounces('ada@example.com')).toBe(false);
  });
});

describe.each(testEngines())('mail service on $name', (engine) => {
  const services = useTestServices(engine);
  const send = (kind: 'order-confirmation' | 'verification' | 'welcome' | 'registration-failed' | 'operator-alert', to: string, text = 'Hello') =>
    services().mail.send({ key: keyOf(`mail/${kind}`), kind, to, subject: `About ${kind}`, text });

  describe.skipIf(!engine.create)('the daily bound of registration e-mails', () => {
    it('does not count welcomes, order confirmations and operator alerts: ten of them leave the ten registration e-mails', async () => {
      const to = `ada.${uid()}@example.com`;
      for (let i = 0; i < 4; i++) await send('welcome', to);
      for (let i = 0; i < 3; i++) await send('order-confirmation', to);
      for (let i = 0; i < 3; i++) await send('operator-alert', to);
      for (let i = 0; i < 10; i++) await send('registration-failed', to);
      const refused = await failureOf(send('registration-failed', to));
      expect(refused).toMatchObject({
        type: 'MailLimitReached',
        nonRetryable: true,
        message: 'Mail (registration-failed) refused: the mailbox has been sent 10 registration e-mails in the last 24 hours',
      });
      expect(refused.details).toEqual([{ to }]);
      expect(await services().mail.outbox({ to })).toHaveLength(20);
    });

    it('does not count bounced registration e-mails: the eleventh bounces, it is not refused', async () => {
      const to = `ada.${uid()}@bounce.test`;
      for (let i = 0; i < 10; i++) expect((await failureOf(send('registration-failed', to))).type).toBe('MailBounced');
      expect((await failureOf(send('registration-failed', to))).type).toBe('MailBounced');
      expect(await services().mail.outbox({ to })).toHaveLength(11);
    });
  });

  describe.skipIf(!engine.create)('bounces', () => {
    it('fails with MailBounced naming the message id and its kind, the address in the details', async () => {
      const to = `Ada.${uid()}@Bounce.Test`;
      const refused = await failureOf(send('welcome', to));
      const [message] = await services().mail.outbox({ to });
      expect(message).toMatchObject({ kind: 'welcome', to: to.toLowerCase(), status: 'bounced' });
      expect(refused).toMatchObject({ type: 'MailBounced', nonRetryable: true, message: `Mail ${message!.messageId} (welcome) bounced: the mailbox does not exist` });
      expect(refused.details).toEqual([{ to: to.toLowerCase(), messageId: message!.messageId }]);
    });
  });

  describe.skipIf(!engine.create)('the outbox', () => {
    it('lists by address (in any case), by kind, or both, oldest first', async () => {
      const to = `grace.${uid()}@example.com`;
      const other = `alan.${uid()}@example.com`;
      const first = await send('welcome', to, 'one');
      const second = await send('order-confirmation', to, 'two');
      const third = await send('welcome', other, 'three');
      const { mail } = services();
      const mine = await mail.outbox({ to: to.toUpperCase() });
      expect(mine.map((m) => m.messageId).sort()).toEqual([first.messageId, second.messageId].sort());
      // Oldest first; two messages of the same millisecond in the order of their ids.
      const order = (m: { createdAt: string; messageId: string }) => `${m.createdAt} ${m.messageId}`;
      expect(mine.map(order)).toEqual(mine.map(order).sort());
      expect((await mail.outbox({ to, kind: 'welcome' })).map((m) => m.text)).toEqual(['one']);
      const welcomes = (await mail.outbox({ kind: 'welcome' })).map((m) => m.messageId);
      expect(welcomes).toEqual(expect.arrayContaining([first.messageId, third.messageId]));
      expect(welcomes).not.toContain(second.messageId);
      const all = (await mail.outbox()).map((m) => m.messageId);
      expect(all).toEqual(expect.arrayContaining([first.messageId, second.messageId, third.messageId]));
    });

    it('stores every body but a verification e-mail\'s as written', async () => {
      const to = `grace.${uid()}@example.com`;
      await send('welcome', to, 'Welcome aboard, Grace');
      const row = await services().db.get<{ body: string }>('SELECT body FROM outbox WHERE to_address = ?', [to]);
      expect(row).toEqual({ body: 'Welcome aboard, Grace' });
    });

    it('shows a body written before sealing existed as it is', async () => {
      const to = `grace.${uid()}@example.com`;
      const { messageId } = await send('verification', to, 'Your verification code is 246810.');
      await services().db.run('UPDATE outbox SET body = ? WHERE message_id = ?', ['Your verification code is 135791.', messageId]);
      expect((await services().mail.outbox({ to }))[0]?.text).toBe('Your verification code is 135791.');
      expect(await services().mail.latestVerificationCode(to.toUpperCase())).toBe('135791');
    });

    it('finds no code for an address that was sent none, nor for one whose verification e-mail bounced', async () => {
      expect(await services().mail.latestVerificationCode(`nobody.${uid()}@example.com`)).toBeUndefined();
      const bounced = `ada.${uid()}@bounce.test`;
      await failureOf(send('verification', bounced, 'Your verification code is 246810.'));
      expect(await services().mail.latestVerificationCode(bounced)).toBeUndefined();
    });
  });

  describe.skipIf(!engine.create)('a verification e-mail sealed under another key', () => {
    it('is shown as sealed, in those words, by services holding another secret, and yields no code', async () => {
      const database: TestDatabase = await engine.create!();
      const owner = await createServices({ databaseUrl: database.url, faults: {} });
      const other = await createServices({ databaseUrl: database.url, faults: {}, secret: 'a secret other than the one the mail was sealed with' });
      try {
        const to = `grace.${uid()}@example.com`;
        await owner.mail.send({ key: keyOf('mail/verification'), kind: 'verification', to, subject: 'Confirm your e-mail address', text: 'Your verification code is 246810.' });
        expect((await other.mail.outbox({ to }))[0]?.text).toBe('(sealed under another key: this process cannot read it)');
        expect(await other.mail.latestVerificationCode(to)).toBeUndefined();
        expect(await owner.mail.latestVerificationCode(to)).toBe('246810');
      } finally {
        await other.close();
        await owner.close();
        await database.drop();
      }
    });
  });
});

