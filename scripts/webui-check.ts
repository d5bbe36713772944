// `npm run webui-check`: looks at a compensated order in the Temporal Web UI the way a person would,
// in headless Chromium: the workflow list filtered by SagaStatus, the saga's search attributes, and
// its history with the compensation activities and their summaries. Saves screenshots as evidence.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { sagaOutcome } from '../src/cli/outcome';
import { startOrder } from '../src/sagas';
import { startStack } from './start';

/** Chromium flags for a quiet, reproducible headless run: no sandbox (containers, root), no network chatter. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, unless `CHROMIUM_PATH` names another. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

/** What to look at and where to put the screenshots. */
export interface WebUiCheckOptions {
  /** Base URL of the Web UI. */
  uiUrl: string;
  namespace: string;
  /** The compensated order's workflow and run. */
  workflowId: string;
  runId: string;
  orderId: string;
  /** Folder for the screenshots. @default ".artifacts/webui" */
  outDir?: string;
  /** How long to wait for each thing to appear. @default 30_000 */
  timeoutMs?: number;
}

/** One thing checked in the UI. */
export interface UiCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/** The checks and the screenshots taken. */
export interface WebUiCheckResult {
  checks: UiCheck[];
  /** Screenshot files, in the order taken; the last is the timeline of the compensation. */
  screenshots: string[];
}

/** The compensations of an order, as their summaries read in the Web UI. */
export function compensationSummaries(orderId: string): string[] {
  return [`Cancel shipment of order ${orderId}`, `Refund payment for order ${orderId}`, `Void payment authorization for order ${orderId}`, `Release stock for order ${orderId}`];
}

/** The compensation activities of an order, in the order of {@link compensationSummaries}. */
const compensationTypes = ['cancelShipment', 'refundPayment', 'voidPayment', 'releaseStock'];

async function check(checks: UiCheck[], name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    checks.push({ name, ok: true });
  } catch (err) {
    checks.push({ name, ok: false, detail: (err instanceof Error ? err.message : String(err)).split('\n')[0] });
  }
}

