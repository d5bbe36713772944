import { z } from 'zod';
import { msToNumber, type Duration } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { buildOnce } from '../shared/schema-cache';
import { beforeStrictText, emailSchema, idSchema, textSchema } from '../shared/validation';

// The registration saga's contract: its input, result, messages (update, signals, query) and the
// input of each of its activities. Sandbox-safe: the workflow parses its input with it.

export type RegistrationInput = z.input<typeof registrationInputSchema>;
export type ValidRegistrationInput = z.output<typeof registrationInputSchema>;

/** Wrong codes accepted before the registration fails. */
export const MAX_CODE_ATTEMPTS = 5;
/** Verification e-mails per registration, the first one included. */
export const MAX_VERIFICATION_SENDS = 5;
/** Minimum time between two verification e-mails. */
export const RESEND_INTERVAL_MS = 60_000;
/**
 * Signals and accepted updates (codes and resend requests) one registration takes. Each signal lands in
 * the history whatever the workflow does with it, so past this bound the registration stops waiting and
 * undoes itself while it can, instead of growing until Temporal terminates it with nothing undone.
 */
export const MAX_MESSAGES = 200;
/** What the error e-mail says when the registration was cancelled. */
export const CANCELLED_REASON = 'the registration was cancelled';

/** The answer to a `verifyEmail` update. */
export interface VerificationAnswer {
  accepted: boolean;
  /** `verified`: done; `rejected`: wrong code, try again; `locked`: no attempts left; `closed`: the registration no longer waits for a code. */
  outcome: 'verified' | 'rejected' | 'locked' | 'closed';
  attemptsLeft: number;
}

/** Where the verification stands, for the `verificationState` query. */
export interface VerificationState {
  /** `flooded`: more than {@link MAX_MESSAGES} signals and updates arrived; the registration is undone. */
  phase: 'sending' | 'waiting' | 'verified' | 'locked' | 'expired' | 'flooded' | 'closed';
  attemptsLeft: number;
  sends: number;
  resendsRefused: number;
  /** Workflow time at which an unverified registration is undone (ISO 8601). */
  deadline?: string;
}

/** What a completed registration returns; its step records are in the `sagaState` query, not here. */
export interface RegistrationResult {
  userId: string;
  status: 'ACTIVE';
  welcomeSent: boolean;
}

/**
 * The user proves the address with the code from the verification e-mail. An update, so the caller
 * learns at once whether the code was accepted.
 */
export const verifyEmailUpdate = defineUpdate<VerificationAnswer, [{ code: string }]>('verifyEmail');
/** The same as {@link verifyEmailUpdate} for clients that cannot wait for an answer. */
export const verifyEmailSignal = defineSignal<[{ code: string }]>('verifyEmail');
/** Sends a new code (rate-limited: {@link RESEND_INTERVAL_MS} apart, {@link MAX_VERIFICATION_SENDS} in all). */
export const resendVerificationSignal = defineSignal('resendVerification');
export const verificationStateQuery = defineQuery<VerificationState>('verificationState');

function buildRegistrationSchemas() {
  const nameSchema = textSchema(120);

  /** Input of the registration saga. */
  const registrationInputSchema = z.strictObject({
    userId: idSchema.optional(),
    email: emailSchema,
    name: nameSchema,
    /**
     * How long the user has to verify the address: milliseconds, or a duration such as `"24h"` or
     * `"30 minutes"`. Between one second and 30 days. @default "24h"
     */
    verificationTimeout: z
      .union([z.number(), z.string().max(32)])
      .default('24h')
      .transform((value, ctx) => {
        let ms: number;
        try {
          ms = msToNumber(value as Duration);
        } catch {
          ms = Number.NaN;
        }
        if (!Number.isInteger(ms) || ms < 1_000 || ms > 30 * 24 * 3_600_000) {
          ctx.addIssue({ code: 'custom', message: 'a duration between "1s" and "30d"' });
          return z.NEVER;
        }
        return ms;
      }),
  });

  /**
   * The input rules registrations were started under before addresses had to be ASCII and text was
   * NFKC-normalized and free of invisible characters. The workflow parses a registration started then
   * with these (its patch `registration-strict-input`): today's rules would refuse some of them
   * (`josé@example.com`) and fail, on replay, a registration that is running.
   */
  const registrationInputBeforeStrictTextSchema = registrationInputSchema.extend({
    email: beforeStrictText.emailSchema,
    name: beforeStrictText.textSchema(120),
  });

  // Activity inputs. Unknown keys are dropped rather than refused (`z.object`).
  const userRefInput = z.object({ userId: idSchema });
  const newUserInput = z.object({ userId: idSchema, email: emailSchema, name: nameSchema });
  const verificationEmailInput = z.object({ userId: idSchema, email: emailSchema, name: nameSchema, sequence: z.number().int().min(1).max(100) });
  const registrationFailedInput = z.object({ userId: idSchema, email: emailSchema, name: nameSchema, reason: z.string().trim().min(1).max(500) });
  const verificationCodeInput = z.object({ userId: idSchema, code: z.string().trim().min(1).max(64) });
  return { registrationInputSchema, registrationInputBeforeStrictTextSchema, userRefInput, newUserInput, verificationEmailInput, registrationFailedInput, verificationCodeInput };
}

// Built once per worker thread, not on every workflow start (see shared/schema-cache.ts).
export const { registrationInputSchema, registrationInputBeforeStrictTextSchema, userRefInput, newUserInput, verificationEmailInput, registrationFailedInput, verificationCodeInput } = buildOnce('registration-contract', buildRegistrationSchemas);
