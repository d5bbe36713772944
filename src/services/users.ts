import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { businessFailure, FailureType } from '../shared/failures';
import { compensationStep, forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import { isUniqueViolation, type Db, type Queryable } from './db';
import type { MailContent } from './mail-templates';
import type { SqlMail } from './mail';
import { keyedDigest } from './at-rest-keys';
import { WRONG_CODES_PER_MAILBOX_PER_DAY, type MailboxLimits } from './mailbox-limits';

export type UserStatus = 'pending' | 'active' | 'deleted';

/** A user account. The verification code itself is never stored, only a peppered hash of it. */
export interface User {
  userId: string;
  email: string;
  name: string;
  status: UserStatus;
  /** Sequence number of the latest verification code issued, if any. */
  verificationSequence?: number;
  /** Whether a verification code is outstanding (issued and not yet used). */
  codeOutstanding: boolean;
  /** Wrong codes entered for this account so far (the rate limit counts per mailbox, apart from this). */
  failedChecks: number;
  createdAt: string;
  updatedAt: string;
}

/** User accounts and their e-mail verification. */
export interface UsersService {
  /**
   * Creates a pending account. `EmailTaken` when another pending or active account has the address
   * (or the user id is in use by a different registration); `UserIdTaken` when the user id belongs to
   * an account, even a deleted one, of another address. A repeated key returns the first result.
   */
  create(input: { key: string; userId: string; email: string; name: string }): Promise<{ userId: string; status: 'pending' }>;
  /** Compensation of `create` (same key): marks the account deleted and forgets any outstanding code. */
  delete(input: { key: string; userId: string }): Promise<{ deleted: boolean }>;
  /** Activates a pending account; refused with `StepAlreadyCompensated` when it was deleted. */
  activate(input: { key: string; userId: string }): Promise<{ status: 'active' }>;
  /**
   * Stores the hash of `code` as the account's only valid code and mails `message` (which carries the
   * code) in one transaction, so a code is valid exactly when its e-mail went out. A repeated key
   * returns the first message and leaves the first code in force.
   */
  issueVerificationCode(input: { key: string; userId: string; sequence: number; code: string; to: string; message: MailContent }): Promise<{ messageId: string }>;
  /**
   * Compares `code` with the latest code in constant time. An accepted code is used up. Once the
   * mailbox has had {@link WRONG_CODES_PER_MAILBOX_PER_DAY} wrong codes in 24 hours, over all its
   * accounts and `+tag` variants, every check is refused with `locked: true` until the oldest of them
   * is 24 hours old. A repeated key returns the first answer.
   */
  checkVerificationCode(input: { key: string; userId: string; code: string }): Promise<{ accepted: boolean; locked?: true }>;
  /** An account, deleted ones included. */
  get(userId: string): Promise<User | undefined>;
}

interface UserRow {
  user_id: string;
  email: string;
  name: string;
  status: UserStatus;
  code_hash: string | null;
  code_salt: string | null;
  code_sequence: number | null;
  failed_checks: number;
  created_at: string;
  updated_at: string;
}

const userColumns = 'user_id, email, name, status, code_hash, code_salt, code_sequence, failed_checks, created_at, updated_at';

// Hashes keyed by the pepper carry this prefix. A bare hex hash is one issued before the pepper
// existed (an HMAC keyed by its own salt): still checked that way, so a registration waiting for its
// code across the upgrade finishes, and never written again.
const PEPPERED = 'p1:';

function hashCode(pepper: Buffer, salt: string, code: string): string {
  return `${PEPPERED}${keyedDigest(pepper, `${salt}:${code}`)}`;
}

function storedHashMatches(pepper: Buffer, row: { code_hash: string; code_salt: string }, code: string): boolean {
  const actual = row.code_hash.startsWith(PEPPERED) ? hashCode(pepper, row.code_salt, code) : createHmac('sha256', row.code_salt).update(code).digest('hex');
  const a = Buffer.from(actual);
  const b = Buffer.from(row.code_hash);
  return a.length === b.length && timingSafeEqual(a, b);
}

// The message names the user id only: messages are logged by the worker at every failed attempt and
// repeated in the saga's failure, while details travel as a payload, which the codec encrypts.
function emailTaken(userId: string, email: string): Error {
  return businessFailure(FailureType.EmailTaken, `Another account already uses the e-mail address of user ${userId}`, { userId, email });
}

/**
 * {@link UsersService} on the shared database. Verification e-mails go through `mail`, whose
 * transaction also stores the code's hash, peppered with `codePepper` (a key the database never
 * holds); wrong codes are counted per mailbox by `limits`.
 */
export class SqlUsers implements UsersService {
  constructor(
    private readonly db: Db,
    private readonly mail: SqlMail,
    private readonly codePepper: Buffer,
    private readonly limits: MailboxLimits,
  ) {}

  create(input: { key: string; userId: string; email: string; name: string }): Promise<{ userId: string; status: 'pending' }> {
    const email = input.email.toLowerCase();
    const pending = { userId: input.userId, status: 'pending' as const };
    return this.db.transaction((tx) =>
      forwardStep(tx, 'users', input.key, async () => {
        const now = timestamp();
        const existing = await tx.get<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = ?`, [input.userId]);
        // A caller-chosen id stays with its address for good: handing it to another address would
        // let one user id alternate between a victim's address and a decoy's.
        if (existing && existing.email !== email) {
          throw businessFailure(FailureType.UserIdTaken, `User id ${input.userId} belongs to another e-mail address: choose another user id`, { userId: input.userId });
        }
        if (existing && existing.status !== 'deleted') {
          // The same registration run again under a new run id (a reset): the account is already there.
          if (existing.status === 'pending') return pending;
          throw businessFailure(FailureType.EmailTaken, `User id ${input.userId} is already registered`, { userId: input.userId });
        }
        if (await tx.get(`SELECT user_id FROM users WHERE email = ? AND status <> 'deleted'`, [email])) throw emailTaken(input.userId, email);
        try {
          if (existing) {
            // The same address registering again under its own id.
            await tx.run(
              `UPDATE users SET name = ?, status = 'pending', created_key = ?,
               code_hash = NULL, code_salt = NULL, code_sequence = NULL, code_issued_at = NULL, updated_at = ? WHERE user_id = ?`,
              [input.name, input.key, now, input.userId],
            );
          } else {
            await tx.run(
              "INSERT INTO users (user_id, email, name, status, created_key, failed_checks, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, 0, ?, ?)",
              [input.userId, email, input.name, input.key, now, now],
            );
          }
        } catch (err) {
          // Another registration for the address committed between the check and the write.
          if (isUniqueViolation(err)) throw emailTaken(input.userId, email);
          throw err;
        }
        return pending;
      }),
    );
  }

  delete(input: { key: string; userId: string }): Promise<{ deleted: boolean }> {
    return this.db.transaction((tx) =>
      compensationStep(tx, 'users', input.key, { deleted: false }, async () => {
        const deleted = await tx.run(
          "UPDATE users SET status = 'deleted', code_hash = NULL, code_salt = NULL, updated_at = ? WHERE user_id = ? AND status <> 'deleted'",
          [timestamp(), input.userId],
        );
        return { deleted: deleted > 0 };
      }),
    );
  }

  activate(input: { key: string; userId: string }): Promise<{ status: 'active' }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, 'users', input.key, async () => {
        const user = await tx.get<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = ?`, [input.userId]);
        if (!user) throw businessFailure(FailureType.InvalidInput, `No user ${input.userId}`, { userId: input.userId });
        if (user.status === 'deleted') {
          throw businessFailure(FailureType.StepAlreadyCompensated, `User ${input.userId} was deleted; it cannot be activated`, { userId: input.userId });
        }
        await tx.run("UPDATE users SET status = 'active', code_hash = NULL, code_salt = NULL, updated_at = ? WHERE user_id = ?", [timestamp(), input.userId]);
        return { status: 'active' as const };
      }),
    );
  }

  issueVerificationCode(input: { key: string; userId: string; sequence: number; code: string; to: string; message: MailContent }): Promise<{ messageId: string }> {
    return this.mail.sendWith({ key: input.key, kind: 'verification', to: input.to, ...input.message }, async (tx) => {
      const salt = randomBytes(16).toString('hex');
      const now = timestamp();
      // A code only replaces an older one: a stale retry of an earlier send must not revive its code.
      const stored = await tx.run(
        `UPDATE users SET code_hash = ?, code_salt = ?, code_sequence = ?, code_issued_at = ?, updated_at = ?
         WHERE user_id = ? AND status = 'pending' AND (code_sequence IS NULL OR code_sequence <= ?)`,
        [hashCode(this.codePepper, salt, input.code), salt, input.sequence, now, now, input.userId, input.sequence],
      );
      if (stored === 1) return;
      await this.refuseCode(tx, input.userId, input.sequence);
    });
  }

  private async refuseCode(tx: Queryable, userId: string, sequence: number): Promise<never> {
    const user = await tx.get<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = ?`, [userId]);
    if (!user) throw businessFailure(FailureType.InvalidInput, `No user ${userId}`, { userId });
    if (user.status === 'deleted') {
      throw businessFailure(FailureType.StepAlreadyCompensated, `User ${userId} was deleted; no verification code is sent`, { userId });
    }
    if (user.status === 'active') throw businessFailure(FailureType.InvalidInput, `User ${userId} is already verified`, { userId });
    throw businessFailure(FailureType.InvalidInput, `Verification code ${sequence} of user ${userId} is stale: code ${user.code_sequence} was issued after it`, {
      userId,
      sequence,
      latest: user.code_sequence,
    });
  }

  checkVerificationCode(input: { key: string; userId: string; code: string }): Promise<{ accepted: boolean; locked?: true }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, 'users', input.key, async (): Promise<{ accepted: boolean; locked?: true }> => {
        const user = await tx.get<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = ?`, [input.userId]);
        if (!user || user.status !== 'pending' || !user.code_hash || !user.code_salt) return { accepted: false };
        const stored = { code_hash: user.code_hash, code_salt: user.code_salt };
        // Counted per mailbox, over every account and +tag variant it ever had, so that starting the
        // registration again does not buy a guesser more tries.
        const nowMs = Date.now();
        const wrong = await this.limits.recent(tx, user.email, 'wrong-code', nowMs);
        if (wrong >= WRONG_CODES_PER_MAILBOX_PER_DAY) return { accepted: false, locked: true };
        const now = timestamp();
        if (!storedHashMatches(this.codePepper, stored, input.code)) {
          await this.limits.record(tx, user.email, 'wrong-code', nowMs);
          await tx.run('UPDATE users SET failed_checks = failed_checks + 1, updated_at = ? WHERE user_id = ?', [now, input.userId]);
          return wrong + 1 >= WRONG_CODES_PER_MAILBOX_PER_DAY ? { accepted: false, locked: true } : { accepted: false };
        }
        // Single use: the code is consumed by the check that accepts it, and only by one.
        const consumed = await tx.run('UPDATE users SET code_hash = NULL, code_salt = NULL, updated_at = ? WHERE user_id = ? AND code_hash = ?', [
          now,
          input.userId,
          user.code_hash,
        ]);
        return { accepted: consumed === 1 };
      }),
    );
  }

  async get(userId: string): Promise<User | undefined> {
    const row = await this.db.get<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = ?`, [userId]);
    return (
      row && {
        userId: row.user_id,
        email: row.email,
        name: row.name,
        status: row.status,
        ...(row.code_sequence === null ? {} : { verificationSequence: row.code_sequence }),
        codeOutstanding: row.code_hash !== null,
        failedChecks: row.failed_checks,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
      }
    );
  }
}
