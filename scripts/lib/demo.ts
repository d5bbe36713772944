// The demonstration `npm start` runs: a few orders and registrations that each show one way a saga
// ends, and a summary table of how they ended with their Web UI links.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { describeOrderResult, sagaOutcome, table, workflowUrl, type SagaOutcome } from '../../src/report';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import type { OrderInput } from '../../src/order/contract';
import type { Services } from '../../src/services';
import type { WorkerConfig } from '../../src/config';
import { verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import { sampleOrder, UNDELIVERABLE_ADDRESS } from './sample-order';

/** One saga of the demo and how it ended. */
export interface DemoRow {
  kind: 'order' | 'registration';
  /** What the demo set out to show. */
  scenario: string;
  outcome: SagaOutcome;
  uiUrl: string;
}

async function waitForPhase(handle: WorkflowHandle, phase: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(verificationStateQuery);
    if (state.phase === phase) return;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} did not reach verification phase ${phase} (it is ${state.phase})`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/**
 * Runs the demonstration against a running worker: four orders (one completes, one retries a flaky
 * payment provider, one is declined, one cannot be shipped and is undone step by step) and two
 * registrations (one verified with the code read from the mail outbox, one whose address bounces).
 */
export async function runDemo(opts: { client: Client; services: Pick<Services, 'mail'>; config: Pick<WorkerConfig, 'taskQueue' | 'namespace' | 'idSecret'>; uiUrl: string; runId?: string }): Promise<DemoRow[]> {
  const { client, services, config } = opts;
  const run = opts.runId ?? Date.now().toString(36);
  const start = { taskQueue: config.taskQueue, idSecret: config.idSecret };

  const orders: { scenario: string; input: OrderInput }[] = [
    { scenario: 'order that completes', input: sampleOrder(`demo-${run}-1`) },
    { scenario: 'flaky payment provider, retried', input: sampleOrder(`demo-${run}-2`, { payment: { token: 'tok_flaky' } }) },
    { scenario: 'payment declined', input: sampleOrder(`demo-${run}-3`, { payment: { token: 'tok_declined' } }) },
    {
      scenario: 'undeliverable: refund, void, release',
      input: sampleOrder(`demo-${run}-4`, { shippingAddress: UNDELIVERABLE_ADDRESS }),
    },
  ];
  const orderRuns = orders.map(async ({ scenario, input }) => {
    const handle = await startOrder(client, input, start);
    return { kind: 'order' as const, scenario, outcome: await sagaOutcome(client, handle, describeOrderResult) };
  });

  const verifiedEmail = `grace.${run}@example.com`;
  const verified = (async () => {
    const handle = await startRegistration(client, { email: verifiedEmail, name: 'Grace Hopper', verificationTimeout: '10m' }, start);
    await waitForPhase(handle, 'waiting');
    const code = await services.mail.latestVerificationCode(verifiedEmail);
    if (!code) throw new Error(`No verification code in the outbox for ${handle.workflowId}`);
    await handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] });
    const outcome = await sagaOutcome(client, handle, () => `verified with code ${code} from the outbox, account active`);
    return { kind: 'registration' as const, scenario: 'verified with the code from the outbox', outcome };
  })();
  const bounced = (async () => {
    const handle = await startRegistration(client, { email: `nobody.${run}@bounce.test`, name: 'No Body' }, start);
    return { kind: 'registration' as const, scenario: 'address bounces: account deleted', outcome: await sagaOutcome(client, handle) };
  })();

  const rows = await Promise.all([...orderRuns, verified, bounced]);
  return rows.map((row) => ({ ...row, uiUrl: workflowUrl(opts.uiUrl, config.namespace, row.outcome.workflowId) }));
}

/** The demo's summary: one row per saga with its outcome, what was undone and its Web UI link. */
export function demoSummary(rows: readonly DemoRow[]): string {
  return table(
    ['WORKFLOW ID', 'SCENARIO', 'OUTCOME', 'COMPENSATED', 'DETAIL', 'WEB UI'],
    rows.map((r) => [r.outcome.workflowId, r.scenario, r.outcome.status, r.outcome.compensated.join(', ') || '-', r.outcome.message, r.uiUrl]),
    200,
  );
}
