import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { startOrder } from '../../src/order/start';
import { freePort } from '../../scripts/lib/ports';
import { sampleOrder, UNDELIVERABLE_ADDRESS } from '../../scripts/lib/sample-order';

// `npm start` with metrics and traces on, as a person runs it from the README's walkthrough: the
// worker's metrics at SAGA_METRICS_ADDRESS, the sagas' spans on stdout with OTEL_TRACES_EXPORTER=console,
// and a dev server that starts although those variables are set (it is not handed them: the Temporal
// server would read them as its own, and refuses `console`).

const root = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'saga-obs-stack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm start with SAGA_METRICS_ADDRESS and OTEL_TRACES_EXPORTER', () => {
  it('serves the metrics of a compensated order and prints its spans, then stops on Ctrl-C', async () => {
    // The dev server npm start runs takes free ports of its own, which may be the one just picked for the
    // metrics: such a start fails at once with "Address already in use", and is tried again on new ports.
    const launch = async () => {
      const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
      const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', 'start.ts'), '--no-demo', '--data-dir', dir, '--ui-port', String(uiPort)], {
        cwd: root,
        env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, SAGA_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`, OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'saga-stack-test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const run = { port, metricsPort, child, out: '', exited: new Promise<number | null>((done) => child.once('exit', (code) => done(code))) };
      child.stdout.on('data', (chunk: Buffer) => (run.out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (run.out += chunk.toString()));
      for (; !run.out.includes('The stack is running') && !run.out.includes('Address already in use') && child.exitCode === null; ) await new Promise((r) => setTimeout(r, 100));
      return run;
    };
    let run = await launch();
    for (let attempt = 1; attempt < 3 && run.out.includes('Address already in use'); attempt++) {
      await run.exited;
      run = await launch();
    }
    const { port, metricsPort, child, exited } = run;
    const out = () => run.out;
    const waitFor = async (text: string, timeoutMs: number) => {
      for (const deadline = Date.now() + timeoutMs; !run.out.includes(text); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`"${text}" never appeared. Output:\n${run.out}`);
      }
    };

    try {
      await waitFor('The stack is running', 150_000);
      const carrierPort = Number(new RegExp(`Metrics: http://127\\.0\\.0\\.1:${metricsPort}/metrics \\(the carrier's: http://127\\.0\\.0\\.1:(\\d+)/metrics\\)`).exec(out())?.[1]);
      expect(carrierPort).toBeGreaterThan(0);
      expect(carrierPort).not.toBe(metricsPort);
      expect(out()).toContain('Traces: on');

      const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
      try {
        const handle = await startOrder(new Client({ connection }), sampleOrder(`stack-${Date.now().toString(36)}`, { shippingAddress: UNDELIVERABLE_ADDRESS }), { taskQueue: 'sagas' });
        await expect(handle.result()).rejects.toThrow();
      } finally {
        await connection.close();
      }

      // The shipment and its cancellation run in the carrier process (through the broker); the worker's
      // own compensations, the stock's release among them, are measured here.
      let metrics = '';
      for (let i = 0; i < 100 && !metrics.includes('phase="compensation",service="inventory"'); i++) {
        metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(metrics).toMatch(/^saga_started\{[^}]*workflowType="orderSaga"[^}]*\} 1$/m);
      expect(metrics).toMatch(/^saga_barrier_outcomes\{[^}]*outcome="applied",phase="compensation",service="inventory"[^}]*\} 1$/m);
      expect(metrics).toMatch(/^temporal_workflow_completed|^temporal_workflow_failed|^temporal_activity_execution_failed/m);

      // The console exporter prints each batch of spans: the workflow's and a service operation's with its barrier outcome.
      await waitFor("name: 'RunWorkflow:orderSaga'", 30_000);
      await waitFor("name: 'inventory.release'", 30_000);
      expect(out()).toContain("'saga.barrier.outcome': 'applied'");
      expect(out()).toContain("'service.name': 'saga-stack-test'");

      // The shipment's cancellation ran in the carrier: its barrier outcome on the carrier's metrics,
      // beside the broker's gauges, and its span in the carrier's log.
      let carrierMetrics = '';
      for (let i = 0; i < 100 && !carrierMetrics.includes('service="shipping"'); i++) {
        carrierMetrics = await fetch(`http://127.0.0.1:${carrierPort}/metrics`).then((r) => r.text(), () => '');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(carrierMetrics).toMatch(/^saga_barrier_outcomes\{[^}]*phase="compensation",process="carrier",service="shipping"[^}]*\} 1$/m);
      expect(carrierMetrics).toMatch(/^saga_broker_consumer_pending\{consumer="carrier",stream="CARRIER_COMMANDS"\} 0$/m);
      for (let i = 0; i < 300 && !readFileSync(join(dir, 'carrier.log'), 'utf8').includes("name: 'shipping.cancel'"); i++) await new Promise((r) => setTimeout(r, 100));
      expect(readFileSync(join(dir, 'carrier.log'), 'utf8')).toContain("name: 'shipping.cancel'");
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited, out()).toBe(0);
    expect(out()).toContain('Stopped.');
  }, 240_000);
});
