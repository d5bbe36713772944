import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { businessFailure, FailureType, transientFailure } from '../shared/failures';
import { compensationStep, countAttempt, forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import type { Db, Queryable } from './db';

/**
 * Payment tokens with a fixed outcome, like a card provider's test fixtures. Any other well-formed
 * token is approved.
 */
export const paymentTokens = {
  /** Authorized and captured. */
  approved: 'tok_visa',
  /** Authorization refused: `PaymentDeclined`. */
  declined: 'tok_declined',
  /** Authorization fails transiently on the first {@link FLAKY_FAILURES} attempts per key, then succeeds. */
  flaky: 'tok_flaky',
} as const;

/** How many attempts of one authorization with `tok_flaky` fail before one succeeds. */
export const FLAKY_FAILURES = 2;

export type PaymentStatus = 'authorized' | 'voided' | 'captured' | 'refunded';

/** One money movement. The ledger only grows. */
export interface LedgerEntry {
  kind: 'authorize' | 'capture' | 'refund' | 'void';
  amountCents: number;
  createdAt: string;
}

/** A payment and its ledger. Amounts are integer cents. */
export interface Payment {
  paymentId: string;
  orderId: string;
  token: string;
  currency: string;
  amountCents: number;
  status: PaymentStatus;
  createdAt: string;
  updatedAt: string;
  ledger: LedgerEntry[];
}

/** A card payment provider: authorize, then capture or void; refund what was captured. */
export interface PaymentsService {
  /** Authorizes `amountCents`; `tok_declined` is refused with `PaymentDeclined`. A repeated key returns the first authorization. */
  authorize(input: { key: string; orderId: string; token: string; amountCents: number; currency: string }): Promise<{ paymentId: string; authorizedCents: number }>;
  /** Compensation of `authorize` (same key): releases an authorization that was not captured; otherwise does nothing. */
  void(input: { key: string; orderId: string }): Promise<{ voided: boolean }>;
  /** Captures the whole authorization made under `authorizationKey`. */
  capture(input: { key: string; authorizationKey: string; orderId: string }): Promise<{ paymentId: string; capturedCents: number }>;
  /** Compensation of `capture` (same key): refunds what that capture took. */
  refund(input: { key: string; orderId: string }): Promise<{ refundedCents: number }>;
  /** The latest payment of an order, with its ledger. */
  get(orderId: string): Promise<Payment | undefined>;
}

interface PaymentRow {
  payment_id: string;
  order_id: string;
  token: string;
  currency: string;
  amount_cents: number;
  status: PaymentStatus;
  created_at: string;
  updated_at: string;
}

const paymentColumns = 'payment_id, order_id, token, currency, amount_cents, status, created_at, updated_at';

/** {@link PaymentsService} on the shared database, with the fixture tokens of {@link paymentTokens}. */
export class SqlPayments implements PaymentsService {
  constructor(private readonly db: Db) {}

  async authorize(input: { key: string; orderId: string; token: string; amountCents: number; currency: string }): Promise<{ paymentId: string; authorizedCents: number }> {
    if (input.token === paymentTokens.flaky) {
      // Counted in its own transaction: the count must survive the failure it causes.
      const attempt = await countAttempt(this.db, 'payments', input.key);
      if (attempt <= FLAKY_FAILURES) throw transientFailure(`Payment provider unavailable (tok_flaky, attempt ${attempt})`, 'ProviderUnavailable');
    }
    return this.db.transaction((tx) =>
      forwardStep(tx, 'payments', input.key, async () => {
        if (input.token === paymentTokens.declined) {
          throw businessFailure(FailureType.PaymentDeclined, `Payment declined for order ${input.orderId}`, { orderId: input.orderId });
        }
        const paymentId = `pay-${randomUUID()}`;
        const now = timestamp();
        await tx.run(
          'INSERT INTO payments (payment_id, order_id, idem_key, token, currency, amount_cents, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [paymentId, input.orderId, input.key, input.token, input.currency, input.amountCents, 'authorized', now, now],
        );
        await appendLedger(tx, paymentId, input.orderId, 'authorize', input.amountCents, input.key, now);
        return { paymentId, authorizedCents: input.amountCents };
      }),
    );
  }

  void(input: { key: string; orderId: string }): Promise<{ voided: boolean }> {
    return this.db.transaction((tx) =>
      compensationStep(tx, 'payments', input.key, { voided: false }, async () => {
        const payment = await tx.get<PaymentRow>(`SELECT ${paymentColumns} FROM payments WHERE idem_key = ?`, [input.key]);
        // A captured payment is undone by its refund, not by a void.
        if (!payment) return { voided: false };
        const now = timestamp();
        if (!(await transition(tx, payment.payment_id, 'authorized', 'voided', now))) return { voided: false };
        await appendLedger(tx, payment.payment_id, payment.order_id, 'void', payment.amount_cents, input.key, now);
        return { voided: true };
      }),
    );
  }

  capture(input: { key: string; authorizationKey: string; orderId: string }): Promise<{ paymentId: string; capturedCents: number }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, 'payments', input.key, async () => {
        const payment = await tx.get<PaymentRow>(`SELECT ${paymentColumns} FROM payments WHERE idem_key = ?`, [input.authorizationKey]);
        if (!payment) {
          throw ApplicationFailure.create({
            type: 'PaymentNotAuthorized',
            message: `Order ${input.orderId} has no authorization to capture`,
            nonRetryable: true,
          });
        }
        const now = timestamp();
        if (await transition(tx, payment.payment_id, 'authorized', 'captured', now)) {
          await appendLedger(tx, payment.payment_id, payment.order_id, 'capture', payment.amount_cents, input.key, now);
          return { paymentId: payment.payment_id, capturedCents: payment.amount_cents };
        }
        const current = await tx.get<{ status: PaymentStatus }>('SELECT status FROM payments WHERE payment_id = ?', [payment.payment_id]);
        // Already captured (by an earlier run of the same order): nothing more to take.
        if (current?.status === 'captured') return { paymentId: payment.payment_id, capturedCents: payment.amount_cents };
        throw businessFailure(
          FailureType.StepAlreadyCompensated,
          `Payment ${payment.payment_id} of order ${input.orderId} is ${current?.status ?? 'gone'}; it cannot be captured`,
          { paymentId: payment.payment_id, status: current?.status },
        );
      }),
    );
  }

  refund(input: { key: string; orderId: string }): Promise<{ refundedCents: number }> {
    return this.db.transaction((tx) =>
      compensationStep(tx, 'payments', input.key, { refundedCents: 0 }, async () => {
        const capture = await tx.get<{ payment_id: string; order_id: string; amount_cents: number }>(
          "SELECT payment_id, order_id, amount_cents FROM payment_ledger WHERE idem_key = ? AND kind = 'capture'",
          [input.key],
        );
        if (!capture) return { refundedCents: 0 };
        const now = timestamp();
        if (!(await transition(tx, capture.payment_id, 'captured', 'refunded', now))) return { refundedCents: 0 };
        await appendLedger(tx, capture.payment_id, capture.order_id, 'refund', capture.amount_cents, input.key, now);
        return { refundedCents: capture.amount_cents };
      }),
    );
  }

  async get(orderId: string): Promise<Payment | undefined> {
    const row = await this.db.get<PaymentRow>(`SELECT ${paymentColumns} FROM payments WHERE order_id = ? ORDER BY created_at DESC, payment_id DESC`, [orderId]);
    if (!row) return undefined;
    const ledger = await this.db.all<{ kind: LedgerEntry['kind']; amount_cents: number; created_at: string }>(
      'SELECT kind, amount_cents, created_at FROM payment_ledger WHERE payment_id = ? ORDER BY entry_no',
      [row.payment_id],
    );
    return {
      paymentId: row.payment_id,
      orderId: row.order_id,
      token: row.token,
      currency: row.currency,
      amountCents: row.amount_cents,
      status: row.status,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      ledger: ledger.map((e) => ({ kind: e.kind, amountCents: e.amount_cents, createdAt: e.created_at })),
    };
  }
}

/**
 * Moves a payment from one status to the next, or reports that it was not in `from`. Conditional, so
 * that a capture and a void racing on one payment cannot both succeed.
 */
async function transition(tx: Queryable, paymentId: string, from: PaymentStatus, to: PaymentStatus, now: string): Promise<boolean> {
  return (await tx.run('UPDATE payments SET status = ?, updated_at = ? WHERE payment_id = ? AND status = ?', [to, now, paymentId, from])) === 1;
}

async function appendLedger(tx: Queryable, paymentId: string, orderId: string, kind: LedgerEntry['kind'], amountCents: number, key: string, now: string): Promise<void> {
  // Numbered per payment so the ledger reads in order even when two entries share a millisecond.
  const count = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM payment_ledger WHERE payment_id = ?', [paymentId]);
  await tx.run('INSERT INTO payment_ledger (entry_id, payment_id, entry_no, order_id, kind, amount_cents, idem_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    `le-${randomUUID()}`,
    paymentId,
    (count?.n ?? 0) + 1,
    orderId,
    kind,
    amountCents,
    key,
    now,
  ]);
}
