// `npm run webui-check`: looks at a compensated order in the Temporal Web UI the way a person would,
// in headless Chromium: the workflow list filtered by SagaStatus, the saga's search attributes, and
// its history with the compensation activities and their summaries. Saves screenshots as evidence.
//
// `npm run webui-check -- --codec` proves the encryption path instead: payloads encrypted with a
// throwaway key, the UI decoding them through the codec server for a browser that signed in, and
// neither the UI without a session nor the server's own history showing the clear text.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { sagaOutcome } from '../src/cli/outcome';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KeyRing } from '../src/codec';
import { createCodecServer, type CodecServerLogger } from '../src/codec-server';
import { startOrder } from '../src/order/start';
import type { OrderInput } from '../src/order/contract';
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

/** One thing checked (in the UI, or in what the server stores) and how it went. */
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

/** Personal data of the codec check's order: distinctive enough that finding it anywhere is a leak. */
export const CODEC_CHECK_CLEAR_TEXT = { email: 'ada.lovelace@analytical-engine.example', name: 'Augusta Ada King' } as const;

/** The order the codec check runs, carrying {@link CODEC_CHECK_CLEAR_TEXT}; it ships and completes. */
export function codecCheckOrder(orderId: string): OrderInput {
  return {
    orderId,
    customerId: 'c-codec',
    email: CODEC_CHECK_CLEAR_TEXT.email,
    items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 4200 }],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: CODEC_CHECK_CLEAR_TEXT.name, line1: "12 St James's Square", city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
  };
}

/**
 * Local-storage entries in which the Web UI (2.x) keeps its browser-level codec settings, values
 * JSON-encoded. Taken from the UI's own code; its codec settings dialog writes them.
 */
export const UI_CODEC_SETTINGS = {
  /** Codec server endpoint of this browser. */
  endpoint: 'endpoint',
  /** "Include cross-origin credentials": the decode requests carry the browser's cookies. */
  includeCredentials: 'includeCredentials',
  /** "Use my browser setting and ignore Cluster-level setting". */
  override: 'overrideRemoteCodecConfiguration',
} as const;

/** One request the codec server answered, as its access log records it. */
export interface CodecRequest {
  /** `decode`, `encode`, `login`, `health` or `other`. */
  route: string;
  status: number;
}

/** An access log that keeps each request's route and status for the checks instead of printing it. */
export function recordingLogger(into: CodecRequest[]): CodecServerLogger {
  const keep = (_message: string, meta?: Record<string, unknown>) => {
    if (typeof meta?.route === 'string' && typeof meta.status === 'number') into.push({ route: meta.route, status: meta.status });
  };
  return { info: keep, warn: keep, error: keep };
}

/** What the codec check looks at and where to put the screenshots. */
export interface CodecUiCheckOptions {
  /** Base URL of the Web UI. */
  uiUrl: string;
  namespace: string;
  /** The encrypted workflow and run. */
  workflowId: string;
  runId: string;
  /** The codec server as the browser reaches it; on the UI's site, or the SameSite cookie is never sent. */
  codecUrl: string;
  /** The codec server's token, typed into its sign-in page. */
  token: string;
  /** Text that the decoded input shows and the encrypted one must not, e.g. an e-mail address. */
  clearText: readonly string[];
  /** The endpoint the dev server got as `--ui-codec-endpoint`, to find in the UI. @default not checked */
  clusterCodecEndpoint?: string;
  /** The requests the codec server answered so far, to tell its decoded answers from its refusals. @default not checked */
  codecRequests?: () => readonly CodecRequest[];
  /** Folder for the screenshots. @default ".artifacts/webui-codec" */
  outDir?: string;
  /** How long to wait for each thing to appear. @default 30_000 */
  timeoutMs?: number;
}

const VIEWPORT = { width: 1440, height: 1000 };

/** The codec settings dialog, opened from the UI's top bar. */
async function openCodecSettings(page: Page, uiUrl: string, namespace: string) {
  const dialog = page.locator('#data-encoder-settings');
  if (await dialog.isVisible()) return dialog;
  await page.goto(`${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows`);
  // The button's test id ends in the codec status (configured, error…).
  await page.locator('[data-testid^="data-encoder-status"]').first().click();
  await dialog.waitFor();
  return dialog;
}

