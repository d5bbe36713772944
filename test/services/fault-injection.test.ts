import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServices, FaultInjector, faultConfigFromEnv, type Services } from '../../src/services';
import { FaultConfigError } from '../../src/services/faults';
import { createSqliteDatabase, failureOf, type TestDatabase } from '../postgres';

// The injector does not depend on the engine: these tests use SQLite only. Lost replies on both
// engines are pinned in services.idempotent-steps.test.ts.

const outcomes = async (faults: FaultInjector, calls: number) => {
  const seen: string[] = [];
  for (let i = 0; i < calls; i++) {
    seen.push(await faults.around('payments', 'authorize', async () => 'ok').catch((err: { type?: string }) => err.type ?? 'error'));
  }
  return seen;
};

describe('fault injector', () => {
  it('is off by default: no call is delayed or failed', async () => {
    const seen = await outcomes(new FaultInjector(), 500);
    expect(seen.every((o) => o === 'ok')).toBe(true);
  });

  it('repeats the same failures for the same seed', async () => {
    const config = { seed: 42, payments: { transientErrorRate: 0.5 } };
    const first = await outcomes(new FaultInjector(config), 64);
    expect(await outcomes(new FaultInjector(config), 64)).toEqual(first);
    expect(first).toContain('ok');
    expect(first).toContain('InjectedFault');
    expect(await outcomes(new FaultInjector({ ...config, seed: 43 }), 64)).not.toEqual(first);
  });

  it('fails about the configured share of calls', async () => {
    const seen = await outcomes(new FaultInjector({ seed: 1, payments: { transientErrorRate: 0.3 } }), 2000);
    const share = seen.filter((o) => o === 'InjectedFault').length / seen.length;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
  });

  it('fails a transient fault before the operation runs, and a lost reply after it ran', async () => {
    const faults = new FaultInjector({ seed: 3, mail: { transientErrorRate: 1 } });
    const operation = vi.fn(async () => 'sent');
    expect(await failureOf(faults.around('mail', 'send', operation))).toMatchObject({ type: 'InjectedFault', nonRetryable: false });
    expect(operation).not.toHaveBeenCalled();

    faults.configure({ mail: { lostReplyRate: 1 } });
    expect(await failureOf(faults.around('mail', 'send', operation))).toMatchObject({ type: 'LostReply', nonRetryable: false });
    expect(operation).toHaveBeenCalledTimes(1);
  });

  it('leaves other services alone', async () => {
    const faults = new FaultInjector({ mail: { transientErrorRate: 1, failOperations: ['send'] } });
    expect(await faults.around('inventory', 'reserve', async () => 'held')).toBe('held');
  });

  it('delays calls by the configured latency', async () => {
    vi.useFakeTimers();
    try {
      const faults = new FaultInjector({ shipping: { latencyMs: 250 } });
      let settled = false;
      const call = faults.around('shipping', 'create', async () => 'booked').then((v) => {
        settled = true;
        return v;
      });
      await vi.advanceTimersByTimeAsync(249);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await call).toBe('booked');
    } finally {
      vi.useRealTimers();
    }
  });

  it('reads its configuration from SAGA_FAULTS and rejects a malformed one', () => {
    expect(faultConfigFromEnv({ SAGA_FAULTS: '{"seed":7,"payments":{"failOperations":["refund"],"latencyMs":[5,20]}}', SAGA_FAULTS_ENABLED: 'true' })).toEqual({
      seed: 7,
      payments: { failOperations: ['refund'], latencyMs: [5, 20] },
    });
    expect(faultConfigFromEnv({})).toBeUndefined();
    expect(() => faultConfigFromEnv({ SAGA_FAULTS: '{payments' })).toThrow(FaultConfigError);
    expect(() => faultConfigFromEnv({ SAGA_FAULTS: '{"payments":{"transientErrorRate":2}}' })).toThrow(/payments.transientErrorRate/);
    expect(() => faultConfigFromEnv({ SAGA_FAULTS: '{"billing":{}}' })).toThrow(FaultConfigError);
  });
});

describe('services with faults', () => {
  let database: TestDatabase;
  let services: Services;
  beforeAll(async () => {
    database = await createSqliteDatabase();
    services = await createServices({ databaseUrl: database.url, faults: {}, seed: 99 });
  });
  afterAll(async () => {
    await services?.close();
    await database?.drop();
  });

  it('uses the seed it was given', () => {
    expect(services.faults.seed).toBe(99);
  });

  it('refuses refunds while refund is a failing operation, and refunds once it is cleared at run time', async () => {
    const { payments, faults } = services;
    const orderId = 'o-refund-later';
    await payments.authorize({ key: 'wf/run/authorizePayment', orderId, token: 'tok_visa', amountCents: 900, currency: 'EUR' });
    await payments.capture({ key: 'wf/run/capturePayment', authorizationKey: 'wf/run/authorizePayment', orderId });
    faults.set('payments', { failOperations: ['refund'] });
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(await failureOf(payments.refund({ key: 'wf/run/capturePayment', orderId }))).toMatchObject({ type: 'InjectedFault', nonRetryable: false });
    }
    expect((await payments.get(orderId))?.status).toBe('captured');
    faults.set('payments', undefined);
    expect(await payments.refund({ key: 'wf/run/capturePayment', orderId })).toEqual({ refundedCents: 900 });
  });

  it('reads no SAGA_FAULTS of its own: the entry point reads it once and passes the faults', async () => {
    vi.stubEnv('SAGA_FAULTS', '{"mail":{"lostReplyRate":0.5}}');
    vi.stubEnv('SAGA_FAULTS_ENABLED', 'true');
    const other = await createServices({ databaseUrl: database.url });
    try {
      expect(other.faults.current).toEqual({});
    } finally {
      vi.unstubAllEnvs();
      await other.close();
    }
  });

  it('puts faults around the business operations only, so reads stay reliable', async () => {
    const { payments, faults } = services;
    faults.set('payments', { transientErrorRate: 1 });
    try {
      expect(await failureOf(payments.authorize({ key: 'wf/run2/authorizePayment', orderId: 'o-reads', token: 'tok_visa', amountCents: 100, currency: 'EUR' }))).toMatchObject({
        type: 'InjectedFault',
      });
      expect(await payments.get('o-reads')).toBeUndefined();
    } finally {
      faults.set('payments', undefined);
    }
  });

  it('reaches the verification e-mail the users service sends through the mail', async () => {
    const { users, faults } = services;
    await users.create({ key: 'wf/run3/createUser', userId: 'u-mail-fault', email: 'mail-fault@example.com', name: 'Mia' });
    faults.set('mail', { failOperations: ['send'] });
    try {
      const issued = users.issueVerificationCode({
        key: 'wf/run3/mail/verification/1',
        userId: 'u-mail-fault',
        sequence: 1,
        code: '123456',
        to: 'mail-fault@example.com',
        message: { subject: 'Your code', text: 'Your code is 123456' },
      });
      expect(await failureOf(issued)).toMatchObject({ type: 'InjectedFault', message: expect.stringContaining('mail.send') });
    } finally {
      faults.set('mail', undefined);
    }
  });
});
