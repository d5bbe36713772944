// The Web UI repair check: an operator who holds the codec server's encode token repairs two orders
// waiting in COMPENSATION_FAILED from the browser, one with the `retryCompensation` update naming the
// steps to run again, the other with `skipCompensation` and a reason, and sees each end COMPENSATED
// with the update's input decoded in its history, while the server stores that input encrypted.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { chromium, type Locator, type Page } from 'playwright-core';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { ENCRYPTED_ENCODING } from '../../../src/codec';
import { check, CHROMIUM_ARGS, chromiumPath, VIEWPORT, type UiCheck, type WebUiCheckResult } from './browser';
import { expectCodecSettings, openCodecSettings, readCodecSettings, type CodecRequest } from './decoded-payloads';

/** One order and the repair sent to it. */
export interface RepairTarget {
  workflowId: string;
  runId: string;
  /** The order id, for the step summaries the history shows (`Refund payment for order …`). */
  orderId: string;
}

/** What the repair check works on and where to put the screenshots. */
export interface RepairUiCheckOptions {
  /** Base URL of the Web UI. */
  uiUrl: string;
  namespace: string;
  /** The codec server as the browser reaches it (on the UI's site: its session cookie is SameSite=Strict). */
  codecUrl: string;
  /** The codec server's encode token: only a session signed in with it may encode an update's input. */
  encodeToken: string;
  /**
   * Whether the UI already sends its payloads to `codecUrl` with the browser's cookies (the cluster's
   * UI is configured so); otherwise the check sets the browser's codec settings first. @default false
   */
  uiConfigured?: boolean;
  /** Gets `retryCompensation` with `{ steps: retrySteps }`. */
  retry: RepairTarget;
  /** Steps whose failed compensations run again. */
  retrySteps: readonly string[];
  /** Gets `skipCompensation` with `{ step: skipStep, reason: skipReason }`. */
  skip: RepairTarget;
  skipStep: string;
  skipReason: string;
  /** Reads the saga's state and the raw history, past any codec. */
  client: Client;
  /** The requests the codec server answered so far, to see that the UI encoded through it. @default not checked */
  codecRequests?: () => readonly CodecRequest[];
  /** Folder for the screenshots. @default ".artifacts/webui-repair" */
  outDir?: string;
  /** How long to wait for each thing to appear. @default 30_000 */
  timeoutMs?: number;
}

/** The screenshots the repair check takes, in order. */
export const REPAIR_SCREENSHOTS = [
  '01-compensation-failed.png',
  '02-retry-compensation-update.png',
  '03-retry-input-in-history.png',
  '04-skip-compensation-update.png',
  '05-skip-input-in-history.png',
] as const;

/** The `Send an Update` dialog of the workflow page, opened from "More Actions". */
async function openUpdateDialog(page: Page): Promise<Locator> {
  await page.getByRole('button', { name: 'More Actions' }).first().click();
  await page.getByRole('menuitem', { name: 'Send an Update' }).click();
  const dialog = page.locator('dialog[open]').filter({ has: page.getByRole('heading', { name: 'Send an Update' }) });
  await dialog.waitFor();
  return dialog;
}

/**
 * Fills the update dialog: the update by name from the workflow's own list of handlers, the input as
 * JSON, and a fresh update id (the UI sends nothing without one, though it calls it optional).
 */
async function fillUpdate(page: Page, dialog: Locator, name: string, input: unknown): Promise<void> {
  // The UI lists the workflow's updates when it could read (and decode) the workflow's metadata;
  // otherwise it asks for the name as text.
  const select = dialog.getByTestId('update-select-button');
  const typed = dialog.locator('input#update-name');
  await select.or(typed).first().waitFor();
  if (await select.isVisible()) {
    await select.click();
    await dialog.getByRole('option', { name, exact: true }).click();
  } else {
    await typed.fill(name);
  }
  await dialog.getByRole('textbox', { name: 'Data' }).click();
  // Inserted rather than typed: the editor closes brackets and quotes as they are typed.
  await page.keyboard.insertText(JSON.stringify(input));
  // After the input: the editor hands its text to the form when it loses the focus.
  // By its id within the dialog: the page holds a second, hidden copy of the dialog, and its label points at the first.
  const updateId = dialog.locator('input#update-id');
  const id = randomUUID();
  await updateId.fill(id);
  if ((await updateId.inputValue()) !== id) throw new Error('the update id did not take');
}

/** Sends the filled update and waits for the UI's word that the workflow accepted and completed it. */
async function submitUpdate(dialog: Locator): Promise<void> {
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await dialog.waitFor({ state: 'hidden' });
}

