// The broker side of a chaos run: one NATS node with JetStream, the carrier (with its poison hook,
// `poison-carrier.ts`) and the outbox relay as child processes on the run's database, the worker's
// link to the carrier, and the kills: the NATS node and the carrier SIGKILLed and started again at
// seeded moments while the sagas run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBroker } from '../../../src/broker/connection';
import { startCarrierLink, type CarrierLink } from '../../../src/carrier/link';
import type { Services } from '../../../src/services';
import { brokerServices, startBrokerService, type BrokerService, type BrokerServiceEnv } from '../../../tools/cluster/broker-services';
import type { ManagedProcess } from '../../../tools/cluster/process';
import { startNats, type NatsBroker } from '../../../tools/nats';
import { REDELIVERY_LINE } from './broker-invariants';
import { seededRandom } from './workload';

/** The carrier of a chaos run: the real carrier with the poison hook. */
const chaosCarrier: BrokerService = { name: 'carrier', entry: join('scripts', 'lib', 'chaos', 'poison-carrier.ts'), readyLine: 'carrier ready' };
const relayService = brokerServices.find((s) => s.name === 'relay')!;

/** What one kill did, for the report. */
export interface KillRecord {
  target: 'broker' | 'carrier';
  /** Milliseconds after the kills were scheduled. */
  atMs: number;
  /** Milliseconds from the SIGKILL until the target answered again. */
  downMs: number;
}

/** A running broker side. */
export interface ChaosBroker {
  nats: NatsBroker;
  /** This process's own connection (the worker's link, and the checks). */
  connection: NatsConnection;
  link: CarrierLink;
  /** Kills done so far. */
  kills: KillRecord[];
  /** Commands the carrier has been handed more than once so far (every incarnation, from its log). */
  redeliveries(): number;
  /** SIGKILLs the NATS node, waits `downMs`, starts it again on the same store. */
  killBroker(downMs?: number): Promise<void>;
  /** SIGKILLs the carrier, waits `downMs`, starts it again and waits for its ready line. */
  killCarrier(downMs?: number): Promise<void>;
  /**
   * Runs `brokerKills` broker kills and `carrierKills` carrier kills at moments drawn from `seed`,
   * uniformly within `withinMs` from now, one at a time; resolves once the last target is back.
   */
  scheduleKills(opts: { seed: number; brokerKills: number; carrierKills: number; withinMs: number }): Promise<void>;
  stop(): Promise<void>;
}

/** How long a killed target stays down before it is started again. @default 2000 ms */
const DOWN_MS = 2_000;

/** Starts NATS, the carrier and the relay on `databaseUrl`, and the worker's link to the carrier. */
export async function startChaosBroker(opts: { dataDir: string; databaseUrl: string; client: Client; services: Pick<Services, 'shipping'> }): Promise<ChaosBroker> {
  const nats = await startNats({ dataDir: join(opts.dataDir, 'nats'), nodes: 1 });
  const env: BrokerServiceEnv = { servers: nats.servers, replicas: 1, databaseUrl: opts.databaseUrl, logLevel: 'warn', extra: { NODE_ENV: process.env.NODE_ENV ?? 'development' } };
  const logDir = opts.dataDir;
  let carrier: ManagedProcess | undefined;
  let relay: ManagedProcess | undefined;
  let connection: NatsConnection | undefined;
  let link: CarrierLink | undefined;
  try {
    connection = await connectBroker({ servers: nats.servers, name: 'chaos-worker' });
    link = await startCarrierLink({ connection, client: opts.client, replicas: 1, shipping: opts.services.shipping });
    carrier = await startBrokerService(chaosCarrier, env, logDir);
    relay = await startBrokerService(relayService, env, logDir);
  } catch (err) {
    await link?.stop().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await carrier?.stop(5_000);
    await nats.stop();
    throw err;
  }
  const kills: KillRecord[] = [];
  let scheduledAt = Date.now();
  const record = async (target: KillRecord['target'], downMs: number, kill: () => Promise<void>, start: () => Promise<void>) => {
    const at = Date.now();
    await kill();
    await new Promise((r) => setTimeout(r, downMs));
    await start();
    kills.push({ target, atMs: at - scheduledAt, downMs: Date.now() - at });
  };
  const chaos: ChaosBroker = {
    nats,
    connection,
    link,
    kills,
    redeliveries() {
      try {
        return readFileSync(join(logDir, `${chaosCarrier.name}.log`), 'utf8').split(REDELIVERY_LINE).length - 1;
      } catch {
        return 0;
      }
    },
    killBroker: (downMs = DOWN_MS) =>
      record('broker', downMs, () => nats.kill(0), () => nats.restart(0)),
    killCarrier: (downMs = DOWN_MS) =>
      record(
        'carrier',
        downMs,
        () => carrier!.kill('SIGKILL'),
        async () => {
          carrier = await startBrokerService(chaosCarrier, env, logDir);
        },
      ),
    async scheduleKills({ seed, brokerKills, carrierKills, withinMs }) {
      scheduledAt = Date.now();
      const random = seededRandom(seed);
      const plan = [
        ...Array.from({ length: brokerKills }, () => ({ target: 'broker' as const, at: random.int(0, withinMs) })),
        ...Array.from({ length: carrierKills }, () => ({ target: 'carrier' as const, at: random.int(0, withinMs) })),
      ].sort((a, b) => a.at - b.at);
      for (const kill of plan) {
        const wait = scheduledAt + kill.at - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await (kill.target === 'broker' ? chaos.killBroker() : chaos.killCarrier());
      }
    },
    async stop() {
      await link!.stop().catch(() => undefined);
      await relay?.stop(5_000);
      await carrier?.stop(5_000);
      await connection!.close().catch(() => undefined);
      await nats.stop();
    },
  };
  return chaos;
}
