import { ApplicationFailure } from '@temporalio/common';

/**
 * Failure type names of business refusals. They travel as the `type` of non-retryable
 * `ApplicationFailure`s, so retry policies never retry them and workflows can branch on them.
 * Safe to import from workflow code.
 */
export const FailureType = {
  /** Input failed validation; nothing was written. */
  InvalidInput: 'InvalidInput',
  /** A SKU is sold out or short of the quantity asked for (an unknown SKU is `InvalidInput`). */
  OutOfStock: 'OutOfStock',
  /** The payment provider refused the authorization. */
  PaymentDeclined: 'PaymentDeclined',
  /** No carrier serves the shipping address. */
  Undeliverable: 'Undeliverable',
  /** The mail system reported a hard bounce for the address. */
  MailBounced: 'MailBounced',
  /** A forward step arrived after its compensation had already run; it was refused, not applied. */
  StepAlreadyCompensated: 'StepAlreadyCompensated',
  /** A try-confirm-cancel phase was refused: a confirm after a cancel, a cancel after a confirm, or a confirm of a try that never ran. */
  TccPhaseRefused: 'TccPhaseRefused',
  /** The user failed to verify the e-mail address (too many wrong codes). */
  VerificationFailed: 'VerificationFailed',
  /** The e-mail verification deadline passed. */
  VerificationExpired: 'VerificationExpired',
  /** A registration for this e-mail address already exists. */
  EmailTaken: 'EmailTaken',
  /** A caller-chosen user id already belongs to an account of another e-mail address (live or deleted). */
  UserIdTaken: 'UserIdTaken',
  /** The mailbox has been sent as many registration e-mails as it may be in 24 hours. */
  MailLimitReached: 'MailLimitReached',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Every business failure type: retry policies list these as non-retryable. */
export const businessFailureTypes: readonly FailureType[] = Object.values(FailureType);

/** A non-retryable business failure of the given type. */
export function businessFailure(type: FailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

/** A transient failure that the retry policy should retry. */
export function transientFailure(message: string, type = 'TransientFault'): ApplicationFailure {
  return ApplicationFailure.retryable(message, type);
}