async function readCodecSettings(page: Page): Promise<Record<string, string | null>> {
  // Runs in the page; the project's types know no DOM, hence the narrow view of local storage.
  return page.evaluate((keys) => {
    const storage = (globalThis as unknown as { localStorage: { getItem(key: string): string | null } }).localStorage;
    return Object.fromEntries(keys.map((key) => [key, storage.getItem(key)]));
  }, Object.values(UI_CODEC_SETTINGS));
}

function expectCodecSettings(stored: Record<string, string | null>, codecUrl: string): void {
  const expected = { [UI_CODEC_SETTINGS.endpoint]: JSON.stringify(codecUrl), [UI_CODEC_SETTINGS.includeCredentials]: 'true', [UI_CODEC_SETTINGS.override]: 'true' };
  const wrong = Object.entries(expected).filter(([key, value]) => stored[key] !== value);
  if (wrong.length) throw new Error(`local storage holds ${wrong.map(([key]) => `${key}=${String(stored[key])}`).join(', ')}; expected ${wrong.map(([key, value]) => `${key}=${value}`).join(', ')}`);
}

/** The workflow's input panel on its history page. */
function inputPanel(page: Page) {
  return page.getByTestId('input-and-result').getByRole('textbox', { name: 'Input' });
}

/** The page down to the input and result panels: the event history below names the worker's host. */
async function shotDownToPayloads(page: Page, path: string): Promise<void> {
  const box = await page.getByTestId('input-and-result').boundingBox();
  const height = box ? Math.min(VIEWPORT.height, Math.ceil(box.y + box.height + 24)) : VIEWPORT.height;
  await page.screenshot({ path, clip: { x: 0, y: 0, width: VIEWPORT.width, height } });
}

/**
 * Opens the Web UI in headless Chromium as a person who holds the codec server's token would: signs
 * in at the codec server, turns on cross-origin credentials in the UI's codec settings, and expects
 * the workflow's input in clear text; then, in a fresh browser with the same settings but no
 * session, expects only ciphertext.
 */
