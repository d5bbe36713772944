// The order saga on Restate: a workflow (one per order id, exactly once, like a Temporal workflow id)
// whose steps are `ctx.run` calls journaled by the Restate server, with the compensations pushed before
// each step and run last-first when a step ends in a `TerminalError`, as Restate's saga guide writes it.
// The server is the `restate-server` binary from npm (its own log and RocksDB in a temporary folder);
// the handlers run in this process behind `restate.serve`.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import './node20';
import * as restate from '@restatedev/restate-sdk';
import type { OrderInput } from '../../src/order/contract';
import type { Services } from '../../src/services';
import { failureType, isBusinessFailure, orderSteps, parseOrder, type PeerOrderResult } from './order-steps';

/** Options of {@link startRestatePeer}. */
export interface RestatePeerOptions {
  services: Services;
  /** Folder of the server's data. */
  dir: string;
  /** Four free TCP ports: ingress, admin, node, and the handlers' endpoint. */
  ports: { ingress: number; admin: number; node: number; endpoint: number };
}

/** A running Restate server with the order saga deployed. */
export interface RestatePeer {
  /** Runs the order saga keyed by `workflowId` and waits for its result; a compensated order rejects with an error named after the failure type. */
  runOrder(workflowId: string, input: OrderInput): Promise<PeerOrderResult>;
  /** The server's process id, for its CPU time. */
  pid: number;
  stop(): Promise<void>;
}

const RESTATE_BIN = join(__dirname, 'node_modules', '@restatedev', 'restate-server-linux-x64', 'bin', 'restate-server');

// A business failure becomes terminal (no retry), its message led by its type; anything else is
// retried by Restate.
async function step<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isBusinessFailure(err)) throw new restate.TerminalError(`${failureType(err) ?? 'SagaFailed'}: ${(err as Error).message}`, { errorCode: 409 });
    throw err;
  }
}

function orderWorkflow(services: Services) {
  return restate.workflow({
    name: 'OrderSaga',
    handlers: {
      run: async (ctx: restate.WorkflowContext, input: OrderInput): Promise<PeerOrderResult> => {
        const order = parseOrder(input);
        const steps = orderSteps(services, ctx.key, order);
        const compensations: { name: string; fn: () => Promise<unknown> }[] = [];
        try {
          compensations.push({ name: 'voidPayment', fn: steps.voidPayment }, { name: 'releaseStock', fn: steps.releaseStock });
          const [, authorization] = await restate.RestatePromise.all([
            ctx.run('reserveStock', () => step(steps.reserveStock)),
            ctx.run('authorizePayment', () => step(steps.authorizePayment)),
          ]);
          compensations.push({ name: 'refundPayment', fn: steps.refundPayment });
          await ctx.run('capturePayment', () => step(steps.capturePayment));
          compensations.push({ name: 'cancelShipment', fn: steps.cancelShipment });
          const shipment = await ctx.run('createShipment', () => step(steps.createShipment));
          const confirmationSent = await ctx.run('sendConfirmation', () => step(steps.sendConfirmation)).then(
            () => true,
            () => false,
          );
          return { orderId: order.orderId, status: 'COMPLETED', paymentId: authorization.paymentId, shipmentId: shipment.shipmentId, confirmationSent };
        } catch (err) {
          if (!(err instanceof restate.TerminalError)) throw err;
          for (const { name, fn } of compensations.reverse()) await ctx.run(name, fn);
          throw new restate.TerminalError(`${err.message} (order ${order.orderId} compensated)`);
        }
      },
    },
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts the server, serves the handlers, registers them with the server and returns the runner. */
export async function startRestatePeer(options: RestatePeerOptions): Promise<RestatePeer> {
  const { ports } = options;
  mkdirSync(options.dir, { recursive: true });
  const server: ChildProcess = spawn(RESTATE_BIN, ['--base-dir', options.dir, '--no-logo', '--listen-mode', 'tcp'], {
    stdio: 'ignore',
    env: {
      ...process.env,
      RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ports.ingress}`,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${ports.admin}`,
      RESTATE_BIND_ADDRESS: `127.0.0.1:${ports.node}`,
      RESTATE_ADVERTISED_ADDRESS: `http://127.0.0.1:${ports.node}`,
      RESTATE_DISABLE_TELEMETRY: 'true',
      RESTATE_LOG_FILTER: 'error',
    },
  });
  const exited = new Promise<void>((done) => server.once('exit', () => done()));
  const admin = `http://127.0.0.1:${ports.admin}`;
  const ingress = `http://127.0.0.1:${ports.ingress}`;
  await until('restate admin API', async () => (await fetch(`${admin}/health`)).ok);
  // The SDK logs every invocation; the benchmark checks every outcome itself.
  await restate.serve({ services: [orderWorkflow(options.services)], port: ports.endpoint, logger: () => undefined });
  await until('restate deployment', async () => {
    const res = await fetch(`${admin}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: `http://127.0.0.1:${ports.endpoint}`, force: true }) });
    return res.ok;
  });
  return {
    pid: server.pid!,
    async runOrder(workflowId, input) {
      const res = await fetch(`${ingress}/OrderSaga/${encodeURIComponent(workflowId)}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
      const body = (await res.json()) as PeerOrderResult & { message?: string };
      if (res.ok) return body;
      const failure = new Error(body.message ?? `HTTP ${res.status}`);
      failure.name = body.message?.split(':')[0] ?? 'SagaFailed';
      throw failure;
    },
    async stop() {
      server.kill('SIGTERM');
      await exited;
    },
  };
}
