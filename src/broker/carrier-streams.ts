// The carrier's JetStream streams and consumers: commands the sagas send to the carrier, the carrier's
// replies, and the dead letters it gives up on. Every process that speaks to the carrier (the worker,
// the carrier itself) creates or updates them at start, so none depends on another having started first.
import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';

/** The stream of commands to the carrier (`carrier.commands.create`, `carrier.commands.cancel`). */
export const CARRIER_COMMANDS_STREAM = 'CARRIER_COMMANDS';
/** The stream of the carrier's replies (`carrier.replies.task` for saga steps, `carrier.replies.request.<id>` for a request). */
export const CARRIER_REPLIES_STREAM = 'CARRIER_REPLIES';
/** The stream of commands the carrier gave up on (`carrier.dead.<kind>`), kept for an operator to inspect. */
export const CARRIER_DEAD_LETTERS_STREAM = 'CARRIER_DEAD_LETTERS';

/** Subject prefixes of the three streams. */
export const CarrierSubject = {
  commands: 'carrier.commands',
  replies: 'carrier.replies',
  /** Replies that complete a saga step by its task token. */
  taskReplies: 'carrier.replies.task',
  /** Replies to a request of one caller (the reconciler), on `carrier.replies.request.<id>`. */
  requestReplies: 'carrier.replies.request',
  deadLetters: 'carrier.dead',
} as const;

/** The carrier's durable consumer of the commands stream. */
export const CARRIER_CONSUMER = 'carrier';
/** The workers' durable consumer of step replies (shared: any worker may complete any step). */
export const REPLIES_CONSUMER = 'saga-worker-replies';

/** Window in which a second publish with the same message id is dropped by JetStream. @default 2 minutes */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Deliveries of one command before the carrier dead-letters it. @default 5 */
export const MAX_DELIVER = 5;
/**
 * Time a delivered command may stay unacknowledged before JetStream delivers it again (a carrier that
 * died mid-command). Below the steps' 30 s start-to-close timeout, so a crash is redelivered within the
 * attempt. @default 10 seconds
 */
export const ACK_WAIT_MS = 10_000;
/** How long commands and replies are kept when nobody consumes them. @default 1 day */
export const COMMANDS_MAX_AGE_MS = 24 * 60 * 60_000;
/** How long dead letters are kept for an operator. @default 30 days */
export const DEAD_LETTERS_MAX_AGE_MS = 30 * 24 * 60 * 60_000;

/** The three streams' configurations for `replicas` copies each. */
export function carrierStreamConfigs(replicas: number): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  const common = {
    storage: StorageType.File,
    num_replicas: replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
  };
  return [
    { ...common, name: CARRIER_COMMANDS_STREAM, subjects: [`${CarrierSubject.commands}.>`], max_age: nanos(COMMANDS_MAX_AGE_MS) },
    { ...common, name: CARRIER_REPLIES_STREAM, subjects: [`${CarrierSubject.replies}.>`], max_age: nanos(COMMANDS_MAX_AGE_MS) },
    { ...common, name: CARRIER_DEAD_LETTERS_STREAM, subjects: [`${CarrierSubject.deadLetters}.>`], max_age: nanos(DEAD_LETTERS_MAX_AGE_MS) },
  ];
}

/** The carrier's consumer: durable, explicit ack, at most {@link MAX_DELIVER} deliveries. */
export function carrierConsumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: CARRIER_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ACK_WAIT_MS),
    max_deliver: MAX_DELIVER,
    filter_subject: `${CarrierSubject.commands}.>`,
  };
}

/** The workers' consumer of step replies: durable, explicit ack; a reply Temporal cannot take yet is retried. */
export function repliesConsumerConfig(): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: REPLIES_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ACK_WAIT_MS),
    filter_subject: CarrierSubject.taskReplies,
  };
}

/**
 * Creates the three streams, or updates them to this configuration, and waits (up to `leaderTimeoutMs`)
 * until each has a leader, so the first publish is not refused by a stream still electing one. Safe
 * to call from every process at every start.
 */
export async function ensureCarrierStreams(jsm: JetStreamManager, replicas: number, leaderTimeoutMs = 30_000): Promise<void> {
  for (const config of carrierStreamConfigs(replicas)) {
    let exists = true;
    try {
      await jsm.streams.info(config.name);
    } catch {
      try {
        await jsm.streams.add(config);
        exists = false;
      } catch (err) {
        // Another process created it between the look-up and the add.
        if (!(err instanceof Error) || !/already in use|exists/i.test(err.message)) throw err;
      }
    }
    if (exists) await jsm.streams.update(config.name, config);
  }
  const deadline = Date.now() + leaderTimeoutMs;
  for (const { name } of carrierStreamConfigs(replicas)) {
    while (replicas > 1 && !(await jsm.streams.info(name).then((info) => Boolean(info.cluster?.leader), () => false))) {
      if (Date.now() > deadline) throw new Error(`The stream ${name} has no leader after ${leaderTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Creates or updates a durable consumer on `stream`. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
  try {
    await jsm.consumers.info(stream, config.durable_name);
  } catch {
    try {
      await jsm.consumers.add(stream, config);
      return;
    } catch (err) {
      if (!(err instanceof Error) || !/already in use|exists/i.test(err.message)) throw err;
    }
  }
  await jsm.consumers.update(stream, config.durable_name, config);
}
