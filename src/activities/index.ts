import { randomInt } from 'node:crypto';
import { parseOrFail } from '../schemas';
import type { Services, ShippingAddress, StockLine } from '../services';
import { operatorAlertMail, orderConfirmationMail, registrationFailedMail, verificationMail, welcomeMail } from '../services/mail-templates';
import {
  authorizePaymentInput,
  createShipmentInput,
  newUserInput,
  operatorAlertInput,
  orderConfirmationInput,
  orderRefInput,
  registrationFailedInput,
  reserveStockInput,
  userRefInput,
  verificationCodeInput,
  verificationEmailInput,
} from './inputs';
import { withHeartbeats } from './heartbeat';
import { bindSagaIds, idempotencyKey, perCallKey } from './keys';

export { idempotencyKey, perCallKey } from './keys';

/** What the activities need: the services, and where operator alerts go. */
export type ActivityDeps = Pick<Services, 'inventory' | 'payments' | 'shipping' | 'users' | 'mail' | 'operatorEmail'>;

/** Six digits, drawn inside the activity so the code never enters workflow history. */
function newVerificationCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/**
 * The saga steps as activities: each validates its input (`InvalidInput` before any write), derives its
 * idempotency key from the activity context and the saga id in its input, and calls one service. Every
 * activity heartbeats while it runs, so a dead worker's step is retried within the heartbeat timeout.
 * A compensation uses the key of the step it undoes.
 */
export function createActivities(deps: ActivityDeps) {
  const { inventory, payments, shipping, users, mail } = deps;
  return withHeartbeats(bindSagaIds({
    /** Holds stock for every line of an order, or nothing (`OutOfStock`). */
    async reserveStock(input: { orderId: string; items: StockLine[] }): Promise<{ reservationId: string; units: number }> {
      const { orderId, items } = parseOrFail(reserveStockInput, 'reserveStock input', input);
      return inventory.reserve({ key: idempotencyKey('reserveStock'), orderId, items });
    },

    /** Compensation of {@link reserveStock}. */
    async releaseStock(input: { orderId: string }): Promise<{ released: number }> {
      const { orderId } = parseOrFail(orderRefInput, 'releaseStock input', input);
      return inventory.release({ key: idempotencyKey('reserveStock'), orderId });
    },

    /** Authorizes the order's total (`PaymentDeclined` for `tok_declined`). */
    async authorizePayment(input: { orderId: string; token: string; amountCents: number; currency: string }): Promise<{ paymentId: string; authorizedCents: number }> {
      const valid = parseOrFail(authorizePaymentInput, 'authorizePayment input', input);
      return payments.authorize({ key: idempotencyKey('authorizePayment'), ...valid });
    },

    /** Compensation of {@link authorizePayment}: voids an authorization that was not captured. */
    async voidPayment(input: { orderId: string }): Promise<{ voided: boolean }> {
      const { orderId } = parseOrFail(orderRefInput, 'voidPayment input', input);
      return payments.void({ key: idempotencyKey('authorizePayment'), orderId });
    },

    /** Captures the authorization made by this saga's {@link authorizePayment}. */
    async capturePayment(input: { orderId: string }): Promise<{ paymentId: string; capturedCents: number }> {
      const { orderId } = parseOrFail(orderRefInput, 'capturePayment input', input);
      return payments.capture({ key: idempotencyKey('capturePayment'), authorizationKey: idempotencyKey('authorizePayment'), orderId });
    },

    /** Compensation of {@link capturePayment}. */
    async refundPayment(input: { orderId: string }): Promise<{ refundedCents: number }> {
      const { orderId } = parseOrFail(orderRefInput, 'refundPayment input', input);
      return payments.refund({ key: idempotencyKey('capturePayment'), orderId });
    },

    /** Books a shipment (`Undeliverable` for country `AQ`). */
    async createShipment(input: { orderId: string; address: ShippingAddress; items: StockLine[] }): Promise<{ shipmentId: string; carrier: string; trackingNumber: string }> {
      const { orderId, address, items } = parseOrFail(createShipmentInput, 'createShipment input', input);
      return shipping.create({ key: idempotencyKey('createShipment'), orderId, address, items });
    },

    /** Compensation of {@link createShipment}. */
    async cancelShipment(input: { orderId: string }): Promise<{ cancelled: boolean }> {
      const { orderId } = parseOrFail(orderRefInput, 'cancelShipment input', input);
      return shipping.cancel({ key: idempotencyKey('createShipment'), orderId });
    },

    /** Mails the order confirmation (`MailBounced` for addresses at `bounce.test`). */
    async sendOrderConfirmation(input: { orderId: string; email: string; totalCents: number; currency: string; itemCount: number }): Promise<{ messageId: string }> {
      const v = parseOrFail(orderConfirmationInput, 'sendOrderConfirmation input', input);
      return mail.send({ key: idempotencyKey(`mail/order-confirmation/${v.orderId}`), kind: 'order-confirmation', to: v.email, ...orderConfirmationMail(v) });
    },

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

    /** Mails the configured operator address. One message per scheduled alert. */
    async sendOperatorAlert(input: { workflowId: string; subject: string; body: string }): Promise<{ messageId: string }> {
      const v = parseOrFail(operatorAlertInput, 'sendOperatorAlert input', input);
      return mail.send({ key: perCallKey('mail/operator-alert'), kind: 'operator-alert', to: deps.operatorEmail, ...operatorAlertMail(v) });
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
  }));
}

/** The activities' types, for `proxyActivities<Activities>()` in workflow code. */
export type Activities = ReturnType<typeof createActivities>;
