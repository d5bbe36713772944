// What must hold on the broker side after a chaos run, however often the NATS node and the carrier
// were killed: each carrier command applied at most once per key, every command answered, nothing
// left unacknowledged on the carrier's and the worker's consumers, only poison commands dead-lettered,
// and one outcome event per order, in the ORDER_EVENTS stream and in the outbox.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { SagaStatus } from '@saga-temporal/saga';
import { CARRIER_COMMANDS_STREAM, CARRIER_CONSUMER, CARRIER_DEAD_LETTERS_STREAM, CARRIER_REPLIES_STREAM, REPLIES_CONSUMER } from '../../../src/broker/carrier-streams';
import { ORDER_EVENTS_STREAM } from '../../../src/broker/order-events';
import { CommandHeader } from '../../../src/carrier/protocol';
import type { Db } from '../../../src/services';
import type { SagaOutcome } from './workload';

/** The outcome of {@link checkBrokerInvariants}. */
export interface BrokerReport {
  /** How many things of each kind were checked or seen (commands, replies, dead letters, redeliveries, events…). */
  checked: Record<string, number>;
  /** One sentence per broken invariant; empty when everything holds. */
  violations: string[];
}

interface StoredMessage {
  subject: string;
  headers: Map<string, string>;
  body: Record<string, unknown>;
}

/** Every message of `stream`, in stream order. */
async function readStream(jsm: JetStreamManager, stream: string): Promise<StoredMessage[]> {
  const { state } = await jsm.streams.info(stream);
  const out: StoredMessage[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!msg) continue;
    const headers = new Map<string, string>();
    for (const [k, v] of msg.header ?? []) headers.set(k, v[0] ?? '');
    let body: Record<string, unknown> = {};
    try {
      body = msg.json<Record<string, unknown>>();
    } catch {
      body = {};
    }
    out.push({ subject: msg.subject, headers, body });
  }
  return out;
}

const outcomeOf: Record<string, string> = { [SagaStatus.COMPLETED]: 'completed', [SagaStatus.COMPENSATED]: 'compensated', [SagaStatus.CANCELLED]: 'cancelled' };

/** Messages still pending or unacknowledged on the carrier's and the worker's consumers. */
export async function unsettledMessages(nc: NatsConnection): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const out: Record<string, number> = {};
  for (const [stream, consumer] of [
    [CARRIER_COMMANDS_STREAM, CARRIER_CONSUMER],
    [CARRIER_REPLIES_STREAM, REPLIES_CONSUMER],
  ] as const) {
    const info = await jsm.consumers.info(stream, consumer);
    out[consumer] = info.num_pending + info.num_ack_pending;
  }
  return out;
}

