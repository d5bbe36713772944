import { formatMoney } from '../shared/format';

/** The subject and plain-text body of one e-mail. */
export interface MailContent {
  subject: string;
  text: string;
}

/** Confirms an order that was paid and shipped. */
export function orderConfirmationMail(v: { orderId: string; totalCents: number; currency: string; itemCount: number }): MailContent {
  return {
    subject: `Your order ${v.orderId} is confirmed`,
    text: [
      'Thank you for your order.',
      '',
      `Order: ${v.orderId}`,
      `Items: ${v.itemCount}`,
      `Total charged: ${formatMoney(v.totalCents, v.currency)}`,
      '',
      'We will let you know when the parcel is on its way.',
    ].join('\n'),
  };
}

const codeLine = /Your verification code is ([0-9]{6})\./;

/** Carries the verification code: the only place the code exists in clear. */
export function verificationMail(v: { name: string; code: string; sequence: number }): MailContent {
  return {
    subject: v.sequence > 1 ? 'Your new verification code' : 'Confirm your e-mail address',
    text: [
      `Hello ${v.name},`,
      '',
      `Your verification code is ${v.code}.`,
      v.sequence > 1 ? 'It replaces the codes we sent before.' : 'Enter it to finish your registration.',
      '',
      'If you did not register, ignore this message.',
    ].join('\n'),
  };
}

/** The code in a body written by {@link verificationMail}, or undefined. */
export function extractVerificationCode(text: string): string | undefined {
  return codeLine.exec(text)?.[1];
}

/** Welcomes a user whose address is verified. */
export function welcomeMail(v: { name: string }): MailContent {
  return {
    subject: 'Welcome aboard',
    text: [`Hello ${v.name},`, '', 'Your e-mail address is verified and your account is active.'].join('\n'),
  };
}

/** Tells a user that the registration was undone, and why. */
export function registrationFailedMail(v: { name: string; reason: string }): MailContent {
  return {
    subject: 'Your registration could not be completed',
    text: [`Hello ${v.name},`, '', `We could not complete your registration: ${v.reason.replace(/[.\s]+$/, '')}.`, 'The account and the data you gave us are being deleted. You are welcome to register again.'].join('\n'),
  };
}

/** Asks an operator to look at a saga. */
export function operatorAlertMail(v: { workflowId: string; subject: string; body: string }): MailContent {
  return {
    subject: v.subject,
    text: `${v.body}\n\nWorkflow: ${v.workflowId}`,
  };
}
