import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../../src/shared/failures';
import { audit, type ServiceName, type Services } from '../../src/services';
import { verificationMail } from '../../src/services/mail-templates';
import { failureOf, testEngines, useTestServices } from '../postgres';

/** What one test of a step needs: a fresh key and fresh ids. */
interface StepContext {
  key: string;
  orderId: string;
  userId: string;
}

/** A forward step and its compensation, with how to count what they did. */
interface StepPair {
  name: string;
  service: ServiceName;
  setup?: (s: Services, c: StepContext) => Promise<unknown>;
  forward: (s: Services, c: StepContext) => Promise<unknown>;
  compensate: (s: Services, c: StepContext) => Promise<unknown>;
  /** What a compensation returns when the forward step never ran. */
  nothingToUndo: unknown;
  /** Rows the forward step wrote under the key, whatever became of them since. */
  effects: string;
  /** Of those, the ones still in force (not undone). */
  live: string;
}

const address = { name: 'Ada Lovelace', line1: '1 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' };
const authKeyOf = (c: StepContext) => `${c.key}-authorization`;

const pairs: StepPair[] = [
  {
    name: 'reserveStock / releaseStock',
    service: 'inventory',
    forward: (s, c) => s.inventory.reserve({ key: c.key, orderId: c.orderId, items: [{ sku: 'sku-widget', quantity: 2 }] }),
    compensate: (s, c) => s.inventory.release({ key: c.key, orderId: c.orderId }),
    nothingToUndo: { released: 0 },
    effects: 'SELECT COUNT(*) AS n FROM reservations WHERE idem_key = ?',
    live: "SELECT COUNT(*) AS n FROM reservations WHERE idem_key = ? AND status = 'held'",
  },
  {
    name: 'authorizePayment / voidPayment',
    service: 'payments',
    forward: (s, c) => s.payments.authorize({ key: c.key, orderId: c.orderId, token: 'tok_visa', amountCents: 1999, currency: 'EUR' }),
    compensate: (s, c) => s.payments.void({ key: c.key, orderId: c.orderId }),
    nothingToUndo: { voided: false },
    effects: "SELECT COUNT(*) AS n FROM payment_ledger WHERE idem_key = ? AND kind = 'authorize'",
    live: "SELECT COUNT(*) AS n FROM payments WHERE idem_key = ? AND status = 'authorized'",
  },
  {
    name: 'capturePayment / refundPayment',
    service: 'payments',
    setup: (s, c) => s.payments.authorize({ key: authKeyOf(c), orderId: c.orderId, token: 'tok_visa', amountCents: 4200, currency: 'EUR' }),
    forward: (s, c) => s.payments.capture({ key: c.key, authorizationKey: authKeyOf(c), orderId: c.orderId }),
    compensate: (s, c) => s.payments.refund({ key: c.key, orderId: c.orderId }),
    nothingToUndo: { refundedCents: 0 },
    effects: "SELECT COUNT(*) AS n FROM payment_ledger WHERE idem_key = ? AND kind = 'capture'",
    live: "SELECT COUNT(*) AS n FROM payment_ledger l JOIN payments p ON p.payment_id = l.payment_id WHERE l.idem_key = ? AND l.kind = 'capture' AND p.status = 'captured'",
  },
  {
    name: 'createShipment / cancelShipment',
    service: 'shipping',
    forward: (s, c) => s.shipping.create({ key: c.key, orderId: c.orderId, address, items: [{ sku: 'sku-widget', quantity: 2 }] }),
    compensate: (s, c) => s.shipping.cancel({ key: c.key, orderId: c.orderId }),
    nothingToUndo: { cancelled: false },
    effects: 'SELECT COUNT(*) AS n FROM shipments WHERE idem_key = ?',
    live: "SELECT COUNT(*) AS n FROM shipments WHERE idem_key = ? AND status = 'created'",
  },
  {
    name: 'createUser / deleteUser',
    service: 'users',
    forward: (s, c) => s.users.create({ key: c.key, userId: c.userId, email: `${c.userId}@example.com`, name: 'Grace' }),
    compensate: (s, c) => s.users.delete({ key: c.key, userId: c.userId }),
    nothingToUndo: { deleted: false },
    effects: 'SELECT COUNT(*) AS n FROM users WHERE created_key = ?',
    live: "SELECT COUNT(*) AS n FROM users WHERE created_key = ? AND status <> 'deleted'",
  },
];

