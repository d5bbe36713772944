// The carrier: books and cancels shipments for commands it takes from the broker. Each command is
// applied through `SqlShipping`, whose barrier makes a redelivered or duplicated command apply once and
// return the stored result; then the reply is published; then the command is acknowledged. A crash
// anywhere before the acknowledgement makes JetStream deliver the command again, and the barrier
// turns that into the same reply.
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import type { Tracer } from '@opentelemetry/api';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { BrokerConfig } from '../broker/config';
import { connectBroker } from '../broker/connection';
import {
  ACK_WAIT_MS,
  CARRIER_COMMANDS_STREAM,
  CARRIER_CONSUMER,
  CarrierSubject,
  MAX_DELIVER,
  carrierConsumerConfig,
  ensureCarrierStreams,
  ensureConsumer,
} from '../broker/carrier-streams';
import { consumeForever } from '../broker/consume';
import { sampleBrokerMetrics, type BrokerSampler } from '../broker/metrics';
import { carrierServiceMetrics } from '../telemetry';
import { createServices, type Services } from '../services';
import type { FaultConfig } from '../services/faults';
import { describeIssues } from '../shared/validation';
import { CARRIER_DEAD_LETTER, CommandHeader, carrierCommandSchema, isReplySubject, type CarrierCommand, type CarrierReply, type ReplyFailure } from './protocol';
import { carrierLogger, type CarrierLogger } from './log';
import { announceDelivery } from './progress';
import type { CarrierLogLevel } from './config';

/** First delay before a command that failed transiently is delivered again; doubles per delivery. @default 500 ms */
export const RETRY_DELAY_MS = 500;

/** Test hooks around one command (fault tests only). */
export interface CarrierHooks {
  /** Called before the command is applied, with its delivery count; an error it throws fails the delivery as a database error would. */
  beforeApply?(command: CarrierCommand, delivery: number): void | Promise<void>;
  /** Called after the command was applied, before its reply: a test kills the process here. */
  afterApply?(command: CarrierCommand): void | Promise<void>;
  /** Returns true to drop this command's reply (a reply lost on its way); the command is still acknowledged. */
  dropReply?(command: CarrierCommand): boolean;
}

/** Options of {@link startCarrier}. */
export interface CarrierOptions {
  brokerConfig: BrokerConfig;
  /** The services' database, the worker's (`sqlite:<file>` or `postgres://…`). */
  databaseUrl: string;
  /** @default "info" */
  logLevel?: CarrierLogLevel;
  /** Shipping faults (testing only). @default none */
  faults?: FaultConfig;
  /** Fault hooks (testing only). @default none */
  hooks?: CarrierHooks;
  /** Where log lines go. @default JSON lines on stderr */
  logger?: CarrierLogger;
  /** The meter of the carrier's metrics (`src/carrier/metrics.ts`): shipping's barrier outcomes and the broker's gauges. @default none */
  meter?: MetricMeter;
  /** Runs each shipping call in a span of this tracer (`shipping.create`, `shipping.cancel`). @default none */
  tracer?: Tracer;
}

/** A running carrier. */
export interface RunningCarrier {
  /** Stops taking commands, finishes the one in hand, closes the connection and the database. */
  stop(): Promise<void>;
}

/** A command whose body cannot be read: no new delivery will make it readable, so it is dead-lettered at once. */
class Poison extends Error {
  override readonly name = 'Poison';
}

/** Connects, makes sure the streams and the consumer exist, and consumes commands until {@link RunningCarrier.stop}. */
export async function startCarrier(options: CarrierOptions): Promise<RunningCarrier> {
  const log = options.logger ?? carrierLogger(options.logLevel ?? 'info');
  const services = await createServices({
    databaseUrl: options.databaseUrl,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.meter ? { observer: carrierServiceMetrics(options.meter) } : {}),
    ...(options.tracer ? { tracer: options.tracer } : {}),
  });
  let sampler: BrokerSampler | undefined;
  let nc: NatsConnection | undefined;
  try {
    nc = await connectBroker({ servers: options.brokerConfig.servers, name: 'carrier' });
    const jsm = await jetstreamManager(nc);
    await ensureCarrierStreams(jsm, options.brokerConfig.replicas);
    await ensureConsumer(jsm, CARRIER_COMMANDS_STREAM, carrierConsumerConfig());
    if (options.meter) sampler = sampleBrokerMetrics(jsm, options.meter);
  } catch (err) {
    await nc?.close();
    await services.close();
    throw err;
  }
  const js = jetstream(nc);
  const connection = nc;
  const hooks = options.hooks ?? {};
  const reading = consumeForever(
    js,
    CARRIER_COMMANDS_STREAM,
    CARRIER_CONSUMER,
    (msg) => {
      // A command in hand (a slow database: statements may take 30 s) is not delivered again meanwhile;
      // a carrier that died stops saying so, and the ack wait runs out.
      const inProgress = setInterval(() => msg.working(), ACK_WAIT_MS / 3);
      return handle(msg, { js, services, hooks, log, announce: (progress) => announceDelivery(connection, progress) })
        .catch((err: unknown) => {
          // The command stays unacknowledged: JetStream delivers it again after the ack wait.
          log('warn', 'Command left for redelivery', { seq: msg.seq, error: err instanceof Error ? err.message : String(err) });
        })
        .finally(() => clearInterval(inProgress));
    },
    { onError: (err) => log('warn', 'Reading commands failed; trying again', { error: err instanceof Error ? err.message : String(err) }) },
  );
  await reading.started;
  return {
    async stop() {
      sampler?.stop();
      await reading.stop();
      await connection.drain();
      await services.close();
    },
  };
}

