import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freeClusterPortBlock } from '../../tools/cluster';
import { jsonLogEntries, natsShutdownTime } from '../support/process-logs';

// `npm run cluster` as a person runs it: a child process printing its addresses, a client order run
// against it (its shipment through the three-node broker and the carrier), Ctrl-C, a second start on
// the same folder that still knows the order and the broker's messages, and the folder removed with
// nothing of the cluster left elsewhere.

const root = resolve(__dirname, '..', '..');
let dataDir: string;
let frontendPort: number;
const children: ChildProcess[] = [];
// Where Debian's PostgreSQL keeps its own clusters: the cluster must add nothing there.
const SYSTEM_POSTGRES = '/var/lib/postgresql';
const systemPostgresBefore = existsSync(SYSTEM_POSTGRES) ? readdirSync(SYSTEM_POSTGRES).sort() : [];


function launch(): { output: () => string; exited: Promise<number | null>; waitFor: (text: string, ms: number) => Promise<void>; child: ChildProcess } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'cluster.ts'), '--data-dir', dataDir, '--port', String(frontendPort), '--ui-port', String(frontendPort + 91)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(text, ms) {
      const deadline = Date.now() + ms;
      while (!out.includes(text)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`"${text}" never appeared. Output:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/** The command line of a live process, or undefined when it is gone (an exited process not yet reaped counts as gone). */
function running(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
  } catch {
    return undefined;
  }
}

/** The broker's streams as the cluster's three nodes report them: replicas configured, peers in step, messages kept. */
async function streams(servers: string): Promise<Record<string, { replicas: number; peers: number; messages: number }>> {
  const nc = await connect({ servers: servers.split(','), timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc);
    const found: Record<string, { replicas: number; peers: number; messages: number }> = {};
    for await (const info of jsm.streams.list()) {
      found[info.config.name] = { replicas: info.config.num_replicas, peers: 1 + (info.cluster?.replicas?.length ?? 0), messages: info.state.messages };
    }
    return found;
  } finally {
    await nc.close();
  }
}

function client(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(
    [...readFileSync(join(dataDir, 'cluster.env'), 'utf8').matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'client.ts'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
}

beforeAll(async () => {
  const install = spawnSync(process.execPath, [join(root, 'scripts', 'install-temporal.mjs'), '--quiet', '--cluster'], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (install.status !== 0) throw new Error(`the cluster's binaries could not be installed: ${install.stderr.trim()}`);
  dataDir = mkdtempSync(join(tmpdir(), 'saga-cluster-cli-'));
  chmodSync(dataDir, 0o755);
  frontendPort = await freeClusterPortBlock();
}, 40 * 60_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGINT');
  await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((done) => child.once('exit', done)) : undefined)));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe('npm run cluster', () => {
  it('prints every address, runs a client order with its compensations, and Ctrl-C stops everything it started and nothing else', async () => {
    const bystander = spawn('sleep', ['600']);
    const run = launch();
    await run.waitFor('Ctrl-C stops everything started here.', 180_000);
    const out = run.output();
    expect(out).toContain(`Temporal frontend   127.0.0.1:${frontendPort} (namespace default, 8 history shards)`);
    expect(out).toContain(`Web UI              http://localhost:${frontendPort + 91}/namespaces/default/workflows`);
    expect(out).toContain(`PostgreSQL          127.0.0.1:${frontendPort + 90}`);
    expect(out).toContain(`Codec server        http://localhost:${frontendPort + 80} (sign in at http://localhost:${frontendPort + 80}/login with codecServerToken from ${join(dataDir, 'secrets.json')}`);
    expect(out).toContain('(payload encryption on)');
    expect(out).toContain('Registered namespace default');
    const natsUrls = [30, 31, 32].map((offset) => `nats://127.0.0.1:${frontendPort + offset}`).join(',');
    expect(out).toContain(`NATS broker         ${natsUrls} (JetStream, 3 nodes, streams in 3 replicas; stores in ${join(dataDir, 'nats')})`);
    expect(out).toContain(`carrier             pid `);
    expect(out).toContain(`relay               pid `);
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    // history-1, history-2, matching, frontend, the internal worker, the codec server, the Web UI, three
    // NATS nodes, the carrier, the relay and the saga worker.
    expect(new Set(pids).size).toBe(13);
    expect(readFileSync(join(dataDir, 'cluster.env'), 'utf8')).toContain(`export SAGA_NATS_URL='${natsUrls}'\nexport SAGA_NATS_REPLICAS='3'`);
    expect(readFileSync(join(dataDir, 'logs', 'carrier.log'), 'utf8')).toContain(`carrier ready (broker ${natsUrls}, replicas 3, database postgres://`);
    expect(readFileSync(join(dataDir, 'logs', 'relay.log'), 'utf8')).toContain('outbox relay ready (stream ORDER_EVENTS');
    const postmaster = Number(readFileSync(join(dataDir, 'postgres', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);

    const order = client(['order', '--order-id', 'launcher-1', '--email', 'ada@example.com', '--item', 'sku-widget:1:1999', '--token', 'tok_visa', '--name', 'Crew', '--street', 'McMurdo Station', '--city', 'Ross Island', '--postal-code', '96599', '--country', 'AQ', '--wait']);
    expect(order.stdout, order.stderr).toContain('COMPENSATED: createShipment failed');
    // Compensations of steps that ran in parallel may finish in either order.
    const undone = /undone: (.*)/.exec(order.stdout)?.[1]?.split(', ') ?? [];
    expect(undone.sort()).toEqual(['cancelShipment', 'refundPayment', 'releaseStock', 'voidPayment']);
    // The shipment and its cancellation went through the broker: every stream on all three nodes.
    const kept = await streams(natsUrls);
    for (const name of ['CARRIER_COMMANDS', 'CARRIER_REPLIES', 'CARRIER_DEAD_LETTERS', 'ORDER_EVENTS']) expect(kept[name], name).toMatchObject({ replicas: 3, peers: 3 });
    expect(kept.CARRIER_COMMANDS!.messages).toBeGreaterThanOrEqual(2);
    expect(kept.CARRIER_REPLIES!.messages).toBeGreaterThanOrEqual(2);
    expect(order.stdout).toContain(`Web UI: http://localhost:${frontendPort + 91}/namespaces/default/workflows/order-launcher-1`);
    // The Web UI serves the order's history with its compensations.
    const history = (await (await fetch(`http://127.0.0.1:${frontendPort + 91}/api/v1/namespaces/default/workflows/order-launcher-1/history?maximumPageSize=200`)).json()) as {
      history: { events: { activityTaskScheduledEventAttributes?: { activityType: { name: string } } }[] };
    };
    const activities = history.history.events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
    expect(activities).toEqual(expect.arrayContaining(['createShipment', 'cancelShipment', 'refundPayment', 'voidPayment', 'releaseStock']));

    // The codec server runs with tokens kept in the secrets file, and the Web UI sends the browser's payloads to it with the browser's cookies.
    const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    expect(secrets.codecServerToken).toMatch(/^[\w-]{43}$/);
    expect(secrets.codecServerEncodeToken).toMatch(/^[\w-]{43}$/);
    expect(secrets.codecServerEncodeToken).not.toBe(secrets.codecServerToken);
    expect(out).not.toContain(secrets.codecServerToken);
    expect(await (await fetch(`http://127.0.0.1:${frontendPort + 80}/health`)).json()).toEqual({ status: 'ok' });
    const settings = (await (await fetch(`http://127.0.0.1:${frontendPort + 91}/api/v1/settings`)).json()) as { Codec: { Endpoint: string; IncludeCredentials: boolean } };
    expect(settings.Codec).toMatchObject({ Endpoint: `http://localhost:${frontendPort + 80}`, IncludeCredentials: true });
    const refused = await fetch(`http://127.0.0.1:${frontendPort + 80}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"payloads":[]}' });
    expect(refused.status).toBe(401);

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('Stopped.');
    expect([...pids, postmaster].flatMap((pid) => running(pid) ?? [])).toEqual([]);
    // In order: the saga worker stopped, then the relay and the carrier (the reverse of their start) were
    // asked to stop, then every broker node shut down.
    const workerStopped = Date.parse(String(jsonLogEntries(join(dataDir, 'logs', 'saga-worker.log'), 'Worker stopped').at(-1)?.time));
    const relayStopping = Date.parse(String(jsonLogEntries(join(dataDir, 'logs', 'relay.log'), 'Outbox relay stopping').at(-1)?.time));
    expect(workerStopped).toBeLessThanOrEqual(relayStopping);
    expect(readFileSync(join(dataDir, 'logs', 'carrier.log'), 'utf8')).toContain('carrier stopped');
    for (const node of [1, 2, 3]) expect(natsShutdownTime(join(dataDir, 'nats', `nats-${node}.log`)), `nats-${node}`).toBeGreaterThanOrEqual(relayStopping);
    expect(running(bystander.pid as number)).toContain('sleep 600');
    bystander.kill();
  }, 400_000);

  it('starts again on the same folder with its state: the namespace, the attribute and the order are still there', async () => {
    const run = launch();
    await run.waitFor('Ctrl-C stops everything started here.', 180_000);
    expect(run.output()).not.toContain('Registered namespace');
    expect(run.output()).not.toContain('Registered search attribute');
    const status = client(['status', 'order-launcher-1', '--json']);
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ workflowId: 'order-launcher-1', workflowStatus: 'FAILED', sagaStatus: 'COMPENSATED' });
    // The broker's stores are in the folder too: the first run's commands are still there.
    const kept = await streams([30, 31, 32].map((offset) => `nats://127.0.0.1:${frontendPort + offset}`).join(','));
    expect(kept.CARRIER_COMMANDS!.messages).toBeGreaterThanOrEqual(2);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 300_000);

  it('keeps all of its state in its data folder: removed, it leaves nothing behind', () => {
    // PostgreSQL's data, socket and log sit in the folder, beside the secrets and the logs.
    expect(existsSync(join(dataDir, 'postgres', 'data', 'PG_VERSION'))).toBe(true);
    expect(readdirSync(dataDir).sort()).toEqual(['cluster.env', 'cluster.json', 'logs', 'nats', 'postgres', 'secrets.json']);
    expect(readdirSync(join(dataDir, 'nats')).sort()).toEqual(['nats-1', 'nats-1.log', 'nats-2', 'nats-2.log', 'nats-3', 'nats-3.log']);
    rmSync(dataDir, { recursive: true, force: true });
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(SYSTEM_POSTGRES) ? readdirSync(SYSTEM_POSTGRES).sort() : []).toEqual(systemPostgresBefore);
    // No process of the cluster outlives it, PostgreSQL included.
    const holders = readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid))
      .flatMap((pid) => running(Number(pid)) ?? [])
      .filter((line) => line.includes(dataDir));
    expect(holders).toEqual([]);
  });
});
