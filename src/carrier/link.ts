// The worker's side of the carrier: the shipment steps publish their command and complete
// asynchronously, and a reply consumer in the worker process completes or fails each step by its task
// token. While a step waits, the worker heartbeats on its behalf, so a worker that dies is noticed
// within the heartbeat timeout as for every other step. The reconciler, which has no saga step to
// complete, asks the carrier with a request and waits for its reply.
import { Context, CompleteAsyncError } from '@temporalio/activity';
import { ActivityCancelledError, ActivityNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { headers as natsHeaders, nuid, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { CARRIER_COMMANDS_STREAM, CARRIER_REPLIES_STREAM, CarrierSubject, REPLIES_CONSUMER, carrierConsumerConfig, ensureCarrierStreams, ensureConsumer, repliesConsumerConfig } from '../broker/carrier-streams';
import { consumeForever } from '../broker/consume';
import { CARRIER_PROGRESS_SUBJECT, carrierProgressSchema, type CarrierHeartbeat } from './progress';
import { HEARTBEAT_INTERVAL_MS } from '../activities/heartbeat';
import type { ShippingService } from '../services';
import { transientFailure } from '../shared/failures';
import { CARRIER_REPLY_TIMEOUT, CommandHeader, carrierReplySchema, commandMessageId, commandSubject, type CarrierCommand, type CarrierReply, type ReplyFailure } from './protocol';

/** Longest wait of the reconciler's request for the carrier's reply. @default 20 seconds */
export const REQUEST_TIMEOUT_MS = 20_000;

/** Options of {@link startCarrierLink}. */
export interface CarrierLinkOptions {
  /** An open broker connection (`connectBroker`); the link does not close it. */
  connection: NatsConnection;
  /** A Temporal client with the worker's data converter, to complete, fail and heartbeat the waiting steps. */
  client: Client;
  /** Copies of each stream (`SAGA_NATS_REPLICAS`). */
  replicas: number;
  /** Reads of shipments (`get`) go to the database directly. */
  shipping: ShippingService;
  /**
   * How long a step waits for its reply before the worker fails the attempt (retryable, so the step
   * publishes again). @default none: the step's start-to-close timeout decides (30 s for the order's steps)
   */
  replyTimeoutMs?: number;
  /** Longest wait of the reconciler's request. @default {@link REQUEST_TIMEOUT_MS} */
  requestTimeoutMs?: number;
  /** Where problems completing a step are reported. @default a JSON line on stderr */
  warn?: (msg: string, fields: Record<string, unknown>) => void;
}

/** The carrier as the worker reaches it. */
export interface CarrierLink {
  /** Shipping for the order saga's steps: `create` and `cancel` publish and complete asynchronously. */
  shipping: ShippingService;
  /** Shipping for the reconciler: `cancel` publishes and waits for the reply (request/reply). */
  requests: ShippingService;
  /** Stops the reply consumer and the heartbeats (the connection stays open). */
  stop(): Promise<void>;
}

interface Waiting {
  token: Uint8Array;
  since: number;
  /** Deliveries of the command to the carrier so far (its notices on `carrier.progress`). */
  deliveries: number;
}

/** Makes sure the streams and consumers exist, starts the reply consumer, and returns the two shipping facades. */
export async function startCarrierLink(options: CarrierLinkOptions): Promise<CarrierLink> {
  const { connection, client } = options;
  const warn = options.warn ?? ((msg, fields) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg, ...fields })}\n`));
  const jsm = await jetstreamManager(connection);
  await ensureCarrierStreams(jsm, options.replicas);
  // The carrier's consumer too: commands published before the first carrier starts are kept for it.
  await ensureConsumer(jsm, CARRIER_COMMANDS_STREAM, carrierConsumerConfig());
  await ensureConsumer(jsm, CARRIER_REPLIES_STREAM, repliesConsumerConfig());
  const js = jetstream(connection);

  const waiting = new Map<string, Waiting>();
  const heartbeats = setInterval(() => {
    for (const [id, step] of waiting) void beat(id, step);
  }, HEARTBEAT_INTERVAL_MS);
  const beat = async (id: string, step: Waiting) => {
    try {
      if (options.replyTimeoutMs !== undefined && Date.now() - step.since > options.replyTimeoutMs) {
        waiting.delete(id);
        await client.activity.fail(step.token, transientFailure(`The carrier did not reply within ${options.replyTimeoutMs} ms`, CARRIER_REPLY_TIMEOUT));
        return;
      }
      const details: CarrierHeartbeat = { carrier: { deliveries: step.deliveries } };
      await client.activity.heartbeat(step.token, details);
    } catch (err) {
      if (err instanceof ActivityNotFoundError) waiting.delete(id);
      else if (err instanceof ActivityCancelledError) {
        waiting.delete(id);
        await client.activity.reportCancellation(step.token).catch(() => undefined);
      }
    }
  };

  // Delivery notices from the carrier; only the worker waiting for the step keeps the count.
  const progress = connection.subscribe(CARRIER_PROGRESS_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      let body: unknown;
      try {
        body = msg.json();
      } catch {
        return;
      }
      const notice = carrierProgressSchema.safeParse(body);
      const step = notice.success ? waiting.get(notice.data.taskToken) : undefined;
      if (step && notice.success) step.deliveries = Math.max(step.deliveries, notice.data.deliveries);
    },
  });

  const publishCommand = async (command: CarrierCommand, routing: { replyTo: string; taskToken?: string; messageId: string }) => {
    const h = natsHeaders();
    h.set(CommandHeader.replyTo, routing.replyTo);
    h.set(CommandHeader.key, command.key);
    if (routing.taskToken) h.set(CommandHeader.taskToken, routing.taskToken);
    await js.publish(commandSubject(command.kind), JSON.stringify(command), { msgID: routing.messageId, headers: h });
  };

  /** Publishes the step's command with its task token and hands the step to the reply consumer. */
  const sendFromStep = async (command: CarrierCommand): Promise<never> => {
    const { taskToken, attempt } = Context.current().info;
    const id = Buffer.from(taskToken).toString('base64');
    waiting.set(id, { token: taskToken, since: Date.now(), deliveries: 0 });
    try {
      await publishCommand(command, { replyTo: CarrierSubject.taskReplies, taskToken: id, messageId: commandMessageId(command.kind, command.key, attempt) });
    } catch (err) {
      waiting.delete(id);
      throw err;
    }
    throw new CompleteAsyncError();
  };

  const request = async (command: CarrierCommand): Promise<unknown> => {
    const timeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    const replyTo = `${CarrierSubject.requestReplies}.${nuid.next()}`;
    const subscription = connection.subscribe(replyTo, { max: 1, timeout });
    const answer = (async () => {
      for await (const msg of subscription) return carrierReplySchema.parse(msg.json()) as CarrierReply;
      return undefined;
    })();
    try {
      // Each request is a call of its own: its message id never matches a step's or another request's.
      await publishCommand(command, { replyTo, messageId: `${commandMessageId(command.kind, command.key, 0)}/${nuid.next()}` });
    } catch (err) {
      subscription.unsubscribe();
      throw err;
    }
    const reply = await answer.catch(() => undefined);
    if (!reply) throw transientFailure(`The carrier did not reply within ${timeout} ms`, CARRIER_REPLY_TIMEOUT);
    if (reply.ok) return reply.result;
    throw replyFailure(reply.failure);
  };

  const replies = consumeForever(
    js,
    CARRIER_REPLIES_STREAM,
    REPLIES_CONSUMER,
    (msg) =>
      settle(msg, client, waiting).catch((err: unknown) => {
        warn('A carrier reply could not be given to Temporal; it is delivered again', { seq: msg.seq, error: err instanceof Error ? err.message : String(err) });
        msg.nak(1_000);
      }),
    { maxMessages: 64, onError: (err) => warn('Reading carrier replies failed; trying again', { error: err instanceof Error ? err.message : String(err) }) },
  );

  const get = (orderId: string) => options.shipping.get(orderId);
  return {
    shipping: {
      create: (input) => sendFromStep({ kind: 'create', key: input.key, orderId: input.orderId, address: input.address, items: [...input.items] }),
      cancel: (input) => sendFromStep({ kind: 'cancel', key: input.key, orderId: input.orderId }),
      get,
    },
    requests: {
      create: async (input) => (await request({ kind: 'create', key: input.key, orderId: input.orderId, address: input.address, items: [...input.items] })) as Awaited<ReturnType<ShippingService['create']>>,
      cancel: async (input) => (await request({ kind: 'cancel', key: input.key, orderId: input.orderId })) as Awaited<ReturnType<ShippingService['cancel']>>,
      get,
    },
    async stop() {
      clearInterval(heartbeats);
      progress.unsubscribe();
      await replies.stop();
    },
  };
}

/**
 * Completes or fails the step by the task token its reply carries, then acknowledges the reply. A
 * reply for a step already settled (completed, timed out, retried since) is acknowledged and ignored;
 * one Temporal could not take (unreachable) is delivered again.
 */
async function settle(msg: JsMsg, client: Client, waiting: Map<string, Waiting>): Promise<void> {
  const parsed = carrierReplySchema.safeParse(safeJson(msg));
  if (!parsed.success || !parsed.data.taskToken) {
    msg.term('not a step reply');
    return;
  }
  const reply = parsed.data as CarrierReply;
  const id = reply.taskToken!;
  const token = new Uint8Array(Buffer.from(id, 'base64'));
  waiting.delete(id);
  try {
    if (reply.ok) await client.activity.complete(token, reply.result);
    else await client.activity.fail(token, replyFailure(reply.failure));
  } catch (err) {
    if (!(err instanceof ActivityNotFoundError)) throw err;
  }
  msg.ack();
}

/** The failure a reply carries, as the step's `ApplicationFailure`. */
function replyFailure(failure: ReplyFailure): ApplicationFailure {
  return ApplicationFailure.create({ type: failure.type, message: failure.message, nonRetryable: failure.nonRetryable, ...(failure.details ? { details: failure.details } : {}) });
}

function safeJson(msg: JsMsg): unknown {
  try {
    return msg.json();
  } catch {
    return undefined;
  }
}
