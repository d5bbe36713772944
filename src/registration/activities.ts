import { randomInt } from 'node:crypto';
import { idempotencyKey, perCallKey } from '../activities/keys';
import type { MailService, UsersService } from '../services';
import { registrationFailedMail, verificationMail, welcomeMail } from '../services/mail-templates';
import { parseOrFail } from '../shared/validation';
import { newUserInput, registrationFailedInput, userRefInput, verificationCodeInput, verificationEmailInput } from './contract';

/** The services the registration's steps call. */
export interface RegistrationServices {
  users: UsersService;
  mail: MailService;
}

/** Six digits, drawn inside the activity so the code never enters workflow history. */
function newVerificationCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/**
 * The registration saga's steps and compensations. Each validates its input (`InvalidInput` before
 * any write), derives its idempotency key from the activity context and calls one service.
 */
export function createRegistrationActivities({ users, mail }: RegistrationServices) {
  return {
    /**
     * Mails a fresh verification code and makes it the user's only valid code. The code exists only
     * here, in the stored hash's input and in the e-mail: never in this activity's input or result.
     */
    async sendVerificationEmail(input: { userId: string; email: string; name: string; sequence: number }): Promise<{ messageId: string; expiresAt?: string }> {
      const { userId, email, name, sequence } = parseOrFail(verificationEmailInput, 'sendVerificationEmail input', input);
      const code = newVerificationCode();
      return users.issueVerificationCode({
        key: idempotencyKey(`mail/verification/${sequence}`),
        userId,
        sequence,
        code,
        to: email,
        message: verificationMail({ name, code, sequence }),
      });
    },

    /** Mails the welcome message after activation. */
    async sendWelcomeEmail(input: { userId: string; email: string; name: string }): Promise<{ messageId: string }> {
      const { userId, email, name } = parseOrFail(newUserInput, 'sendWelcomeEmail input', input);
      return mail.send({ key: idempotencyKey(`mail/welcome/${userId}`), kind: 'welcome', to: email, ...welcomeMail({ name }) });
    },

    /** Tells the user the registration failed, and why. */
    async sendRegistrationFailedEmail(input: { userId: string; email: string; name: string; reason: string }): Promise<{ messageId: string }> {
      const { userId, email, name, reason } = parseOrFail(registrationFailedInput, 'sendRegistrationFailedEmail input', input);
      return mail.send({ key: idempotencyKey(`mail/registration-failed/${userId}`), kind: 'registration-failed', to: email, ...registrationFailedMail({ name, reason }) });
    },

    /** Creates the pending account (`EmailTaken` when the address has a live account). */
    async createUser(input: { userId: string; email: string; name: string }): Promise<{ userId: string; status: 'pending' }> {
      const v = parseOrFail(newUserInput, 'createUser input', input);
      return users.create({ key: idempotencyKey('createUser'), ...v });
    },

    /** Checks a code the user typed; each scheduled check is its own step, so a retry cannot count twice. */
    async checkVerificationCode(input: { userId: string; code: string }): Promise<{ accepted: boolean; locked?: true }> {
      const { userId, code } = parseOrFail(verificationCodeInput, 'checkVerificationCode input', input);
      return users.checkVerificationCode({ key: perCallKey('checkVerificationCode'), userId, code });
    },

    /** Activates the verified account. */
    async activateUser(input: { userId: string }): Promise<{ status: 'active' }> {
      const { userId } = parseOrFail(userRefInput, 'activateUser input', input);
      return users.activate({ key: idempotencyKey('activateUser'), userId });
    },

    /** Compensation of {@link createUser}. */
    async deleteUser(input: { userId: string }): Promise<{ deleted: boolean }> {
      const { userId } = parseOrFail(userRefInput, 'deleteUser input', input);
      return users.delete({ key: idempotencyKey('createUser'), userId });
    },
  };
}