export async function checkDecodedPayloads(opts: CodecUiCheckOptions): Promise<WebUiCheckResult> {
  if (!opts.clearText.length) throw new Error('checkDecodedPayloads needs at least one clear text to look for');
  const outDir = resolve(opts.outDir ?? '.artifacts/webui-codec');
  const timeout = opts.timeoutMs ?? 30_000;
  mkdirSync(outDir, { recursive: true });
  const checks: UiCheck[] = [];
  const screenshots: string[] = [];
  const requests = opts.codecRequests;
  const decodes = (since: number, status: number) => (requests?.() ?? []).slice(since).filter((r) => r.route === 'decode' && r.status === status).length;
  const requestCount = () => requests?.().length ?? 0;
  const workflowPage = `${opts.uiUrl}/namespaces/${encodeURIComponent(opts.namespace)}/workflows/${encodeURIComponent(opts.workflowId)}/${opts.runId}/history`;

  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  let signedIn: BrowserContext | undefined;
  try {
    signedIn = await browser.newContext({ viewport: VIEWPORT });
    const page = await signedIn.newPage();
    page.setDefaultTimeout(timeout);

    await check(checks, "signing in at the codec server's /login with the token leaves an HttpOnly, SameSite=Strict session cookie", async () => {
      await page.goto(`${opts.codecUrl}/login`);
      await page.getByLabel('Token').fill(opts.token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Signed in' }).waitFor();
      const cookies = await signedIn!.cookies(opts.codecUrl);
      if (!cookies.some((c) => c.httpOnly && c.sameSite === 'Strict')) throw new Error(`no session cookie; the browser holds ${cookies.map((c) => c.name).join(', ') || 'none'}`);
      const path = join(outDir, '01-codec-signed-in.png');
      await page.screenshot({ path });
      screenshots.push(path);
    });

    if (opts.clusterCodecEndpoint) {
      const endpoint = opts.clusterCodecEndpoint;
      await check(checks, `the dev server gives the UI ${endpoint} as its cluster-level codec endpoint`, async () => {
        const dialog = await openCodecSettings(page, opts.uiUrl, opts.namespace);
        const shown = (await dialog.locator('#use-configuration-endpoint-radio-description').innerText()).trim();
        if (shown !== endpoint) throw new Error(`the UI shows "${shown}"`);
      });
    }

    await check(checks, "the UI's codec settings dialog stores the browser endpoint with cross-origin credentials", async () => {
      const dialog = await openCodecSettings(page, opts.uiUrl, opts.namespace);
      await dialog.getByLabel('Use my browser setting and ignore Cluster-level setting.').check();
      await dialog.getByLabel('Codec Server browser endpoint').fill(opts.codecUrl);
      // The switch input is visually hidden behind its styled track: click its label, as a person would.
      await dialog.getByTestId('data-encoder-include-credentials').click();
      if (!(await dialog.getByRole('switch', { name: 'Include cross-origin credentials' }).isChecked())) throw new Error('the switch did not turn on');
      const path = join(outDir, '02-codec-settings.png');
      await dialog.screenshot({ path });
      screenshots.push(path);
      await dialog.getByRole('button', { name: 'Apply' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expectCodecSettings(await readCodecSettings(page), opts.codecUrl);
    });

    await check(checks, `the workflow's input shows the decoded ${opts.clearText.map((t) => `"${t}"`).join(' and ')}`, async () => {
      const since = requestCount();
      await page.goto(workflowPage);
      const input = inputPanel(page);
      for (const text of opts.clearText) await input.getByText(text).first().waitFor();
      if (requests && decodes(since, 200) === 0) throw new Error('the codec server answered no decode request');
      // The last line of interest may sit below the panel's fold.
      await input.getByText(opts.clearText[opts.clearText.length - 1]!).first().scrollIntoViewIfNeeded();
      const path = join(outDir, '03-decoded-input.png');
      await shotDownToPayloads(page, path);
      screenshots.push(path);
    });

    // The same UI settings, without the session cookie: the only difference is not having signed in.
    const { origins } = await signedIn.storageState();
    await signedIn.close();
    signedIn = undefined;
    const fresh = await browser.newContext({ viewport: VIEWPORT, storageState: { cookies: [], origins } });
    await check(checks, 'without signing in (a fresh browser, same codec settings) the input stays ciphertext and the codec server refuses to decode', async () => {
      const since = requestCount();
      const page2 = await fresh.newPage();
      page2.setDefaultTimeout(timeout);
      await page2.goto(workflowPage);
      expectCodecSettings(await readCodecSettings(page2), opts.codecUrl);
      // The UI gives up after its retries and says so; only then is what the input shows final. A
      // decoded input ends the wait too, so a leak fails at once and says what it showed.
      const input = inputPanel(page2);
      const gaveUp = page2.locator('#content').getByText('Codec Server could not connect');
      await gaveUp.or(input.getByText(opts.clearText[0]!)).first().waitFor();
      const shown = (await input.innerText()).replace(/\s+/g, '');
      const leaked = opts.clearText.filter((text) => shown.includes(text.replace(/\s+/g, '')));
      if (leaked.length) throw new Error(`the UI shows ${leaked.join(', ')}`);
      // An undecodable payload shows as its data alone (a base64 string), as the whole payload object,
      // whose encoding names the codec, or, when the UI gives up before rendering it, as `null`:
      // none of them is clear text, and nothing else is accepted.
      const marked = [ENCRYPTED_ENCODING, Buffer.from(ENCRYPTED_ENCODING).toString('base64')].some((marker) => shown.includes(marker));
      if (!marked && shown !== 'null' && !/^"[A-Za-z0-9+/]{64,}={0,2}"$/.test(shown)) throw new Error(`the input is not a ciphertext: ${shown.slice(0, 60)}`);
      if (requests && decodes(since, 401) === 0) throw new Error('the codec server refused no decode request');
      const path = join(outDir, '04-encrypted-without-session.png');
      await shotDownToPayloads(page2, path);
      screenshots.push(path);
    });
    await fresh.close();
  } finally {
    await signedIn?.close();
    await browser.close();
  }
  return { checks, screenshots };
}

/** Where to read a stored history and what must not be in it. */
export interface StoredHistoryCheckOptions {
  /** A client whose raw `workflowService` reads the history as the server stores it, past any codec. */
  client: Client;
  namespace: string;
  workflowId: string;
  runId: string;
  /** Text that must not appear anywhere in the stored history. */
  clearText: readonly string[];
  /** The codec that encrypted the payloads: decrypting the input proves the clear text was there to find. */
  codec: PayloadCodec;
}

/** Reads the workflow's raw history (every page) and checks that its payloads are encrypted and hold no clear text. */
export async function checkStoredHistory(opts: StoredHistoryCheckOptions): Promise<UiCheck[]> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const response = await opts.client.workflowService.getWorkflowExecutionHistory({
      namespace: opts.namespace,
      execution: { workflowId: opts.workflowId, runId: opts.runId },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(response.history?.events ?? []));
    nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
  } while (nextPageToken);
  const stored = Buffer.from(temporal.api.history.v1.History.encode({ events }).finish());
  const input = events.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  const result = events.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes?.result?.payloads ?? [];
  const encoding = (p: temporal.api.common.v1.IPayload) => Buffer.from(p.metadata?.encoding ?? []).toString('utf8');

  const checks: UiCheck[] = [];
  await check(checks, `the server stores the workflow's input and result as ${ENCRYPTED_ENCODING} payloads`, async () => {
    if (!input.length || !result.length) throw new Error(`the history has ${input.length} input and ${result.length} result payloads`);
    const plain = [...input, ...result].map(encoding).filter((e) => e !== ENCRYPTED_ENCODING);
    if (plain.length) throw new Error(`payloads with encoding ${plain.join(', ')}`);
  });
  await check(checks, `the server's raw history (${events.length} events) holds no clear text of ${opts.clearText.map((t) => `"${t}"`).join(' or ')}`, async () => {
    // Control: the same search over the decrypted input must find every text, or finding none proves nothing.
    const decrypted = Buffer.concat((await opts.codec.decode(input)).map((p) => p.data ?? new Uint8Array()));
    const absent = opts.clearText.filter((text) => !decrypted.includes(text));
    if (absent.length) throw new Error(`control failed: the decrypted input lacks ${absent.join(', ')}`);
    const leaked = opts.clearText.filter((text) => stored.includes(text));
    if (leaked.length) throw new Error(`found ${leaked.join(', ')} in ${stored.length} bytes`);
  });
  return checks;
}

const HELP = `Usage: npm run webui-check -- [options]

Starts the stack (or uses the server at TEMPORAL_ADDRESS), runs an order that cannot be shipped and is
compensated, then checks it in the Web UI with headless Chromium (${chromiumPath()}, or CHROMIUM_PATH).

With --codec it checks encryption instead: it makes a throwaway key and token, runs the stack with
encrypted payloads and a codec server (in this process), runs an order, and checks that the Web UI
shows its input decoded after signing in at the codec server, shows only ciphertext without signing
in, and that the server's stored history holds no clear text.

Options:
  --codec                The encryption check
  --out-dir <dir>        Screenshots (default .artifacts/webui, with --codec .artifacts/webui-codec)
  --readme-image <file>  Copy the key screenshot here (default docs/images/webui-compensated-order.png,
                         with --codec docs/images/webui-decoded-payload.png; "" for none)
  --data-dir <dir>       Stack state when it starts its own server (default .data; with --codec a
                         temporary folder, removed afterwards: its histories need the throwaway key)
  --ui-port <port>       Web UI port of a dev server started here
  --codec-port <port>    Codec server port with --codec (default: a free port)
  -h, --help             Show this help
`;

type Args = { 'out-dir'?: string; 'readme-image'?: string; 'data-dir'?: string; 'ui-port'?: string; 'codec-port'?: string };

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      codec: { type: 'boolean' },
      'out-dir': { type: 'string' },
      'readme-image': { type: 'string' },
      'data-dir': { type: 'string' },
      'ui-port': { type: 'string' },
      'codec-port': { type: 'string' },
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
  return values.codec ? codecCheck(values) : compensationCheck(values);
}

function report(checks: readonly UiCheck[], screenshots: readonly string[], readme: string, readmeSource: string): number {
  for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  for (const s of screenshots) console.log(`screenshot: ${s}`);
  const source = screenshots.find((s) => s.endsWith(readmeSource));
  if (readme && source) {
    mkdirSync(dirname(resolve(readme)), { recursive: true });
    copyFileSync(source, readme);
    console.log(`README image: ${readme}`);
  }
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`Web UI check: ${checks.length - failed} of ${checks.length} checks passed`);
  return failed;
}

