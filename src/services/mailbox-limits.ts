// Rate limits per mailbox: wrong verification codes and registration e-mails, each counted over a
// sliding 24-hour window. A window rather than a lock for good: a stranger who types wrong codes for
// someone's address gets a few guesses a day, and the owner registers again a day after they stop.
import type { Queryable } from './db';
import { keyedDigest } from './at-rest-keys';

/** Wrong verification codes one mailbox takes in any 24 hours; the next check is refused, even with the right code. */
export const WRONG_CODES_PER_MAILBOX_PER_DAY = 10;
/** Registration e-mails (verification codes, failure notices) one mailbox is sent in any 24 hours. */
export const REGISTRATION_MAILS_PER_MAILBOX_PER_DAY = 10;
/** The window both limits count over. */
export const MAILBOX_LIMIT_WINDOW_MS = 24 * 3_600_000;

/** What a mailbox's limits count. */
export type MailboxEvent = 'wrong-code' | 'registration-mail';

/**
 * The mailbox an address delivers to: lower case, without a `+tag` in its local part, because
 * `ada+1@x` and `ada+2@x` reach the same person and must not each get a fresh budget.
 */
export function mailboxOf(email: string): string {
  const address = email.toLowerCase();
  const at = address.lastIndexOf('@');
  const plus = address.indexOf('+');
  return plus > 0 && plus < at ? `${address.slice(0, plus)}${address.slice(at)}` : address;
}

/**
 * The counters of {@link MailboxEvent}s, in the `mailbox_events` table. Mailboxes are stored as an
 * HMAC of their name, so the table, which outlives deleted accounts, holds no address.
 */
export class MailboxLimits {
  constructor(private readonly key: Buffer) {}

  /**
   * How many `event`s the mailbox of `email` had in the window ending at `nowMs`. Takes the mailbox's
   * row lock until the transaction ends, so two registrations of one mailbox cannot both pass a
   * count taken before either recorded its event.
   */
  async recent(tx: Queryable, email: string, event: MailboxEvent, nowMs: number): Promise<number> {
    const mailbox = this.keyOf(email);
    await tx.run('INSERT INTO mailbox_limits (mailbox_key) VALUES (?) ON CONFLICT (mailbox_key) DO UPDATE SET mailbox_key = excluded.mailbox_key', [mailbox]);
    const row = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM mailbox_events WHERE mailbox_key = ? AND kind = ? AND at_ms > ?', [
      mailbox,
      event,
      nowMs - MAILBOX_LIMIT_WINDOW_MS,
    ]);
    return Number(row?.n ?? 0);
  }

  /** Counts one `event` for the mailbox of `email` at `nowMs`, and forgets its events older than the window. */
  async record(tx: Queryable, email: string, event: MailboxEvent, nowMs: number): Promise<void> {
    const mailbox = this.keyOf(email);
    await tx.run('DELETE FROM mailbox_events WHERE mailbox_key = ? AND at_ms <= ?', [mailbox, nowMs - MAILBOX_LIMIT_WINDOW_MS]);
    await tx.run('INSERT INTO mailbox_events (mailbox_key, kind, at_ms) VALUES (?, ?, ?)', [mailbox, event, nowMs]);
  }

  private keyOf(email: string): string {
    return keyedDigest(this.key, mailboxOf(email));
  }
}