interface Deps {
  js: JetStreamClient;
  services: Services;
  hooks: CarrierHooks;
  log: CarrierLogger;
  announce: (progress: { taskToken: string; deliveries: number }) => void;
}

async function handle(msg: JsMsg, { js, services, hooks, log, announce }: Deps): Promise<void> {
  const replyTo = msg.headers?.get(CommandHeader.replyTo) ?? '';
  const taskToken = msg.headers?.get(CommandHeader.taskToken) || undefined;
  const headerKey = msg.headers?.get(CommandHeader.key) ?? '';
  const reply = async (body: CarrierReply, messageId: string) => {
    if (!isReplySubject(replyTo)) return;
    await js.publish(replyTo, JSON.stringify(body), { msgID: messageId });
  };
  const replyId = msg.headers?.get(CommandHeader.messageId) || `seq-${msg.seq}`;

  let command: CarrierCommand;
  try {
    command = parseCommand(msg);
  } catch (err) {
    // A body that does not parse never will: dead-lettered at its first delivery.
    const reason = err instanceof Error ? err.message : String(err);
    await deadLetter(js, msg, reason, 'unknown');
    await reply({ key: headerKey, kind: 'unknown', ...(taskToken ? { taskToken } : {}), ok: false, failure: deadLetterFailure(reason) }, `reply/${replyId}`);
    msg.term(reason);
    log('error', 'Command dead-lettered: it does not parse', { seq: msg.seq, reason });
    return;
  }

  // The waiting step's heartbeat shows the delivery count (`saga-client status`).
  if (taskToken) announce({ taskToken, deliveries: msg.info.deliveryCount });
  let outcome: { ok: true; result: unknown } | { ok: false; failure: ReplyFailure };
  try {
    await hooks.beforeApply?.(command, msg.info.deliveryCount);
    const result = command.kind === 'create' ? await services.shipping.create(command) : await services.shipping.cancel(command);
    outcome = { ok: true, result };
  } catch (err) {
    if (err instanceof ApplicationFailure && err.nonRetryable) {
      // A business refusal (`Undeliverable`): a normal answer, the saga compensates as it always did.
      outcome = { ok: false, failure: { type: err.type ?? 'Error', message: err.message, nonRetryable: true, ...(err.details?.length ? { details: [...err.details] } : {}) } };
    } else {
      const reason = err instanceof Error ? err.message : String(err);
      const deliveries = msg.info.deliveryCount;
      if (deliveries < MAX_DELIVER) {
        msg.nak(RETRY_DELAY_MS * 2 ** (deliveries - 1));
        log('warn', 'Command failed; delivered again later', { kind: command.kind, key: command.key, deliveries, reason });
        return;
      }
      await deadLetter(js, msg, reason, command.kind);
      await reply({ key: command.key, kind: command.kind, ...(taskToken ? { taskToken } : {}), ok: false, failure: deadLetterFailure(reason) }, `reply/${replyId}`);
      msg.term(reason);
      log('error', 'Command dead-lettered after its last delivery', { kind: command.kind, key: command.key, deliveries, reason });
      return;
    }
  }
  await hooks.afterApply?.(command);
  if (!hooks.dropReply?.(command)) await reply({ key: command.key, kind: command.kind, ...(taskToken ? { taskToken } : {}), ...outcome }, `reply/${replyId}`);
  msg.ack();
  log('debug', 'Command applied', { kind: command.kind, key: command.key, ok: outcome.ok, deliveries: msg.info.deliveryCount });
}

function parseCommand(msg: JsMsg): CarrierCommand {
  let body: unknown;
  try {
    body = JSON.parse(msg.string());
  } catch {
    throw new Poison('the body is not JSON');
  }
  const parsed = carrierCommandSchema.safeParse(body);
  if (!parsed.success) throw new Poison(`the body is not a carrier command: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function deadLetterFailure(reason: string): ReplyFailure {
  return { type: CARRIER_DEAD_LETTER, message: `The carrier gave up on the command (dead-lettered): ${reason}`, nonRetryable: true };
}

/** Copies the command, its headers and why it died onto the dead-letter stream. */
async function deadLetter(js: JetStreamClient, msg: JsMsg, reason: string, kind: string): Promise<void> {
  const h = natsHeaders();
  for (const [name, values] of msg.headers ?? []) for (const value of values) if (name !== CommandHeader.messageId) h.append(name, value);
  h.set(CommandHeader.error, reason.slice(0, 1_000));
  h.set(CommandHeader.deliveries, String(msg.info.deliveryCount));
  h.set('Saga-Original-Subject', msg.subject);
  await js.publish(`${CarrierSubject.deadLetters}.${kind}`, msg.data, { headers: h, msgID: `dead/${msg.info.stream}/${msg.seq}` });
}