const context = (): StepContext => {
  const id = randomUUID().slice(0, 8);
  return { key: `wf-${id}/run-1/step`, orderId: `o-${id}`, userId: `u-${id}` };
};

describe.each(testEngines())('idempotent steps on $name', (engine) => {
  const services = useTestServices(engine);
  const count = async (sql: string, key: string) => (await services().db.get<{ n: number }>(sql, [key]))?.n ?? 0;

  describe.skipIf(!engine.create).each(pairs)('$name', (pair) => {
    const prepared = async () => {
      const c = context();
      await pair.setup?.(services(), c);
      return c;
    };

    it('returns the first result to a repeated forward call and changes nothing more', async () => {
      const c = await prepared();
      const first = await pair.forward(services(), c);
      expect(await pair.forward(services(), c)).toEqual(first);
      expect(await count(pair.effects, c.key)).toBe(1);
      expect(await count(pair.live, c.key)).toBe(1);
    });

    it('returns the first result to a repeated compensation and undoes only once', async () => {
      const c = await prepared();
      await pair.forward(services(), c);
      const first = await pair.compensate(services(), c);
      expect(first).not.toEqual(pair.nothingToUndo);
      expect(await pair.compensate(services(), c)).toEqual(first);
      expect(await count(pair.live, c.key)).toBe(0);
    });

    it('records a compensation that arrives before its forward call and does nothing else (null compensation)', async () => {
      const c = await prepared();
      expect(await pair.compensate(services(), c)).toEqual(pair.nothingToUndo);
      expect(await count(pair.effects, c.key)).toBe(0);
    });

    it('refuses a forward call that arrives after its compensation with StepAlreadyCompensated', async () => {
      const c = await prepared();
      await pair.compensate(services(), c);
      const failure = await failureOf(pair.forward(services(), c));
      expect(failure).toMatchObject({ type: FailureType.StepAlreadyCompensated, nonRetryable: true });
      expect(await count(pair.effects, c.key)).toBe(0);
    });

    it('keeps the change of a call whose reply was lost, and returns the first result to its retry', async () => {
      const c = await prepared();
      services().faults.set(pair.service, { lostReplyRate: 1 });
      let lost;
      try {
        lost = await failureOf(pair.forward(services(), c));
      } finally {
        services().faults.set(pair.service, undefined);
      }
      expect(lost).toMatchObject({ type: 'LostReply', nonRetryable: false });
      expect(await count(pair.live, c.key)).toBe(1);
      const retried = await pair.forward(services(), c);
      expect(await pair.forward(services(), c)).toEqual(retried);
      expect(await count(pair.effects, c.key)).toBe(1);

      services().faults.set(pair.service, { lostReplyRate: 1 });
      try {
        await failureOf(pair.compensate(services(), c));
      } finally {
        services().faults.set(pair.service, undefined);
      }
      expect(await count(pair.live, c.key)).toBe(0);
      expect(await pair.compensate(services(), c)).not.toEqual(pair.nothingToUndo);
    });

    it('makes exactly one effect from concurrent calls with the same key', async () => {
      const c = await prepared();
      const results = await Promise.all(Array.from({ length: 8 }, () => pair.forward(services(), c)));
      for (const result of results) expect(result).toEqual(results[0]);
      expect(await count(pair.effects, c.key)).toBe(1);
    });

    it('leaves nothing in force when a forward call and its compensation race', async () => {
      const c = await prepared();
      const [forward, compensation] = await Promise.allSettled([pair.forward(services(), c), pair.compensate(services(), c)]);
      expect(compensation.status).toBe('fulfilled');
      if (forward.status === 'rejected') expect(forward.reason).toMatchObject({ type: FailureType.StepAlreadyCompensated });
      expect(await count(pair.live, c.key)).toBe(0);
    });
  });

  describe.skipIf(!engine.create)('mail', () => {
    it('sends one message per key, also to concurrent and retried calls', async () => {
      const { mail } = services();
      const to = `m-${randomUUID().slice(0, 8)}@example.com`;
      const message = { key: `wf-${to}/run-1/mail/welcome/u`, kind: 'welcome' as const, to, subject: 'Hi', text: 'Hello' };
      services().faults.set('mail', { lostReplyRate: 1 });
      try {
        expect((await failureOf(mail.send(message))).type).toBe('LostReply');
      } finally {
        services().faults.set('mail', undefined);
      }
      const results = await Promise.all(Array.from({ length: 5 }, () => mail.send(message)));
      expect(new Set(results.map((r) => r.messageId)).size).toBe(1);
      expect(await mail.outbox({ to })).toHaveLength(1);
    });

    it('keeps the first verification code in force when the send is retried after a lost reply', async () => {
      const { users, mail } = services();
      const userId = `u-${randomUUID().slice(0, 8)}`;
      const email = `${userId}@example.com`;
      await users.create({ key: `wf-${userId}/run-1/createUser`, userId, email, name: 'Grace' });
      const send = (code: string) =>
        users.issueVerificationCode({ key: `wf-${userId}/run-1/mail/verification/1`, userId, sequence: 1, code, to: email, message: verificationMail({ name: 'Grace', code, sequence: 1 }) });
      services().faults.set('mail', { lostReplyRate: 1 });
      try {
        await failureOf(send('111111'));
      } finally {
        services().faults.set('mail', undefined);
      }
      // The retry draws a new code, but the first one was mailed and stays the valid one.
      await send('222222');
      expect(await mail.outbox({ to: email })).toHaveLength(1);
      expect(await mail.latestVerificationCode(email)).toBe('111111');
      expect(await users.checkVerificationCode({ key: `${userId}/check/1`, userId, code: '222222' })).toEqual({ accepted: false });
      expect(await users.checkVerificationCode({ key: `${userId}/check/2`, userId, code: '111111' })).toEqual({ accepted: true });
    });

    it('answers a retried code check with its first answer, although the code is single-use', async () => {
      const { users } = services();
      const userId = `u-${randomUUID().slice(0, 8)}`;
      const email = `${userId}@example.com`;
      await users.create({ key: `wf-${userId}/run-1/createUser`, userId, email, name: 'Grace' });
      await users.issueVerificationCode({ key: `wf-${userId}/run-1/mail/verification/1`, userId, sequence: 1, code: '777777', to: email, message: verificationMail({ name: 'Grace', code: '777777', sequence: 1 }) });
      const check = { key: `wf-${userId}/run-1/checkVerificationCode/7`, userId, code: '777777' };
      services().faults.set('users', { lostReplyRate: 1 });
      try {
        await failureOf(users.checkVerificationCode(check));
      } finally {
        services().faults.set('users', undefined);
      }
      expect(await users.checkVerificationCode(check)).toEqual({ accepted: true });
      expect(await users.checkVerificationCode({ ...check, key: `${check.key}-again` })).toEqual({ accepted: false });
    });
  });

  describe.skipIf(!engine.create)('audit', () => {
    it('finds no key with two effects and no effect after its compensation', async () => {
      const report = await audit(services());
      expect(report.idempotency).toEqual({ duplicateEffects: [], effectsAfterCompensation: [] });
      expect(report.problems).toEqual([]);
    });

    it('notices a key that produced two effects', async () => {
      const { db, inventory } = services();
      const c = context();
      await inventory.reserve({ key: c.key, orderId: c.orderId, items: [{ sku: 'sku-gadget', quantity: 1 }] });
      // A duplicate written behind the barrier's back, as a broken service would.
      await db.run("INSERT INTO reservations (reservation_id, order_id, idem_key, status, units, created_at) VALUES (?, ?, ?, 'released', 0, ?)", [
        `res-dup-${c.orderId}`,
        c.orderId,
        c.key,
        new Date().toISOString(),
      ]);
      const report = await audit(services());
      expect(report.idempotency.duplicateEffects).toEqual([{ table: 'reservations', key: c.key, count: 2 }]);
      await db.run('DELETE FROM reservations WHERE reservation_id = ?', [`res-dup-${c.orderId}`]);
    });
  });
});
