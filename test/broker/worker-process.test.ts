import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOrder } from '../../src/order/start';
import { createServices, type Services } from '../../src/services';
import { managedProcess, type ManagedProcess } from '../../tools/cluster/process';
import { startNats, type NatsBroker } from '../../tools/nats';
import { spawnWorker, writeWorkflowBundle, type WorkerProcess } from '../fixtures/chaos-processes';
import { createDevServerEnv, uniqueTaskQueue } from '../helpers';
import { sampleOrder } from '../support/samples';
import { freePort } from '../../scripts/lib/ports';

// The two processes as they are deployed: `src/worker.ts` with SAGA_NATS_URL and `src/carrier/main.ts`,
// each configured by its environment only, on one database and one broker.

const root = resolve(__dirname, '..', '..');
let env: TestWorkflowEnvironment;
let nats: NatsBroker;
let dir: string;
let services: Services;
let carrier: ManagedProcess;
let worker: WorkerProcess | undefined;
const taskQueue = uniqueTaskQueue('broker-processes');
let metricsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'saga-broker-processes-'));
  const databaseUrl = `sqlite:${join(dir, 'services.db')}`;
  let bundlePath: string;
  [env, nats, bundlePath] = await Promise.all([createDevServerEnv(), startNats({ dataDir: join(dir, 'nats') }), writeWorkflowBundle(dir)]);
  services = await createServices({ databaseUrl });
  const logFile = join(dir, 'carrier.log');
  carrier = managedProcess({ name: 'carrier', command: process.execPath, args: ['--import', 'tsx', join(root, 'src', 'carrier', 'main.ts')], env: { SAGA_NATS_URL: nats.servers.join(','), DATABASE_URL: databaseUrl }, logFile, cwd: root });
  carrier.start();
  for (const deadline = Date.now() + 60_000; !readFileSync(logFile, 'utf8').includes('carrier ready'); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > deadline || !carrier.running) throw new Error(`carrier not ready:\n${readFileSync(logFile, 'utf8')}`);
  }
  metricsPort = await freePort();
  worker = await spawnWorker({ address: env.address, taskQueue, databaseUrl, bundlePath, env: { SAGA_NATS_URL: nats.servers.join(','), SAGA_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` } });
});
afterAll(async () => {
  await worker?.stop();
  await carrier?.stop(5_000);
  await services?.close();
  await nats?.stop();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the worker and the carrier as processes', () => {
  it('says at start that the carrier is reached through the broker', () => {
    expect(worker!.log()).toMatch(/"carrier":"through the broker nats:\/\/127\.0\.0\.1:\d+"/);
  });

  it('completes an order whose shipment the carrier process booked, and compensates an AQ order', async () => {
    const input = sampleOrder();
    const refused = sampleOrder({ shippingAddress: { name: 'Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' } });
    const [handle, refusedHandle] = await Promise.all([input, refused].map((i) => startOrder(env.client, i, { taskQueue })));
    const result = await handle!.result();
    expect(result.status).toBe('COMPLETED');
    expect((await services.shipping.get(input.orderId))?.shipmentId).toBe(result.shipmentId);
    const failure = await refusedHandle!.result().then(
      () => 'completed',
      (err: unknown) => String((err as { cause?: { type?: string } }).cause?.type),
    );
    expect(failure).toBe('Undeliverable');
    expect(await services.shipping.get(refused.orderId)).toBeUndefined();
  });

  it("serves the carrier's queues on the worker's /metrics: both consumers and the dead letters, at 0 once the carrier has caught up", async () => {
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const wanted = [
      'saga_broker_consumer_pending{consumer="carrier",stream="CARRIER_COMMANDS"} 0',
      'saga_broker_consumer_ack_pending{consumer="carrier",stream="CARRIER_COMMANDS"} 0',
      'saga_broker_consumer_redelivered{consumer="carrier",stream="CARRIER_COMMANDS"} 0',
      'saga_broker_consumer_pending{consumer="saga-worker-replies",stream="CARRIER_REPLIES"} 0',
      'saga_broker_dead_letters{stream="CARRIER_DEAD_LETTERS"} 0',
    ];
    let text = '';
    // Sampled every 5 s: within a few samples every gauge shows.
    for (const deadline = Date.now() + 30_000; !wanted.every((line) => text.split('\n').includes(line)) && Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      text = await fetch(url).then((r) => r.text(), () => '');
    }
    for (const line of wanted) expect(text.split('\n')).toContain(line);
  });

  it('stops the worker on SIGTERM after closing its broker connection', async () => {
    await worker!.stop();
    expect(await worker!.exited).toBeNull();
    expect(worker!.log()).toContain('Worker stopped');
    worker = undefined;
  });
});
