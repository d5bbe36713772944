// What travels between the sagas and the carrier: a command (its body, and headers saying where the
// reply goes), and a reply matched to its command by the idempotency key. The body is the service
// call; the headers are the routing, so a command whose body cannot be read can still be answered.
import { z } from 'zod';
import { createShipmentInput, orderRefInput } from '../order/contract';
import { CarrierSubject } from '../broker/carrier-streams';

/** The headers of a command. */
export const CommandHeader = {
  /** JetStream's de-duplication id: {@link commandMessageId}. */
  messageId: 'Nats-Msg-Id',
  /** Subject the reply is published on, under `carrier.replies.`. */
  replyTo: 'Saga-Reply-To',
  /** The waiting activity's task token (base64), echoed in the reply; absent for a request. */
  taskToken: 'Saga-Task-Token',
  /** The idempotency key, echoed in the reply (also in the body). */
  key: 'Saga-Key',
  /** Why a dead letter died (dead letters only). */
  error: 'Saga-Error',
  /** Deliveries a dead letter had (dead letters only). */
  deliveries: 'Saga-Deliveries',
} as const;

const keySchema = z.string().min(1).max(300);

/** A command to the carrier: book a shipment, or cancel the booking made under the same key (the steps' own input schemas, plus the key). */
export const carrierCommandSchema = z.discriminatedUnion('kind', [
  createShipmentInput.extend({ kind: z.literal('create'), key: keySchema }),
  orderRefInput.extend({ kind: z.literal('cancel'), key: keySchema }),
]);
export type CarrierCommand = z.infer<typeof carrierCommandSchema>;
export type CarrierCommandKind = CarrierCommand['kind'];

/** A failure as a reply carries it: the `ApplicationFailure` the waiting step fails with. */
export interface ReplyFailure {
  type: string;
  message: string;
  nonRetryable: boolean;
  /** The failure's details (a refused country), as the in-process call would have given them. */
  details?: unknown[];
}

/** The carrier's answer to one command. */
export type CarrierReply =
  | { key: string; kind: CarrierCommandKind | 'unknown'; taskToken?: string; ok: true; result: unknown }
  | { key: string; kind: CarrierCommandKind | 'unknown'; taskToken?: string; ok: false; failure: ReplyFailure };

export const carrierReplySchema = z.union([
  z.object({ key: z.string(), kind: z.enum(['create', 'cancel', 'unknown']), taskToken: z.string().optional(), ok: z.literal(true), result: z.unknown() }),
  z.object({
    key: z.string(),
    kind: z.enum(['create', 'cancel', 'unknown']),
    taskToken: z.string().optional(),
    ok: z.literal(false),
    failure: z.object({ type: z.string(), message: z.string(), nonRetryable: z.boolean(), details: z.array(z.unknown()).optional() }),
  }),
]);

/** The failure type of a command the carrier gave up on (dead-lettered): the step fails for good. */
export const CARRIER_DEAD_LETTER = 'CarrierDeadLetter';
/** The failure type of a step whose reply did not come in time: retryable, the step publishes again. */
export const CARRIER_REPLY_TIMEOUT = 'CarrierReplyTimeout';

/**
 * The message id of one publish: kind, key and the activity's attempt. JetStream drops a second
 * publish of the same attempt (a client's own retry) within the duplicate window, while a retried
 * step (a new attempt) reaches the carrier again and the barrier answers it with the stored result.
 */
export function commandMessageId(kind: CarrierCommandKind, key: string, attempt: number): string {
  return `${kind}/${key}/${attempt}`;
}

/** The subject a command of `kind` is published on. */
export function commandSubject(kind: CarrierCommandKind): string {
  return `${CarrierSubject.commands}.${kind}`;
}

/** Whether a reply subject is one the carrier may publish on (inside the replies stream). */
export function isReplySubject(subject: string): boolean {
  return subject.startsWith(`${CarrierSubject.replies}.`) && /^[A-Za-z0-9_.-]+$/.test(subject) && !subject.endsWith('.');
}
