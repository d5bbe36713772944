import { randomUUID } from 'node:crypto';
import { businessFailure, FailureType } from '../shared/failures';
import { forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import type { Db, Queryable } from './db';
import { extractVerificationCode } from './mail-templates';
import { isSealed, seal, unseal } from './at-rest-keys';
import { REGISTRATION_MAILS_PER_MAILBOX_PER_DAY, type MailboxLimits } from './mailbox-limits';

/** Mail to any address at this domain bounces, like a mail provider's test fixture. */
export const BOUNCE_DOMAIN = 'bounce.test';

/** The kinds of e-mail the sagas send; the outbox is counted by kind. */
export type MailKind = 'order-confirmation' | 'verification' | 'welcome' | 'registration-failed' | 'operator-alert';

// Anyone can make the registration mail these to an address of their choosing, so they count against
// the mailbox's daily bound. A welcome needs the code from a verification e-mail; the others are
// sent to customers who paid, or to the operator.
const registrationMail: ReadonlySet<MailKind> = new Set(['verification', 'registration-failed']);

/** What the outbox shows of a verification e-mail sealed under a key this process does not have. */
const SEALED_UNDER_ANOTHER_KEY = '(sealed under another key: this process cannot read it)';

/** One e-mail to send, with the idempotency key of the step sending it. */
export interface OutgoingMail {
  key: string;
  kind: MailKind;
  to: string;
  subject: string;
  text: string;
}

/** A message as the outbox holds it. */
export interface OutboxMessage {
  messageId: string;
  kind: MailKind;
  to: string;
  subject: string;
  text: string;
  /** `bounced` when the address is at {@link BOUNCE_DOMAIN}. */
  status: 'sent' | 'bounced';
  createdAt: string;
}

/** Sends e-mail. Every message, delivered or bounced, is kept in the outbox. */
export interface MailService {
  /**
   * Sends once per key; a bounce fails with `MailBounced`, now and on every repeat of the key.
   * Verification e-mails and registration failure notices are refused with `MailLimitReached` once
   * the mailbox (the address without its `+tag`) has been sent
   * {@link REGISTRATION_MAILS_PER_MAILBOX_PER_DAY} of them in 24 hours.
   */
  send(message: OutgoingMail): Promise<{ messageId: string }>;
  /** Messages in the outbox, oldest first, optionally only those to one address or of one kind. */
  outbox(filter?: { to?: string; kind?: MailKind }): Promise<OutboxMessage[]>;
  /** The code in the latest verification e-mail delivered to `to`: what a user would read in it. */
  latestVerificationCode(to: string): Promise<string | undefined>;
}

interface OutboxRow {
  message_id: string;
  kind: MailKind;
  to_address: string;
  subject: string;
  body: string;
  status: 'sent' | 'bounced';
  created_at: string;
}

/** Whether mail to `address` bounces. */
export function bounces(address: string): boolean {
  return address.toLowerCase().endsWith(`@${BOUNCE_DOMAIN}`);
}

/**
 * {@link MailService} writing to the outbox table of the shared database (no SMTP transport). The
 * body of a verification e-mail, which carries the code, is stored sealed under `outboxKey`, a key
 * the database never holds; `limits` bounds the registration e-mails per mailbox.
 */
export class SqlMail implements MailService {
  constructor(
    private readonly db: Db,
    private readonly outboxKey: Buffer,
    private readonly limits: MailboxLimits,
  ) {}

  send(message: OutgoingMail): Promise<{ messageId: string }> {
    return this.sendWith(message);
  }

  /**
   * {@link send}, plus `alsoInTransaction`: a change of another service that must commit with the
   * message or not at all (the verification code's hash). It runs only when the message is delivered.
   */
  async sendWith(message: OutgoingMail, alsoInTransaction?: (tx: Queryable) => Promise<void>): Promise<{ messageId: string }> {
    const to = message.to.toLowerCase();
    const outcome = await this.db.transaction((tx) =>
      forwardStep(tx, 'mail', message.key, async () => {
        const bounced = bounces(to);
        const nowMs = Date.now();
        const counted = !bounced && registrationMail.has(message.kind);
        // Refused before anything is written: no message, and no verification code stored.
        if (counted && (await this.limits.recent(tx, to, 'registration-mail', nowMs)) >= REGISTRATION_MAILS_PER_MAILBOX_PER_DAY) {
          throw businessFailure(
            FailureType.MailLimitReached,
            `Mail (${message.kind}) refused: the mailbox has been sent ${REGISTRATION_MAILS_PER_MAILBOX_PER_DAY} registration e-mails in the last 24 hours`,
            { to },
          );
        }
        if (!bounced) await alsoInTransaction?.(tx);
        if (counted) await this.limits.record(tx, to, 'registration-mail', nowMs);
        const messageId = `msg-${randomUUID()}`;
        await tx.run('INSERT INTO outbox (message_id, idem_key, kind, to_address, subject, body, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          messageId,
          message.key,
          message.kind,
          to,
          message.subject,
          message.kind === 'verification' ? seal(this.outboxKey, messageId, message.text) : message.text,
          bounced ? 'bounced' : 'sent',
          timestamp(),
        ]);
        return { messageId, bounced };
      }),
    );
    // The bounce is committed first (it happened, and the outbox shows it), then reported. The message
    // names the message id only (it is logged in clear); the address goes into the encrypted details.
    if (outcome.bounced) {
      throw businessFailure(FailureType.MailBounced, `Mail ${outcome.messageId} (${message.kind}) bounced: the mailbox does not exist`, {
        to,
        messageId: outcome.messageId,
      });
    }
    return { messageId: outcome.messageId };
  }

  async outbox(filter: { to?: string; kind?: MailKind } = {}): Promise<OutboxMessage[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.to !== undefined) {
      where.push('to_address = ?');
      params.push(filter.to.toLowerCase());
    }
    if (filter.kind !== undefined) {
      where.push('kind = ?');
      params.push(filter.kind);
    }
    const rows = await this.db.all<OutboxRow>(
      `SELECT message_id, kind, to_address, subject, body, status, created_at FROM outbox${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, message_id`,
      params,
    );
    return rows.map((row) => ({
      messageId: row.message_id,
      kind: row.kind,
      to: row.to_address,
      subject: row.subject,
      text: this.readBody(row.message_id, row.body),
      status: row.status,
      createdAt: row.created_at,
    }));
  }

  async latestVerificationCode(to: string): Promise<string | undefined> {
    const row = await this.db.get<{ message_id: string; body: string }>(
      "SELECT message_id, body FROM outbox WHERE to_address = ? AND kind = 'verification' AND status = 'sent' ORDER BY created_at DESC, message_id DESC LIMIT 1",
      [to.toLowerCase()],
    );
    return row && extractVerificationCode(this.readBody(row.message_id, row.body));
  }

  // Bodies written before sealing existed are read as they are.
  private readBody(messageId: string, body: string): string {
    if (!isSealed(body)) return body;
    try {
      return unseal(this.outboxKey, messageId, body);
    } catch {
      return SEALED_UNDER_ANOTHER_KEY;
    }
  }
}
