import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { StepRecord } from '@saga-temporal/saga';
import { runCli } from '../../src/cli';
import { CompensationLog, formatDuration, renderStatus, stepsTable, type ActivityTry, type StatusView } from '../../src/cli/status-screen';
import { loadWorkerConfig } from '../../src/config';
import { orderWorkflowId } from '../../src/order/start';
import { createServices, type Services } from '../../src/services';
import { createSagaWorker } from '../../src/worker';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { uniqueId } from '../support/samples';

// The status screen's times and compensation tries: the rendering with fixed clocks, then one watch
// of a real order whose refund fails a few times before it goes through.

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** An undeliverable order while its refund is being retried: shipment undone, payment being refunded, stock still held. */
function refunding(refund: Partial<NonNullable<StepRecord['compensation']>> = {}): StepRecord[] {
  return [
    { name: 'reserveStock', status: 'done', group: 0, attempt: 1, startedAt: at(0), endedAt: at(120), summary: 'Reserve 2 units for order o-1', compensation: { name: 'releaseStock', status: 'pending', attempt: 0 } },
    {
      name: 'capturePayment',
      status: 'compensating',
      group: 1,
      attempt: 1,
      startedAt: at(200),
      endedAt: at(1_700),
      summary: 'Capture payment for order o-1',
      compensation: { name: 'refundPayment', status: 'running', attempt: 1, startedAt: at(2_000), ...refund },
    },
    {
      name: 'createShipment',
      status: 'compensated',
      group: 2,
      attempt: 1,
      startedAt: at(1_750),
      endedAt: at(1_800),
      error: { type: 'Undeliverable', message: 'No carrier delivers to AQ' },
      compensation: { name: 'cancelShipment', status: 'done', attempt: 1, startedAt: at(1_850), endedAt: at(1_930) },
    },
  ];
}

const row = (text: string, step: string) => text.split('\n').find((line) => line.startsWith(step)) ?? '';

function view(steps: StepRecord[], activities: ActivityTry[] = []): StatusView {
  return {
    workflowId: 'order-o-1',
    type: 'orderSaga',
    workflowStatus: 'RUNNING',
    sagaStatus: 'COMPENSATING',
    summary: 'Order o-1: 2 items, 39.98 EUR',
    state: { status: 'COMPENSATING', steps, compensationFailures: [] },
    activities,
    uiUrl: 'http://ui.test:8233/namespaces/default/workflows/order-o-1',
  };
}