async function compensationCheck(values: Args): Promise<number> {
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
    const failed = report(result.checks, result.screenshots, values['readme-image'] ?? 'docs/images/webui-compensated-order.png', '04-timeline-compensation.png');
    return failed === 0 && outcome.status === 'COMPENSATED' ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function codecCheck(values: Args): Promise<number> {
  // A key and a token of its own: the check never needs (or prints) anyone's real secrets.
  const keyRing = new KeyRing([{ id: 'webui-check', key: randomBytes(32) }]);
  const keys = `${keyRing.activeKeyId}:${Buffer.from(keyRing.activeKey).toString('base64')}`;
  const token = randomBytes(24).toString('base64url');
  const codecPort = values['codec-port'] ? Number(values['codec-port']) : await freePort();
  // localhost, like the UI's URL: the session cookie is SameSite=Strict, and 127.0.0.1 is another site.
  const codecUrl = `http://localhost:${codecPort}`;
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'saga-webui-codec-'));
  const requests: CodecRequest[] = [];
  try {
    const stack = await startStack({
      env: { ...process.env, SAGA_CODEC_KEYS: keys, TEMPORAL_CODEC_ENDPOINT: codecUrl },
      dataDir,
      ...(values['ui-port'] ? { uiPort: Number(values['ui-port']) } : {}),
    });
    const codec = new AesGcmPayloadCodec(keyRing);
    // Created once the UI's URL is known: the codec server answers that origin's browsers only.
    const codecServer = createCodecServer({
      codec,
      token,
      allowedOrigins: [new URL(stack.uiUrl).origin],
      namespace: stack.config.namespace,
      logger: recordingLogger(requests),
    });
    try {
      await codecServer.listen(codecPort);
      const handle = await startOrder(stack.client, codecCheckOrder(`webui-codec-${Date.now().toString(36)}`), { taskQueue: stack.config.taskQueue });
      const outcome = await sagaOutcome(stack.client, handle);
      console.log(`${handle.workflowId}: ${outcome.status} (${outcome.message})`);
      const { runId } = await handle.describe();
      const target = { namespace: stack.config.namespace, workflowId: handle.workflowId, runId, clearText: Object.values(CODEC_CHECK_CLEAR_TEXT) };
      const ui = await checkDecodedPayloads({
        ...target,
        uiUrl: stack.uiUrl,
        codecUrl,
        token,
        codecRequests: () => requests,
        ...(stack.ownServer ? { clusterCodecEndpoint: codecUrl } : {}),
        ...(values['out-dir'] ? { outDir: values['out-dir'] } : {}),
      });
      const stored = await checkStoredHistory({ ...target, client: stack.client, codec });
      const decodes = requests.filter((r) => r.route === 'decode');
      console.log(`Codec server: ${decodes.filter((r) => r.status === 200).length} decode requests answered, ${decodes.filter((r) => r.status === 401).length} refused without a session`);
      const failed = report([...ui.checks, ...stored], ui.screenshots, values['readme-image'] ?? 'docs/images/webui-decoded-payload.png', '03-decoded-input.png');
      return failed === 0 && outcome.status === 'COMPLETED' ? 0 : 1;
    } finally {
      await codecServer.stop();
      await stack.stop();
    }
  } finally {
    if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true });
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
