import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { businessFailure, FailureType } from '../shared/failures';
import { compensationStep, forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import { isUniqueViolation, type Db, type Queryable } from './db';
import type { MailContent } from './mail-templates';
import type { SqlMail } from './mail';

export type UserStatus = 'pending' | 'active' | 'deleted';

/**
 * Wrong codes one address may have entered, over all its registrations, before its codes are refused
 * for good: a registration may be started again and again, and each run allows five tries.
 */
export const MAX_FAILED_CHECKS_PER_ADDRESS = 20;

/** A user account. The verification code itself is never stored, only a salted hash of it. */
export interface User {
  userId: string;
  email: string;
  name: string;
  status: UserStatus;
  /** Sequence number of the latest verification code issued, if any. */
  verificationSequence?: number;
  /** Whether a verification code is outstanding (issued and not yet used). */
  codeOutstanding: boolean;
  /** Wrong codes entered so far. */
  failedChecks: number;
  createdAt: string;
  updatedAt: string;
}

/** User accounts and their e-mail verification. */
export interface UsersService {
  /**
   * Creates a pending account. `EmailTaken` when another pending or active account has the address
   * (or the user id is in use by a different registration). A repeated key returns the first result.
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
   * address has had {@link MAX_FAILED_CHECKS_PER_ADDRESS} wrong codes, over all its accounts, every
   * check is refused with `locked: true`. A repeated key returns the first answer.
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

function hashCode(salt: string, code: string): string {
  return createHmac('sha256', salt).update(code).digest('hex');
}

// The message names the user id only: messages are logged by the worker at every failed attempt and
// repeated in the saga's failure, while details travel as a payload, which the codec encrypts.
function emailTaken(userId: string, email: string): Error {
  return businessFailure(FailureType.EmailTaken, `Another account already uses the e-mail address of user ${userId}`, { userId, email });
}

/**
 * {@link UsersService} on the shared database. Verification e-mails go through `mail`, whose
 * transaction also stores the code's hash.
 */
export class SqlUsers implements UsersService {
  constructor(
    private readonly db: Db,
    private readonly mail: SqlMail,
  ) {}

  create(input: { key: string; userId: string; email: string; name: string }): Promise<{ userId: string; status: 'pending' }> {
    const email = input.email.toLowerCase();
    const pending = { userId: input.userId, status: 'pending' as const };
    return this.db.transaction((tx) =>
      forwardStep(tx, 'users', input.key, async () => {
        const now = timestamp();
        const existing = await tx.get<UserRow>(`SELECT ${userColumns} FROM users WHERE user_id = ?`, [input.userId]);
        if (existing && existing.status !== 'deleted') {
          // The same registration run again under a new run id (a reset): the account is already there.
          if (existing.status === 'pending' && existing.email === email) return pending;
          throw businessFailure(FailureType.EmailTaken, `User id ${input.userId} is already registered`, { userId: input.userId });
        }
        if (await tx.get(`SELECT user_id FROM users WHERE email = ? AND status <> 'deleted'`, [email])) throw emailTaken(input.userId, email);
        try {
          if (existing) {
            // The wrong codes of an address stay counted when it registers again under the same id.
            await tx.run(
              `UPDATE users SET failed_checks = CASE WHEN email = ? THEN failed_checks ELSE 0 END, email = ?, name = ?, status = 'pending', created_key = ?,
               code_hash = NULL, code_salt = NULL, code_sequence = NULL, code_issued_at = NULL, updated_at = ? WHERE user_id = ?`,
              [email, email, input.name, input.key, now, input.userId],
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
        [hashCode(salt, input.code), salt, input.sequence, now, now, input.userId, input.sequence],
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
        // Counted per address, over every account it ever had, so that starting the registration
        // again does not buy a guesser more tries.
        const wrong = await tx.get<{ n: number | null }>('SELECT SUM(failed_checks) AS n FROM users WHERE email = ?', [user.email]);
        if (Number(wrong?.n ?? 0) >= MAX_FAILED_CHECKS_PER_ADDRESS) return { accepted: false, locked: true };
        const expected = Buffer.from(user.code_hash, 'hex');
        const actual = Buffer.from(hashCode(user.code_salt, input.code), 'hex');
        const now = timestamp();
        if (!timingSafeEqual(expected, actual)) {
          await tx.run('UPDATE users SET failed_checks = failed_checks + 1, updated_at = ? WHERE user_id = ?', [now, input.userId]);
          return Number(wrong?.n ?? 0) + 1 >= MAX_FAILED_CHECKS_PER_ADDRESS ? { accepted: false, locked: true } : { accepted: false };
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
