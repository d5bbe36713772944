// The mails the reconciler finishes forward after a standing pivot, built from the terminated saga's
// own input inside the activity: the address and the name never enter the reconciler's history. Each
// is sent under the key the saga's own step uses, so the mail service sends it once whoever asks.

import type { z } from 'zod';
import { orderInputBeforeStrictTextSchema, orderInputSchema, orderTotalCents } from '../order/contract';
import { registrationInputBeforeStrictTextSchema, registrationInputSchema } from '../registration/contract';
import type { OutgoingMail } from '../services/mail';
import { businessFailure, FailureType } from '../shared/failures';
import { orderConfirmationMail, welcomeMail } from '../services/mail-templates';
import { parseOrFail } from '../shared/validation';
import type { SagaIds } from './contract';

// The saga parsed its input with today's rules, or with the earlier ones it was accepted under.
function parseLikeTheSaga<S extends z.ZodType, E extends z.ZodType>(strict: S, earlier: E, what: string, input: unknown): z.output<S> | z.output<E> {
  const today = strict.safeParse(input);
  return today.success ? today.data : parseOrFail(earlier, what, input);
}

/**
 * By the activity a saga runs after its pivot: the mail that activity sends, given the saga's input,
 * the prefix of the saga's keys (`${workflowId}/${sagaId}/`) and the ids its steps used (a registration
 * started without a user id made one up in its workflow).
 */
export const forwardMails: Readonly<Record<string, (sagaInput: unknown, keyPrefix: string, ids: SagaIds) => OutgoingMail>> = {
  sendOrderConfirmation(sagaInput, keyPrefix) {
    const input = parseLikeTheSaga(orderInputSchema, orderInputBeforeStrictTextSchema, 'order input', sagaInput);
    const itemCount = input.items.reduce((n, item) => n + item.quantity, 0);
    const content = orderConfirmationMail({ orderId: input.orderId, totalCents: orderTotalCents(input.items), currency: input.currency, itemCount });
    return { key: `${keyPrefix}mail/order-confirmation/${input.orderId}`, kind: 'order-confirmation', to: input.email, ...content };
  },
  sendWelcomeEmail(sagaInput, keyPrefix, ids) {
    const input = parseLikeTheSaga(registrationInputSchema, registrationInputBeforeStrictTextSchema, 'registration input', sagaInput);
    const userId = ids.userId ?? input.userId;
    if (!userId) throw businessFailure(FailureType.InvalidInput, 'The welcome e-mail needs the user id the registration activated');
    return { key: `${keyPrefix}mail/welcome/${userId}`, kind: 'welcome', to: input.email, ...welcomeMail({ name: input.name }) };
  },
};