/** Visibility lags a moment behind the workflow: reload the list until the saga shows. */
async function openListUntilShown(page: Page, url: string, workflowId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(url);
    try {
      await page.getByRole('link', { name: workflowId, exact: true }).first().waitFor({ timeout: 5_000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

/** Opens the Web UI in headless Chromium and checks what a person would look for on a compensated order. */
export async function checkWebUi(opts: WebUiCheckOptions): Promise<WebUiCheckResult> {
  const outDir = resolve(opts.outDir ?? '.artifacts/webui');
  const timeout = opts.timeoutMs ?? 30_000;
  mkdirSync(outDir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'saga-chromium-'));
  const checks: UiCheck[] = [];
  const screenshots: string[] = [];
  const shot = async (page: Page, name: string) => {
    const path = join(outDir, name);
    await page.screenshot({ path });
    screenshots.push(path);
  };
  // A persistent context on a fresh folder is how Playwright takes a --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 1000 },
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    const ns = encodeURIComponent(opts.namespace);
    const workflowPage = `${opts.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(opts.workflowId)}/${opts.runId}`;

    await check(checks, `the workflow list filtered by SagaStatus = "COMPENSATED" shows ${opts.workflowId}`, async () => {
      const query = `WorkflowId="${opts.workflowId}" AND SagaStatus="COMPENSATED"`;
      await openListUntilShown(page, `${opts.uiUrl}/namespaces/${ns}/workflows?query=${encodeURIComponent(query)}`, opts.workflowId, timeout);
      const row = page.getByRole('row').filter({ hasText: opts.workflowId });
      await row.getByText('orderSaga').waitFor();
      await row.getByText(/failed/i).first().waitFor();
      await shot(page, '01-workflow-list-saga-status.png');
    });

    await check(checks, 'the search attributes of the saga hold SagaStatus "COMPENSATED"', async () => {
      await page.goto(`${workflowPage}/history`);
      await page.getByRole('link', { name: 'Search Attributes' }).or(page.getByRole('tab', { name: 'Search Attributes' })).first().click();
      await page.getByText('"SagaStatus": "COMPENSATED"').waitFor();
      await shot(page, '02-search-attributes.png');
    });

    await check(checks, 'the history shows the compensation activities with their summaries', async () => {
      await page.goto(`${workflowPage}/history`);
      await page.getByRole('button', { name: 'Compact' }).click();
      for (const summary of compensationSummaries(opts.orderId)) await page.getByText(summary, { exact: true }).first().waitFor();
      for (const type of compensationTypes) await page.getByText(type, { exact: true }).first().waitFor();
      await page.getByText('Event History', { exact: true }).last().scrollIntoViewIfNeeded();
      await shot(page, '03-history-compensations.png');
    });

    await check(checks, 'the timeline draws the forward steps and the compensations with their summaries', async () => {
      await page.goto(`${workflowPage}/timeline`);
      for (const [type, summary] of compensationTypes.map((t, i) => [t, compensationSummaries(opts.orderId)[i]] as const)) {
        await page.getByText(`${type} • ${summary}`, { exact: true }).first().waitFor();
      }
      // Only the timeline section: the input and result panels above it carry stack traces with local paths.
      const section = page.getByRole('heading', { name: 'Timeline', exact: true }).locator('xpath=../../..');
      const path = join(outDir, '04-timeline-compensation.png');
      await section.screenshot({ path });
      screenshots.push(path);
    });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return { checks, screenshots };
}

const HELP = `Usage: npm run webui-check -- [options]

Starts the stack (or uses the server at TEMPORAL_ADDRESS), runs an order that cannot be shipped and is
compensated, then checks it in the Web UI with headless Chromium (${chromiumPath()}, or CHROMIUM_PATH).

Options:
  --out-dir <dir>        Screenshots (default .artifacts/webui)
  --readme-image <file>  Copy the timeline screenshot here (default docs/images/webui-compensated-order.png; "" for none)
  --data-dir <dir>       Stack state when it starts its own server (default .data)
  --ui-port <port>       Web UI port of a dev server started here
  -h, --help             Show this help
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'out-dir': { type: 'string' },
      'readme-image': { type: 'string' },
      'data-dir': { type: 'string' },
      'ui-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!existsSync(chromiumPath())) {
    console.error(`No Chromium at ${chromiumPath()}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`);
    return 2;
  }
  // Exiting (rather than dying of the signal) runs the exit handler that kills a dev server started here.
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  const stack = await startStack({
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    ...(values['ui-port'] ? { uiPort: Number(values['ui-port']) } : {}),
  });
  try {
    const orderId = `webui-${Date.now().toString(36)}`;
    const handle = await startOrder(
      stack.client,
      {
        orderId,
        customerId: 'c-webui',
        email: 'ada@example.com',
        items: [{ sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 }],
        payment: { token: 'tok_visa' },
        shippingAddress: { name: 'Station Crew', line1: 'McMurdo Station', city: 'Ross Island', postalCode: '96599', country: 'AQ' },
      },
      { taskQueue: stack.config.taskQueue },
    );
    const outcome = await sagaOutcome(stack.client, handle);
    console.log(`${handle.workflowId}: ${outcome.status} (${outcome.message}); undone: ${outcome.compensated.join(', ')}`);
    const { runId } = await handle.describe();
    const result = await checkWebUi({
      uiUrl: stack.uiUrl,
      namespace: stack.config.namespace,
      workflowId: handle.workflowId,
      runId,
      orderId,
      ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
    });
    for (const c of result.checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
    for (const s of result.screenshots) console.log(`screenshot: ${s}`);
    const readme = values['readme-image'] ?? 'docs/images/webui-compensated-order.png';
    const timeline = result.screenshots.find((s) => s.endsWith('04-timeline-compensation.png'));
    if (readme && timeline) {
      mkdirSync(dirname(resolve(readme)), { recursive: true });
      copyFileSync(timeline, readme);
      console.log(`README image: ${readme}`);
    }
    const failed = result.checks.filter((c) => !c.ok).length;
    console.log(`Web UI check: ${result.checks.length - failed} of ${result.checks.length} checks passed`);
    return failed === 0 && outcome.status === 'COMPENSATED' ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`webui-check failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