/** Waits until the saga's own state query says `status`. */
async function untilSagaStatus(client: Client, workflowId: string, status: SagaStatus, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    last = (await client.workflow.getHandle(workflowId).query(sagaStateQuery).catch(() => undefined))?.status;
    if (last === status) return;
    if (Date.now() > deadline) throw new Error(`${workflowId} is ${last ?? 'unknown'}, not ${status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Opens the history, expands the update's Accepted event and waits for its decoded input. */
async function showAcceptedUpdate(page: Page, workflowPage: string, name: string, decoded: readonly string[]): Promise<Locator> {
  await page.goto(workflowPage);
  const row = page.getByRole('row').filter({ hasText: 'Workflow Execution Update Accepted' }).filter({ hasText: name });
  await row.first().click();
  const details = page.getByText('Accepted Request', { exact: true }).locator('xpath=..');
  for (const text of decoded) await details.getByText(text).first().waitFor();
  return details;
}

/** The event history from its heading down to the expanded event: the rows of the repair and the decoded input. */
async function shotHistory(page: Page, details: Locator, path: string): Promise<void> {
  // Scrolled vertically only: scrolling the wide table into view would shift it sideways and cut off its first columns.
  const before = await details.boundingBox();
  if (before && before.y + before.height > VIEWPORT.height) await page.mouse.wheel(0, Math.ceil(before.y + before.height - VIEWPORT.height + 16));
  await page.waitForTimeout(300);
  const heading = await page.getByRole('heading', { name: 'Event History' }).first().boundingBox();
  const bottom = await details.boundingBox();
  const end = bottom ? Math.min(VIEWPORT.height, Math.ceil(bottom.y + bottom.height + 8)) : VIEWPORT.height;
  const top = Math.max(0, Math.floor(heading?.y ?? 0) - 8);
  await page.screenshot({ path, clip: { x: 0, y: top, width: VIEWPORT.width, height: Math.max(1, end - top) } });
}

/** The accepted updates of a workflow as the server stores them: name and encoding of each input payload. */
async function storedUpdateInputs(client: Client, namespace: string, workflowId: string, runId: string): Promise<{ name: string; encodings: string[]; bytes: Buffer }[]> {
  const response = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution: { workflowId, runId }, maximumPageSize: 1000 });
  return (response.history?.events ?? []).flatMap((e) => {
    const input = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (!input) return [];
    const payloads = input.args?.payloads ?? [];
    return [
      {
        name: input.name ?? '',
        encodings: payloads.map((p) => Buffer.from(p.metadata?.encoding ?? []).toString('utf8')),
        bytes: Buffer.from(temporal.api.common.v1.Payloads.encode({ payloads }).finish()),
      },
    ];
  });
}

/**
 * Signs in at the codec server with the encode token, makes the UI use it (unless it already does),
 * then repairs the two orders from the UI and checks what the operator and the server see.
 */
export async function checkRepairInUi(opts: RepairUiCheckOptions): Promise<WebUiCheckResult> {
  const outDir = resolve(opts.outDir ?? '.artifacts/webui-repair');
  const timeout = opts.timeoutMs ?? 30_000;
  mkdirSync(outDir, { recursive: true });
  const checks: UiCheck[] = [];
  const screenshots: string[] = [];
  const ns = encodeURIComponent(opts.namespace);
  const pageOf = (t: RepairTarget) => `${opts.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(t.workflowId)}/${t.runId}/history`;
  const encodes = () => (opts.codecRequests?.() ?? []).filter((r) => r.route === 'encode' && r.status === 200).length;

  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);

    await check(checks, 'signing in at the codec server with the encode token leaves a session cookie', async () => {
      await page.goto(`${opts.codecUrl}/login`);
      await page.getByLabel('Token').fill(opts.encodeToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Signed in' }).waitFor();
      if (!(await context.cookies(opts.codecUrl)).some((c) => c.httpOnly && c.sameSite === 'Strict')) throw new Error('no HttpOnly, SameSite=Strict session cookie');
    });

    if (opts.uiConfigured) {
      await check(checks, `the UI's cluster-level codec endpoint is ${opts.codecUrl}`, async () => {
        const dialog = await openCodecSettings(page, opts.uiUrl, opts.namespace);
        const shown = (await dialog.locator('#use-configuration-endpoint-radio-description').innerText()).trim();
        if (shown !== opts.codecUrl) throw new Error(`the UI shows "${shown}"`);
        await dialog.getByTestId('cancel-modal-button').click();
        await dialog.waitFor({ state: 'hidden' });
      });
    } else {
      await check(checks, "the UI's codec settings name the codec server, with cross-origin credentials", async () => {
        const dialog = await openCodecSettings(page, opts.uiUrl, opts.namespace);
        await dialog.getByLabel('Use my browser setting and ignore Cluster-level setting.').check();
        await dialog.getByLabel('Codec Server browser endpoint').fill(opts.codecUrl);
        await dialog.getByTestId('data-encoder-include-credentials').click();
        await dialog.getByRole('button', { name: 'Apply' }).click();
        await dialog.waitFor({ state: 'hidden' });
        expectCodecSettings(await readCodecSettings(page), opts.codecUrl);
      });
    }

    await check(checks, `the workflow list filtered by SagaStatus = "COMPENSATION_FAILED" shows both orders`, async () => {
      const query = `SagaStatus="COMPENSATION_FAILED" AND WorkflowId IN ("${opts.retry.workflowId}", "${opts.skip.workflowId}")`;
      const deadline = Date.now() + timeout;
      for (;;) {
        await page.goto(`${opts.uiUrl}/namespaces/${ns}/workflows?query=${encodeURIComponent(query)}`);
        try {
          for (const id of [opts.retry.workflowId, opts.skip.workflowId]) await page.getByRole('link', { name: id, exact: true }).first().waitFor({ timeout: 5_000 });
          break;
        } catch (err) {
          // Visibility lags a moment behind the workflow.
          if (Date.now() > deadline) throw err;
        }
      }
      const path = join(outDir, REPAIR_SCREENSHOTS[0]);
      await page.screenshot({ path, clip: { x: 0, y: 0, width: VIEWPORT.width, height: 480 } });
      screenshots.push(path);
    });

    await check(checks, `the history shows the decoded summary of the failed compensation ("Refund payment for order ${opts.retry.orderId}")`, async () => {
      await page.goto(pageOf(opts.retry));
      await page.getByRole('row').filter({ hasText: 'Activity Task Scheduled' }).getByText(`Refund payment for order ${opts.retry.orderId}`).first().waitFor();
    });

    const retryInput = { steps: [...opts.retrySteps] };
    await check(checks, `retryCompensation ${JSON.stringify(retryInput)} sent from the UI ends ${opts.retry.workflowId} COMPENSATED`, async () => {
      const before = encodes();
      await page.goto(pageOf(opts.retry));
      const dialog = await openUpdateDialog(page);
      await fillUpdate(page, dialog, 'retryCompensation', retryInput);
      const path = join(outDir, REPAIR_SCREENSHOTS[1]);
      await dialog.screenshot({ path });
      screenshots.push(path);
      await submitUpdate(dialog);
      await untilSagaStatus(opts.client, opts.retry.workflowId, SagaStatus.COMPENSATED, timeout);
      if (opts.codecRequests && encodes() === before) throw new Error('the codec server encoded nothing for the update');
    });

    await check(checks, `the history shows the retryCompensation input decoded (${opts.retrySteps.join(', ')}) and the refund run again`, async () => {
      const details = await showAcceptedUpdate(page, pageOf(opts.retry), 'retryCompensation', opts.retrySteps);
      await page.getByRole('row').filter({ hasText: 'Workflow Execution Update Completed' }).getByText('"status":"COMPENSATED"').first().waitFor();
      const path = join(outDir, REPAIR_SCREENSHOTS[2]);
      await shotHistory(page, details, path);
      screenshots.push(path);
    });

    const skipInput = { step: opts.skipStep, reason: opts.skipReason };
    await check(checks, `skipCompensation with a reason sent from the UI ends ${opts.skip.workflowId} COMPENSATED`, async () => {
      const before = encodes();
      await page.goto(pageOf(opts.skip));
      const dialog = await openUpdateDialog(page);
      await fillUpdate(page, dialog, 'skipCompensation', skipInput);
      const path = join(outDir, REPAIR_SCREENSHOTS[3]);
      await dialog.screenshot({ path });
      screenshots.push(path);
      await submitUpdate(dialog);
      await untilSagaStatus(opts.client, opts.skip.workflowId, SagaStatus.COMPENSATED, timeout);
      if (opts.codecRequests && encodes() === before) throw new Error('the codec server encoded nothing for the update');
    });

    await check(checks, 'the history shows the skipCompensation input decoded, reason included', async () => {
      const details = await showAcceptedUpdate(page, pageOf(opts.skip), 'skipCompensation', [opts.skipStep, opts.skipReason]);
      const path = join(outDir, REPAIR_SCREENSHOTS[4]);
      await shotHistory(page, details, path);
      screenshots.push(path);
    });

    await check(checks, `the server stores both updates' input as ${ENCRYPTED_ENCODING} payloads, the reason nowhere in clear`, async () => {
      const stored = [
        ...(await storedUpdateInputs(opts.client, opts.namespace, opts.retry.workflowId, opts.retry.runId)),
        ...(await storedUpdateInputs(opts.client, opts.namespace, opts.skip.workflowId, opts.skip.runId)),
      ];
      const names = stored.map((s) => s.name).sort();
      if (names.join() !== 'retryCompensation,skipCompensation') throw new Error(`accepted updates: ${names.join(', ') || 'none'}`);
      const plain = stored.flatMap((s) => s.encodings).filter((e) => e !== ENCRYPTED_ENCODING);
      if (plain.length) throw new Error(`input payloads with encoding ${plain.join(', ')}`);
      if (stored.some((s) => s.bytes.includes(opts.skipReason))) throw new Error('the reason is stored in clear');
    });
  } finally {
    await browser.close();
  }
  return { checks, screenshots };
}
