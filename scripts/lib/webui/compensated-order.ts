// The Web UI check of a compensated order: the workflow list filtered by SagaStatus, the saga's
// search attributes, and its history and timeline with the compensation activities and their summaries.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { check, CHROMIUM_ARGS, chromiumPath, VIEWPORT, type UiCheck, type WebUiCheckResult } from './browser';

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

/** The compensations of an order, as their summaries read in the Web UI. */
export function compensationSummaries(orderId: string): string[] {
  return [`Cancel shipment of order ${orderId}`, `Refund payment for order ${orderId}`, `Void payment authorization for order ${orderId}`, `Release stock for order ${orderId}`];
}

/** The compensation activities of an order, in the order of {@link compensationSummaries}. */
const compensationTypes = ['cancelShipment', 'refundPayment', 'voidPayment', 'releaseStock'];

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
    viewport: VIEWPORT,
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
