import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { clusterPorts } from '../../tools/cluster';
import { startClusterBroker } from '../../tools/cluster/broker';
import { BrokerServiceError, brokerServices, startBrokerService } from '../../tools/cluster/broker-services';
import { freePort } from '../../scripts/lib/ports';

// The broker services as `npm start` and `npm run cluster` start them, and the cluster's broker on its
// own: three NATS nodes and the carrier and the relay, everything in the data folder, nothing left
// running once stopped.

const root = resolve(__dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'saga-cluster-broker-'));
  dirs.push(dir);
  return dir;
}

/** Live processes whose command line contains `text` (zombies not yet reaped count as gone). */
function processesWith(text: string): string[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return [];
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return cmdline.includes(text) ? [`${entry}: ${cmdline}`] : [];
      } catch {
        return [];
      }
    });
}

describe('the broker services', () => {
  it('are the carrier and the outbox relay, in that order, each with its entry file and ready line', () => {
    expect(brokerServices).toEqual([
      { name: 'carrier', entry: join('src', 'carrier', 'main.ts'), readyLine: 'carrier ready' },
      { name: 'relay', entry: join('src', 'relay', 'main.ts'), readyLine: 'outbox relay ready' },
    ]);
    // Named one by one, so a missing entry says which file npm start and npm run cluster wait for.
    expect(existsSync(join(root, 'src', 'carrier', 'main.ts')), 'src/carrier/main.ts').toBe(true);
    expect(existsSync(join(root, 'src', 'relay', 'main.ts')), 'src/relay/main.ts').toBe(true);
  });

  it('refuses an entry file that does not exist with a BrokerServiceError naming it, before starting anything', async () => {
    const logDir = tempDir();
    const err = await startBrokerService({ name: 'relay', entry: join('src', 'relay', 'absent.ts'), readyLine: 'outbox relay ready' }, { servers: ['nats://127.0.0.1:1'], replicas: 1, databaseUrl: 'sqlite::memory:' }, logDir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerServiceError);
    expect((err as BrokerServiceError).service).toBe('relay');
    expect((err as Error).message).toBe(`The relay cannot start: ${join('src', 'relay', 'absent.ts')} does not exist.`);
    expect(readdirSync(logDir)).toEqual([]);
  });

  it('waits 60 s for the ready line, then stops the silent service and says so', async () => {
    const logDir = tempDir();
    const silent = { name: 'silent', entry: join('test', 'cluster', 'silent-service.ts'), readyLine: 'silent ready' };
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      let settled: unknown = 'pending';
      const starting = startBrokerService(silent, { servers: ['nats://127.0.0.1:1'], replicas: 1, databaseUrl: 'sqlite::memory:' }, logDir).then(
        () => (settled = 'ready'),
        (e: unknown) => (settled = e),
      );
      await vi.advanceTimersByTimeAsync(59_900);
      expect(settled).toBe('pending');
      const pid = Number(processesWith(join('test', 'cluster', 'silent-service.ts'))[0]?.split(':')[0]);
      expect(pid).toBeGreaterThan(0);
      await vi.advanceTimersByTimeAsync(200);
      await starting;
      expect(settled).toBeInstanceOf(BrokerServiceError);
      expect((settled as Error).message).toBe(`The silent did not print "silent ready" within 60 s; see ${join(logDir, 'silent.log')}`);
      expect(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  }, 60_000);

  it('says so, with its log, when a service exits before its ready line', async () => {
    const logDir = tempDir();
    const carrier = brokerServices[0]!;
    const err = await startBrokerService(carrier, { servers: [`nats://127.0.0.1:${await freePort()}`], replicas: 1, databaseUrl: 'mysql://nowhere', logLevel: 'info' }, logDir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerServiceError);
    expect((err as Error).message).toBe(`The carrier exited before it was ready; see ${join(logDir, 'carrier.log')}`);
    expect(readFileSync(join(logDir, 'carrier.log'), 'utf8')).toContain('DATABASE_URL must start with sqlite: or postgres://');
  }, 60_000);
});

describe("the cluster's broker", () => {
  it('runs three JetStream nodes on the ports at +30 to +32, the carrier and the relay with streams in 3 replicas, all in the data folder, and stops every one of them', async () => {
    const dataDir = tempDir();
    const logDir = join(dataDir, 'logs');
    const ports = [await freePort(), await freePort(), await freePort()];
    expect(clusterPorts(21_000, 2).nats).toEqual([21_030, 21_031, 21_032]);
    const broker = await startClusterBroker({ dataDir, ports, databaseUrl: `sqlite:${join(dataDir, 'saga.db')}`, logDir, env: { NODE_ENV: 'development' } });
    let stopped = false;
    try {
      const servers = ports.map((p) => `nats://127.0.0.1:${p}`);
      expect(broker.env).toEqual({ SAGA_NATS_URL: servers.join(','), SAGA_NATS_REPLICAS: '3' });
      expect(broker.nats.nodes.map((n) => n.url)).toEqual(servers);
      expect([...broker.processes.keys()]).toEqual(['carrier', 'relay']);
      expect(readFileSync(join(logDir, 'carrier.log'), 'utf8')).toContain(`carrier ready (broker ${servers.join(',')}, replicas 3,`);
      expect(readFileSync(join(logDir, 'relay.log'), 'utf8')).toContain('outbox relay ready');
      const nc = await connect({ servers });
      try {
        const jsm = await jetstreamManager(nc);
        for (const stream of ['CARRIER_COMMANDS', 'CARRIER_REPLIES', 'CARRIER_DEAD_LETTERS', 'ORDER_EVENTS']) {
          expect((await jsm.streams.info(stream)).config.num_replicas, stream).toBe(3);
        }
      } finally {
        await nc.close();
      }
      expect(readdirSync(join(dataDir, 'nats')).sort()).toEqual(['nats-1', 'nats-1.log', 'nats-2', 'nats-2.log', 'nats-3', 'nats-3.log']);
      expect(processesWith(join(dataDir, 'nats'))).toHaveLength(3);
      const pids = [...broker.processes.values()].map((p) => p.pid);
      await broker.stop();
      stopped = true;
      expect(processesWith(dataDir)).toEqual([]);
      expect([...broker.processes.values()].map((p) => p.running)).toEqual([false, false]);
      expect(pids.filter((pid) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'))).toEqual([]);
      // Both drained on SIGTERM.
      expect(readFileSync(join(logDir, 'carrier.log'), 'utf8')).toContain('carrier stopped');
      expect(readFileSync(join(logDir, 'relay.log'), 'utf8')).toContain('Outbox relay stopped');
    } finally {
      if (!stopped) await broker.stop();
    }
  }, 180_000);
});
