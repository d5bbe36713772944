// The outbox relay: takes the order outcomes the sagas wrote to `order_events`, oldest first, publishes
// each to the ORDER_EVENTS stream with the row's id as its message id, waits for the broker's
// acknowledgement, then marks the row published. A relay that dies between the two republishes the
// row, and JetStream drops the copy inside its duplicate window: each outcome reaches the stream once.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { BrokerConfig } from '../broker/config';
import { connectBroker } from '../broker/connection';
import { ensureOrderEventsStream, orderEventSubject } from '../broker/order-events';
import { openDatabase, redactUrl, type Db } from '../services/db';
import { claimUnpublished, markPublished, releaseClaims, type OutboxEvent } from '../services/order-events';
import { relayLogLevels, type RelayLogLevel } from './config';

/** Where the relay reports what it does. */
export interface RelayLogger {
  log(level: RelayLogLevel, msg: string, meta?: Record<string, unknown>): void;
}

/** One JSON object per line on stderr, for levels at or above `level`. */
export function jsonLineLogger(level: RelayLogLevel = 'info'): RelayLogger {
  const min = relayLogLevels.indexOf(level);
  return {
    log(at, msg, meta = {}) {
      if (relayLogLevels.indexOf(at) < min) return;
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...meta })}\n`);
    },
  };
}

/** How often and how much the relay publishes; every field has a default. */
export interface RelayTuning {
  /** Most rows claimed and published per round. @default 100 */
  batchSize?: number;
  /** Wait after a round that found fewer rows than a batch (or failed), in ms. @default 500 */
  pollIntervalMs?: number;
  /** How long a claim keeps other relays off its rows, in ms; longer than a batch takes to publish. @default 30_000 */
  leaseMs?: number;
  /** Longest wait for the broker's acknowledgement of one message, in ms. @default 5_000 */
  publishTimeoutMs?: number;
}

/** The defaults of {@link RelayTuning}, filled in. */
export function relayTuning(tuning: RelayTuning = {}): Required<RelayTuning> {
  return {
    batchSize: tuning.batchSize ?? 100,
    pollIntervalMs: tuning.pollIntervalMs ?? 500,
    leaseMs: tuning.leaseMs ?? 30_000,
    publishTimeoutMs: tuning.publishTimeoutMs ?? 5_000,
  };
}

/** Publishes one row; resolves to the broker's acknowledgement. */
export type Publish = (event: OutboxEvent) => Promise<PubAck>;

/** What one relay round needs: the database, a publisher, an owner id and the tuning. */
export interface RelayRoundDeps {
  db: Db;
  publish: Publish;
  /** This relay's lease owner id. */
  owner: string;
  tuning: Required<RelayTuning>;
  logger: RelayLogger;
  /** Called after the broker acknowledged a row and before it is marked published (the tests' crash point). */
  afterPublish?: (event: OutboxEvent, ack: PubAck) => void;
  /** Whether the relay is stopping: the round ends after the row being published. */
  stopping?: () => boolean;
}

/**
 * One round: claims up to a batch of rows and publishes them in order, each marked published once the
 * broker acknowledged it. Stops at the first row that fails, so no later row overtakes it, and gives
 * back the rows it did not publish. Resolves to the number of rows published.
 */
export async function relayRound({ db, publish, owner, tuning, logger, afterPublish, stopping }: RelayRoundDeps): Promise<number> {
  const rows = await claimUnpublished(db, { owner, limit: tuning.batchSize, leaseMs: tuning.leaseMs });
  let published = 0;
  try {
    for (const row of rows) {
      if (stopping?.()) break;
      const ack = await publish(row);
      afterPublish?.(row, ack);
      const marked = await markPublished(db, row.eventId, ack.seq);
      logger.log('debug', 'Order event published', { eventId: row.eventId, orderId: row.orderId, outcome: row.outcome, seq: ack.seq, duplicate: ack.duplicate, marked });
      if (ack.duplicate) logger.log('info', 'The broker had this order event already (published before a restart); marked published', { eventId: row.eventId, seq: ack.seq });
      published += 1;
    }
  } finally {
    if (published < rows.length) await releaseClaims(db, owner).catch(() => undefined);
  }
  return published;
}

/** Options of {@link startOutboxRelay}. */
export interface OutboxRelayOptions extends RelayTuning {
  /** The broker (`loadBrokerConfig`). */
  brokerConfig: BrokerConfig;
  /** The services' database holding the outbox: `sqlite:<file>` or `postgres://…`. */
  databaseUrl: string;
  /** Where the relay logs. @default JSON lines on stderr at "info" */
  logger?: RelayLogger;
  /** This relay's id in leases and in the broker's monitoring. @default "outbox-relay-<host>-<pid>-<random>" */
  name?: string;
  /** Called between a row's acknowledgement and its mark (tests crash the process there). @default none */
  afterPublish?: (event: OutboxEvent, ack: PubAck) => void;
}

/** A running relay. */
export interface OutboxRelay {
  /** Finishes the row being published, then closes the broker connection and the database. */
  stop(): Promise<void>;
}

/**
 * Opens the database (migrating it), connects to the broker, creates or updates the ORDER_EVENTS
 * stream, then publishes the outbox until stopped. Rounds that fail (the broker or the database away)
 * are logged and tried again after the poll interval; rows wait in the outbox meanwhile.
 */
export async function startOutboxRelay(options: OutboxRelayOptions): Promise<OutboxRelay> {
  const tuning = relayTuning(options);
  const logger = options.logger ?? jsonLineLogger();
  const owner = options.name ?? `outbox-relay-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const db = await openDatabase(options.databaseUrl);
  let nc: NatsConnection;
  let js: JetStreamClient;
  try {
    nc = await connectBroker({ servers: options.brokerConfig.servers, name: owner });
    await ensureOrderEventsStream(await jetstreamManager(nc), options.brokerConfig.replicas);
    js = jetstream(nc);
  } catch (err) {
    await db.close();
    throw err;
  }
  const publish: Publish = (event) => js.publish(orderEventSubject(event.outcome), event.payload, { msgID: event.eventId, timeout: tuning.publishTimeoutMs });

  let stopping = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const loop = (async () => {
    let failing = false;
    while (!stopping) {
      let published = 0;
      try {
        published = await relayRound({ db, publish, owner, tuning, logger, stopping: () => stopping, ...(options.afterPublish ? { afterPublish: options.afterPublish } : {}) });
        if (failing) logger.log('info', 'Outbox relay publishing again');
        failing = false;
      } catch (err) {
        // Logged once per outage, not once per round: a broker away for an hour is one line, then its return.
        if (!failing) logger.log('warn', 'Outbox relay round failed; rows wait in the outbox and are tried again', { error: err instanceof Error ? err.message : String(err) });
        failing = true;
      }
      if (!stopping && published < tuning.batchSize) await pause(tuning.pollIntervalMs);
    }
  })();

  logger.log('info', 'Outbox relay started', { owner, database: redactUrl(options.databaseUrl), servers: options.brokerConfig.servers, ...tuning });
  return {
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      await nc.drain().catch(() => undefined);
      await db.close();
    },
  };
}