/** Waits until both consumers have nothing pending (at most `timeoutMs`), so a last redelivery can settle. */
export async function waitForSettledConsumers(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await unsettledMessages(nc).catch(() => undefined);
    if (left && Object.values(left).every((n) => n === 0)) return;
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The start of the line the chaos carrier prints for each command delivered more than once. */
export const REDELIVERY_LINE = 'chaos: delivery';

/**
 * Checks the broker side of everything run against the sagas' outcomes; `nc` reads the streams.
 * `seen` (e.g. the carrier's redeliveries) is reported with the counts. @default seen none
 */
export async function checkBrokerInvariants(db: Db, nc: NatsConnection, outcomes: readonly SagaOutcome[], seen: Record<string, number> = {}): Promise<BrokerReport> {
  const violations: string[] = [];
  const checked: Record<string, number> = { ...seen };
  const count = (what: string, n = 1) => (checked[what] = (checked[what] ?? 0) + n);
  const jsm = await jetstreamManager(nc);
  const orders = outcomes.filter((o) => o.plan.kind === 'order');
  const poison = new Set(orders.filter((o) => o.plan.fixture === 'poison').map((o) => (o.plan.kind === 'order' ? o.plan.input.orderId : '')));

  // Applied at most once per key: one shipment per key, and one barrier row per key and direction (the
  // primary key says so; counted here so a copy of the table without it would be caught too).
  for (const row of await db.all<{ idem_key: string; n: number }>('SELECT idem_key, COUNT(*) AS n FROM shipments GROUP BY idem_key HAVING COUNT(*) > 1')) {
    violations.push(`shipments: key ${row.idem_key} booked ${row.n} times`);
  }
  for (const row of await db.all<{ idem_key: string; op: string; n: number }>("SELECT idem_key, op, COUNT(*) AS n FROM barriers WHERE service = 'shipping' GROUP BY idem_key, op HAVING COUNT(*) > 1")) {
    violations.push(`barriers: shipping key ${row.idem_key} (${row.op}) recorded ${row.n} times`);
  }
  for (const row of await db.all<{ order_id: string; n: number }>("SELECT order_id, COUNT(*) AS n FROM shipments WHERE status = 'created' GROUP BY order_id HAVING COUNT(*) > 1")) {
    violations.push(`shipments: order ${row.order_id} has ${row.n} live shipments`);
  }
  const [{ n: shipments } = { n: 0 }] = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM shipments');
  count('shipments', Number(shipments));

  // Every command answered: a reply for its task token (a saga step) or its key and kind (a request).
  const commands = await readStream(jsm, CARRIER_COMMANDS_STREAM);
  const replies = await readStream(jsm, CARRIER_REPLIES_STREAM);
  count('commands', commands.length);
  count('replies', replies.length);
  const answered = new Set(replies.map((r) => (typeof r.body.taskToken === 'string' ? `token:${r.body.taskToken}` : `key:${String(r.body.kind)}/${String(r.body.key)}`)));
  const answeredKeys = new Set(replies.map((r) => `key:${String(r.body.kind)}/${String(r.body.key)}`));
  for (const command of commands) {
    const token = command.headers.get(CommandHeader.taskToken);
    const byKey = `key:${String(command.body.kind)}/${String(command.body.key)}`;
    if (token ? !answered.has(`token:${token}`) : !answeredKeys.has(byKey)) {
      violations.push(`command ${command.headers.get(CommandHeader.messageId) ?? command.subject} (${String(command.body.kind)} ${String(command.body.key)}) was never answered`);
    }
  }

  // Nothing left unacknowledged once everything settled.
  for (const [consumer, n] of Object.entries(await unsettledMessages(nc))) if (n > 0) violations.push(`consumer ${consumer}: ${n} message(s) pending or unacknowledged`);

  // Dead letters: poison commands only, and every poison order that reached its shipment has one.
  const deadLetters = await readStream(jsm, CARRIER_DEAD_LETTERS_STREAM);
  count('dead letters', deadLetters.length);
  const deadOrders = new Set<string>();
  for (const letter of deadLetters) {
    const orderId = String(letter.body.orderId);
    deadOrders.add(orderId);
    if (!poison.has(orderId) || letter.body.kind !== 'create') violations.push(`dead letter ${letter.subject} for ${letter.body.kind} of order ${orderId}: not a poison fixture`);
  }
  for (const o of orders) {
    if (o.plan.kind !== 'order' || o.plan.fixture !== 'poison' || o.failureType !== 'CarrierDeadLetter') continue;
    if (!deadOrders.has(o.plan.input.orderId)) violations.push(`${o.workflowId} (order poison): compensated after a dead letter, but none is in ${CARRIER_DEAD_LETTERS_STREAM}`);
  }

  // One outcome event per order, in the stream and in the outbox, every row published.
  const events = await readStream(jsm, ORDER_EVENTS_STREAM);
  count('events', events.length);
  const eventsOf = new Map<string, StoredMessage[]>();
  for (const event of events) {
    const id = String(event.body.orderId);
    eventsOf.set(id, [...(eventsOf.get(id) ?? []), event]);
  }
  const rows = await db.all<{ order_id: string; outcome: string; published_at: string | null }>('SELECT order_id, outcome, published_at FROM order_events');
  count('outbox rows', rows.length);
  const rowsOf = new Map<string, number>();
  for (const row of rows) {
    rowsOf.set(row.order_id, (rowsOf.get(row.order_id) ?? 0) + 1);
    if (row.published_at === null) violations.push(`outbox: the row of order ${row.order_id} was never published`);
  }
  const known = new Set<string>();
  for (const o of orders) {
    if (o.plan.kind !== 'order') continue;
    const orderId = o.plan.input.orderId;
    known.add(orderId);
    const mine = eventsOf.get(orderId) ?? [];
    const outcomes = mine.map((e) => String(e.body.outcome));
    const rowCount = rowsOf.get(orderId) ?? 0;
    if (rowCount > 1) violations.push(`outbox: order ${orderId} has ${rowCount} rows`);
    if (mine.length > 1) violations.push(`${ORDER_EVENTS_STREAM}: order ${orderId} has ${mine.length} outcome events (${outcomes.join(', ')})`);
    if (mine.length !== rowCount) violations.push(`order ${orderId}: ${rowCount} outbox row(s) but ${mine.length} event(s) in ${ORDER_EVENTS_STREAM}`);
    if (o.workflowStatus === 'TERMINATED') {
      // The reconciler writes `compensated` once it undid the order; one stopped before its first step, or kept past its pivot, has none.
      if (outcomes.some((x) => x !== 'compensated')) violations.push(`${o.workflowId}: terminated, but its event says ${outcomes.join(', ')}`);
      continue;
    }
    const expected = o.state ? outcomeOf[o.state.status] : undefined;
    if (mine.length === 0) violations.push(`${o.workflowId}: ended ${o.state?.status ?? o.workflowStatus}, but no outcome event was published`);
    else if (expected && outcomes[0] !== expected) violations.push(`${o.workflowId}: ended ${o.state?.status}, but its event says ${outcomes[0]}`);
  }
  for (const id of eventsOf.keys()) if (!known.has(id)) violations.push(`${ORDER_EVENTS_STREAM}: an event for ${id}, an order this run never started`);

  return { checked, violations };
}

/** The report as the lines a run prints. */
export function formatBrokerReport(report: BrokerReport, kills?: readonly { target: string }[]): string {
  const lines = [
    `broker: ${Object.entries(report.checked)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}`,
  ];
  if (kills) lines.push(`kills: ${kills.filter((k) => k.target === 'broker').length} broker, ${kills.filter((k) => k.target === 'carrier').length} carrier (SIGKILL, then restart)`);
  lines.push(report.violations.length === 0 ? 'every broker invariant holds' : `${report.violations.length} broker violation(s):\n  ${report.violations.join('\n  ')}`);
  return lines.join('\n');
}

/** Waits until the relay has published every outbox row (at most `timeoutMs`); the check then reports what is left. */
export async function waitForPublished(db: Db, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ n } = { n: 0 }] = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM order_events WHERE published_at IS NULL');
    if (Number(n) === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}
