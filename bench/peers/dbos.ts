// The order saga on DBOS Transact: a workflow function whose steps are `DBOS.runStep` calls, each
// checkpointed in DBOS's system tables on PostgreSQL, compensated in a try/catch the way DBOS's
// documentation writes a saga. DBOS runs inside this process: there is no server besides PostgreSQL.

import { DBOS } from '@dbos-inc/dbos-sdk';
import type { OrderInput } from '../../src/order/contract';
import type { Services } from '../../src/services';
import { failureType, isBusinessFailure, orderSteps, parseOrder, type PeerOrderResult } from './order-steps';

/** Options of {@link startDbosPeer}. */
export interface DbosPeerOptions {
  /** PostgreSQL URL of DBOS's system database (created by DBOS when missing). */
  systemDatabaseUrl: string;
  services: Services;
}

/** A launched DBOS runtime with the order saga registered. */
export interface DbosPeer {
  /** Starts the order saga under `workflowId` and waits for its result; a compensated order rejects with an error named after the failure type. */
  runOrder(workflowId: string, input: OrderInput): Promise<PeerOrderResult>;
  stop(): Promise<void>;
}

// Business failures end the step at once; anything else is retried, compensations until they succeed.
const forward = { retriesAllowed: true, maxAttempts: 10, intervalSeconds: 1, backoffRate: 2, shouldRetry: (err: unknown) => !isBusinessFailure(err) };
const undo = { retriesAllowed: true, maxAttempts: Number.MAX_SAFE_INTEGER, intervalSeconds: 1, backoffRate: 2 };

/** Registers the order saga, launches DBOS on `systemDatabaseUrl` and returns its runner. */
export async function startDbosPeer(options: DbosPeerOptions): Promise<DbosPeer> {
  const { services } = options;

  async function orderWorkflow(input: OrderInput): Promise<PeerOrderResult> {
    const order = parseOrder(input);
    const steps = orderSteps(services, DBOS.workflowID ?? order.orderId, order);
    const compensations: { name: string; fn: () => Promise<unknown> }[] = [];
    try {
      // Steps started together are checkpointed in their start order; DBOS asks for allSettled.
      compensations.push({ name: 'voidPayment', fn: steps.voidPayment }, { name: 'releaseStock', fn: steps.releaseStock });
      const [stock, authorization] = await Promise.allSettled([
        DBOS.runStep(steps.reserveStock, { name: 'reserveStock', ...forward }),
        DBOS.runStep(steps.authorizePayment, { name: 'authorizePayment', ...forward }),
      ]);
      if (stock.status === 'rejected') throw stock.reason;
      if (authorization.status === 'rejected') throw authorization.reason;
      compensations.push({ name: 'refundPayment', fn: steps.refundPayment });
      await DBOS.runStep(steps.capturePayment, { name: 'capturePayment', ...forward });
      compensations.push({ name: 'cancelShipment', fn: steps.cancelShipment });
      const shipment = await DBOS.runStep(steps.createShipment, { name: 'createShipment', ...forward });
      const confirmation = await DBOS.runStep(steps.sendConfirmation, { name: 'sendConfirmation', ...forward }).then(
        () => true,
        () => false,
      );
      return { orderId: order.orderId, status: 'COMPLETED', paymentId: authorization.value.paymentId, shipmentId: shipment.shipmentId, confirmationSent: confirmation };
    } catch (err) {
      if (!isBusinessFailure(err)) throw err;
      for (const { name, fn } of compensations.reverse()) await DBOS.runStep(fn, { name, ...undo });
      const failure = new Error(`order ${order.orderId} compensated: ${(err as Error).message}`);
      failure.name = failureType(err) ?? 'SagaFailed';
      throw failure;
    }
  }

  const workflow = DBOS.registerWorkflow(orderWorkflow, { name: 'orderSaga' });
  // DBOS logs every failed workflow with its stack: hundreds of deliberate compensations. The
  // benchmark checks every outcome itself.
  const silent = { info: () => undefined, debug: () => undefined, warn: () => undefined, error: () => undefined };
  DBOS.setConfig({ name: 'saga-bench', systemDatabaseUrl: options.systemDatabaseUrl, logger: silent });
  await DBOS.launch();
  return {
    async runOrder(workflowId, input) {
      const handle = await DBOS.startWorkflow(workflow, { workflowID: workflowId })(input);
      return handle.getResult();
    },
    stop: () => DBOS.shutdown(),
  };
}