describe('durations', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [4_249, '4.2s'],
    [42_000, '42s'],
    [185_000, '3m05s'],
    [7_380_000, '2h03m'],
    [-5, '0ms'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('the steps table', () => {
  it('shows how long each finished step took, and how long a running one has run, ticking with the clock', () => {
    const steps: StepRecord[] = [
      { name: 'reserveStock', status: 'done', group: 0, attempt: 1, startedAt: at(0), endedAt: at(120) },
      { name: 'capturePayment', status: 'running', group: 1, attempt: 1, startedAt: at(200) },
      { name: 'createShipment', status: 'pending', group: 2, attempt: 0 },
    ];
    const early = stepsTable(steps, T0 + 4_400);
    expect(early.split('\n')[0]).toMatch(/^STEP\s+STAGE\s+STATUS\s+TRY\s+TIME\s+COMPENSATION\s+DETAIL$/);
    expect(row(early, 'reserveStock')).toMatch(/^reserveStock\s+0\s+done\s+1\s+120ms\s+-$/);
    expect(row(early, 'capturePayment')).toMatch(/^capturePayment\s+1\s+running\s+1\s+4\.2s\s+-$/);
    expect(row(early, 'createShipment')).toMatch(/^createShipment\s+2\s+pending\s+0\s+-\s+-$/);
    expect(row(stepsTable(steps, T0 + 65_200), 'capturePayment')).toMatch(/running\s+1\s+1m05s\s/);
    expect(row(stepsTable(steps, T0 + 65_200), 'reserveStock')).toMatch(/done\s+1\s+120ms\s/);
  });

  it("shows a compensation's time beside it, ticking while it runs, and ×N once the saga started it again", () => {
    const first = stepsTable(refunding(), T0 + 8_000);
    expect(row(first, 'capturePayment')).toMatch(/^capturePayment\s+1\s+compensating\s+1\s+1\.5s\s+refundPayment: running 6\.0s$/);
    expect(row(first, 'createShipment')).toMatch(/^createShipment\s+2\s+compensated\s+1\s+50ms\s+cancelShipment: done 80ms$/);
    expect(row(first, 'reserveStock')).toMatch(/^reserveStock\s+0\s+done\s+1\s+120ms\s+releaseStock: pending$/);
    const again = stepsTable(refunding({ attempt: 2, startedAt: at(60_000) }), T0 + 75_000);
    expect(row(again, 'capturePayment')).toContain('refundPayment: running ×2 15s');
  });

  it('puts the detail beside each step when the width leaves room for it, else on an indented line under it', () => {
    const wide = stepsTable(refunding(), T0 + 8_000, 160);
    expect(wide.split('\n')[0]).toMatch(/COMPENSATION\s+DETAIL$/);
    expect(row(wide, 'createShipment')).toMatch(/cancelShipment: done 80ms\s+Undeliverable: No carrier delivers to AQ$/);
    const narrow = stepsTable(refunding(), T0 + 8_000, 100).split('\n');
    expect(narrow[0]).toMatch(/^STEP\s+STAGE\s+STATUS\s+TRY\s+TIME\s+COMPENSATION$/);
    expect(narrow.slice(1)).toEqual([
      expect.stringMatching(/^reserveStock\s/),
      '    Reserve 2 units for order o-1',
      expect.stringMatching(/^capturePayment\s/),
      '    Capture payment for order o-1',
      expect.stringMatching(/^createShipment\s/),
      '    Undeliverable: No carrier delivers to AQ',
    ]);
  });

  it('keeps every line within the width by shortening the detail', () => {
    const steps = refunding();
    steps[0]!.summary = `Reserve ${'many '.repeat(40)}units`;
    for (const width of [100, 160]) {
      const text = stepsTable(steps, T0 + 8_000, width);
      for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(width);
      expect(text).toMatch(/Reserve many many .*…\n/);
    }
  });
});

describe('the compensation tries', () => {
  const failure = { type: 'InjectedFault', message: 'payments.refund is failing' };

  it('lists each try as the watch sees it: failed tries with their cause, the waiting one due, the running one ticking', () => {
    const log = new CompensationLog();
    const frame = (steps: StepRecord[], activities: ActivityTry[], now: number) => {
      log.observe(steps, activities);
      return renderStatus(view(steps, activities), { log, now: T0 + now });
    };
    const tries = (text: string) => text.split('Compensation attempts')[1]?.split('\n\n')[0] ?? '';

    // The first try runs: nothing has gone wrong yet, so no table of tries.
    expect(frame(refunding(), [{ name: 'refundPayment', try: 1, state: 'running', since: at(2_000) }], 2_500)).not.toContain('Compensation attempts');

    const second = tries(frame(refunding(), [{ name: 'refundPayment', try: 2, state: 'waiting', since: at(3_000), lastFailure: failure }], 2_600));
    expect(second).toMatch(/COMPENSATION\s+ATTEMPT\s+TRY\s+STATE\s+TIME\s+DETAIL/);
    expect(second).toMatch(/refundPayment\s+1\s+1\s+failed\s+-\s+InjectedFault: payments\.refund is failing/);
    expect(second).toMatch(/refundPayment\s+1\s+2\s+waiting\s+next in 400ms/);

    // Tries 2 and 3 came and went between two frames: both are listed as failed, the last cause on the latest.
    const fourth = tries(frame(refunding(), [{ name: 'refundPayment', try: 4, state: 'running', since: at(7_000), lastFailure: failure }], 7_500));
    expect(fourth.split('\n').filter((l) => l.startsWith('refundPayment')).map((l) => l.split(/\s{2,}/).slice(1, 4))).toEqual([
      ['1', '1', 'failed'],
      ['1', '2', 'failed'],
      ['1', '3', 'failed'],
      ['1', '4', 'running'],
    ]);
    expect(fourth).toMatch(/refundPayment\s+1\s+3\s+failed\s+-\s+InjectedFault/);
    expect(fourth).toMatch(/refundPayment\s+1\s+4\s+running\s+500ms/);

    const done = refunding({ status: 'done', endedAt: at(7_600) });
    done[1]!.status = 'compensated';
    const last = tries(frame(done, [], 9_000));
    expect(last).toMatch(/refundPayment\s+1\s+4\s+done\s+600ms/);
    expect(last).toMatch(/refundPayment\s+1\s+1\s+failed/);
  });

  it('infers that earlier attempts failed when the saga started a compensation again (one-shot status)', () => {
    const steps = refunding({ attempt: 2, startedAt: at(60_000) });
    const text = renderStatus(view(steps, [{ name: 'refundPayment', try: 1, state: 'running', since: at(60_000) }]), { now: T0 + 61_000 });
    expect(text).toMatch(/refundPayment\s+1\s+-\s+failed/);
    expect(text).toMatch(/refundPayment\s+2\s+1\s+running\s+1\.0s/);
  });

  it('shows the cause of the last failed try in a one-shot status', () => {
    const text = renderStatus(view(refunding(), [{ name: 'refundPayment', try: 3, state: 'waiting', since: at(9_000), lastFailure: failure }]), { now: T0 + 8_000 });
    expect(text).toMatch(/refundPayment\s+1\s+2\s+failed\s+-\s+InjectedFault: payments\.refund is failing/);
    expect(text).toMatch(/refundPayment\s+1\s+3\s+waiting\s+next in 1\.0s/);
  });

  it('shows no table of tries when every compensation succeeded at its first try', () => {
    const steps = refunding({ status: 'done', endedAt: at(2_100) });
    steps[0]!.compensation = { name: 'releaseStock', status: 'done', attempt: 1, startedAt: at(2_200), endedAt: at(2_300) };
    expect(renderStatus({ ...view(steps), workflowStatus: 'FAILED' }, { now: T0 + 9_000 })).not.toContain('Compensation attempts');
  });

  it('keeps the screen within 100 columns, the Web UI link excepted', () => {
    const long = { type: 'InjectedFault', message: `payments.refund is failing ${'again and '.repeat(20)}` };
    const text = renderStatus(view(refunding(), [{ name: 'refundPayment', try: 2, state: 'waiting', since: at(3_000), lastFailure: long }]), { now: T0 + 2_600 });
    for (const line of text.split('\n').filter((l) => !l.startsWith('Web UI:'))) expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('status --watch on a dev server', () => {
  let env: TestWorkflowEnvironment;
  let services: Services;
  let worker: Worker;
  let running: Promise<void>;
  let dir: string;
  const taskQueue = uniqueTaskQueue('cli-timings');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'saga-cli-timings-'));
    env = await createDevServerEnv();
    services = await createServices({ databaseUrl: `sqlite:${join(dir, 'saga.db')}`, faults: {} });
    const bundlePath = join(dir, 'workflow-bundle.js');
    writeFileSync(bundlePath, (await workflowBundle()).code);
    const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE_PATH: bundlePath });
    worker = await createSagaWorker({ connection: env.nativeConnection, config, services });
    running = worker.run();
  });

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await services?.close();
    await env?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sees the tries of a failing refund appear, then the refund go through', async () => {
    const orderId = uniqueId('watch');
    const io = (out: { text: string }) => ({
      stdout: (t: string) => void (out.text += t),
      stderr: (t: string) => void (out.text += t),
      env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue },
    });
    services.faults.set('payments', { failOperations: ['refund'] });
    const started = { text: '' };
    const address = ['--name', 'Crew', '--street', 'McMurdo Station', '--city', 'Ross Island', '--postal-code', '96599', '--country', 'AQ'];
    expect(await runCli(['order', '--order-id', orderId, '--email', 'crew@example.com', '--item', 'sku-widget:1:1999', '--token', 'tok_visa', ...address], io(started))).toBe(0);

    const watched = { text: '' };
    const watching = runCli(['status', orderId, '--watch', '--interval', '200'], io(watched));
    const lines = { text: '' };
    const watchingJsonl = runCli(['status', orderId, '--watch', '--interval', '200', '-o', 'jsonl'], io(lines));
    // Until the refund's second try shows (by then its first has failed), and the JSON watcher has drawn a frame before the refund goes through.
    for (let i = 0; i < 300 && !(/refundPayment\s+1\s+2\s+(waiting|running|failed)/.test(watched.text) && lines.text.includes('\n')); i++) await new Promise((r) => setTimeout(r, 100));
    services.faults.clear();
    expect(await watching).toBe(0);
    expect(await watchingJsonl).toBe(0);

    const frames = watched.text.split(/\n(?=order-)/);
    expect(frames.length).toBeGreaterThan(2);
    // A try that failed between two polls is listed without its cause; the one before the try in view has it.
    const cause = /refundPayment\s+1\s+\d+\s+failed\s+\S+\s+InjectedFault: payments\.refund is failing/;
    const during = frames.find((f) => /refundPayment: running/.test(f) && cause.test(f)) ?? '';
    expect(during).toMatch(/capturePayment\s+1\s+compensating\s+1\s+[\d.]+m?s\s+refundPayment: running [\d.]+m?s/);
    expect(during).toMatch(/refundPayment\s+1\s+1\s+failed/);

    const last = frames.at(-1) ?? '';
    expect(last).toContain(`${orderWorkflowId(orderId)}  orderSaga  saga COMPENSATED  (workflow FAILED)`);
    expect(last).toMatch(/capturePayment\s+1\s+compensated\s+1\s+[\d.]+m?s\s+refundPayment: done [\d.]+m?s/);
    expect(last).toMatch(/refundPayment\s+1\s+1\s+failed/);
    expect(last).toMatch(/refundPayment\s+1\s+[2-9]\s+done/);

    // The same watch as JSON lines: one object per change, the tries included. How many changes a
    // poller sees depends on its timing; the first and the last it sees do not.
    const objects = lines.text.trim().split('\n').map((line) => JSON.parse(line) as { state?: { status: string }; compensationTries: { compensation: string; state: string }[] });
    expect(objects.length).toBeGreaterThanOrEqual(2);
    expect(objects[0]?.state?.status).not.toBe('COMPENSATED');
    expect(objects.at(-1)?.state?.status).toBe('COMPENSATED');
    expect(objects.at(-1)?.compensationTries).toContainEqual(expect.objectContaining({ compensation: 'refundPayment', state: 'done' }));
  });
});
