import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers, nuid, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectBroker } from '../../src/broker/connection';
import { ensureCarrierStreams } from '../../src/broker/carrier-streams';
import { startCarrier, type RunningCarrier } from '../../src/carrier/carrier';
import type { CarrierReply } from '../../src/carrier/protocol';
import { managedProcess } from '../../tools/cluster/process';
import { startNats, type NatsBroker } from '../../tools/nats';
import { sampleAddress } from '../support/samples';

// The carrier on a real nats-server, without Temporal: its process contract (environment, ready line,
// SIGTERM), its streams and consumer as promised, and the bounded deliveries of a failing command.

const root = resolve(__dirname, '..', '..');
let dataDir: string;
let nats: NatsBroker;
let nc: NatsConnection;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'saga-carrier-'));
  nats = await startNats({ dataDir: join(dataDir, 'nats') });
  nc = await connectBroker({ servers: nats.servers, name: 'test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const carrierMain = ['--import', 'tsx', join(root, 'src', 'carrier', 'main.ts')];

/** Sends a command the way the worker does and waits for the carrier's reply. */
async function ask(body: unknown, messageId = nuid.next()): Promise<CarrierReply | undefined> {
  const replyTo = `carrier.replies.request.${nuid.next()}`;
  const answer = nc.subscribe(replyTo, { max: 1, timeout: 30_000 });
  const h = headers();
  h.set('Saga-Reply-To', replyTo);
  await jetstream(nc).publish(`carrier.commands.${(body as { kind: string }).kind}`, JSON.stringify(body), { headers: h, msgID: messageId });
  for await (const msg of answer) return msg.json<CarrierReply>();
  return undefined;
}

describe('the carrier process (npm run carrier)', () => {
  it('refuses a bad environment with every problem listed, before it connects anywhere', () => {
    const run = spawnSync(process.execPath, carrierMain, {
      cwd: root,
      env: { PATH: process.env.PATH, SAGA_NATS_URL: 'http://nowhere', SAGA_NATS_REPLICAS: '2', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', SAGA_CARRIER_CRASH_AFTER_APPLY: '/tmp/x' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).not.toContain('carrier ready');
    expect(run.stderr).toContain('Invalid configuration');
    for (const variable of ['SAGA_NATS_URL', 'SAGA_NATS_REPLICAS', 'DATABASE_URL', 'LOG_LEVEL', 'SAGA_CARRIER_CRASH_AFTER_APPLY']) expect(run.stderr).toContain(variable);
  });

  it('says `carrier ready (…)` once it consumes, and on SIGTERM drains and exits 0', async () => {
    const logFile = join(dataDir, 'carrier-term.log');
    const child = managedProcess({ name: 'carrier', command: process.execPath, args: carrierMain, env: { SAGA_NATS_URL: nats.servers.join(','), DATABASE_URL: `sqlite:${join(dataDir, 'term.db')}` }, logFile, cwd: root });
    child.start();
    const log = () => readFileSync(logFile, 'utf8');
    const deadline = Date.now() + 60_000;
    while (!log().includes('carrier ready')) {
      if (!child.running || Date.now() > deadline) throw new Error(`no ready line:\n${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(log()).toMatch(/^carrier ready \(broker nats:\/\/127\.0\.0\.1:\d+, replicas 1, database sqlite:.*term\.db\)$/m);
    await child.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
    expect(log()).toContain('carrier stopped');
  });
});

describe('the carrier streams', () => {
  it('are file-stored, keep 1 copy on one node, drop a second publish of one message id within 2 minutes, and are made again as they were', async () => {
    const jsm = await jetstreamManager(nc);
    await ensureCarrierStreams(jsm, 1);
    await jsm.streams.update('CARRIER_COMMANDS', { max_age: 3_600_000_000_000 });
    await ensureCarrierStreams(jsm, 1);
    for (const name of ['CARRIER_COMMANDS', 'CARRIER_REPLIES', 'CARRIER_DEAD_LETTERS']) {
      const { config } = await jsm.streams.info(name);
      expect(config.storage).toBe('file');
      expect(config.num_replicas).toBe(1);
      expect(config.duplicate_window).toBe(120_000_000_000);
    }
    expect((await jsm.streams.info('CARRIER_COMMANDS')).config.max_age).toBe(24 * 3600 * 1e9);
    expect((await jsm.streams.info('CARRIER_DEAD_LETTERS')).config.max_age).toBe(30 * 24 * 3600 * 1e9);
    const js = jetstream(nc);
    const first = await js.publish('carrier.replies.test', 'a', { msgID: 'same-id' });
    const second = await js.publish('carrier.replies.test', 'a', { msgID: 'same-id' });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
  });
});

describe('a command that keeps failing', () => {
  let carrier: RunningCarrier;
  const deliveries = new Map<string, number[]>();
  const failUpTo = new Map<string, number>();
  beforeAll(async () => {
    carrier = await startCarrier({
      brokerConfig: { servers: nats.servers, replicas: 1 },
      databaseUrl: `sqlite:${join(dataDir, 'services.db')}`,
      logLevel: 'error',
      hooks: {
        beforeApply(command, delivery) {
          deliveries.set(command.key, [...(deliveries.get(command.key) ?? []), Date.now()]);
          if (delivery <= (failUpTo.get(command.key) ?? 0)) throw new Error(`database down (delivery ${delivery})`);
        },
      },
    });
  });
  afterAll(async () => {
    await carrier?.stop();
  });

  const command = (key: string) => ({ kind: 'create', key, orderId: key, address: sampleAddress, items: [{ sku: 'sku-widget', quantity: 1 }] });

  it('is consumed by the durable `carrier` consumer: explicit ack, 10 s ack wait, at most 5 deliveries', async () => {
    const { config } = await (await jetstreamManager(nc)).consumers.info('CARRIER_COMMANDS', 'carrier');
    expect(config).toMatchObject({ durable_name: 'carrier', ack_policy: 'explicit', max_deliver: 5, ack_wait: 10_000_000_000, filter_subject: 'carrier.commands.>' });
  });

  it('is applied at its 5th delivery when the first 4 failed, the deliveries 0.5, 1, 2 and 4 s apart at least', { timeout: 60_000 }, async () => {
    failUpTo.set('k-four', 4);
    const reply = await ask(command('k-four'));
    expect(reply).toMatchObject({ key: 'k-four', kind: 'create', ok: true });
    const times = deliveries.get('k-four')!;
    expect(times).toHaveLength(5);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    [500, 1_000, 2_000, 4_000].forEach((least, i) => expect(gaps[i]).toBeGreaterThanOrEqual(least - 50));
  });

  it('is dead-lettered after its 5th failed delivery and answered with CarrierDeadLetter', { timeout: 60_000 }, async () => {
    failUpTo.set('k-five', 5);
    const reply = await ask(command('k-five'));
    expect(reply).toMatchObject({ key: 'k-five', kind: 'create', ok: false, failure: { type: 'CarrierDeadLetter', nonRetryable: true } });
    expect(deliveries.get('k-five')).toHaveLength(5);
    const dead = await (await jetstreamManager(nc)).streams.getMessage('CARRIER_DEAD_LETTERS', { last_by_subj: 'carrier.dead.create' });
    expect(dead?.header.get('Saga-Deliveries')).toBe('5');
    expect(dead?.header.get('Saga-Error')).toBe('database down (delivery 5)');
  });
});
