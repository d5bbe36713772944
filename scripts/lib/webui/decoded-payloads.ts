// The Web UI check of encrypted payloads: signed in at the codec server the UI shows the input
// decoded; in a fresh browser without the session it shows only ciphertext.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ENCRYPTED_ENCODING } from '../../../src/codec';
import type { CodecServerLogger } from '../../../src/codec/server';
import type { OrderInput } from '../../../src/order/contract';
import { sampleOrder } from '../sample-order';
import { check, CHROMIUM_ARGS, chromiumPath, VIEWPORT, type UiCheck, type WebUiCheckResult } from './browser';

/** Personal data of the codec check's order: distinctive enough that finding it anywhere is a leak. */
export const CODEC_CHECK_CLEAR_TEXT = { email: 'ada.lovelace@analytical-engine.example', name: 'Augusta Ada King' } as const;

/** The order the codec check runs, carrying {@link CODEC_CHECK_CLEAR_TEXT}; it ships and completes. */
export function codecCheckOrder(orderId: string): OrderInput {
  return sampleOrder(orderId, {
    customerId: 'c-codec',
    email: CODEC_CHECK_CLEAR_TEXT.email,
    shippingAddress: { name: CODEC_CHECK_CLEAR_TEXT.name, line1: "12 St James's Square", city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
  });
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

/** The codec settings dialog, opened from the UI's top bar. */
export async function openCodecSettings(page: Page, uiUrl: string, namespace: string) {
  const dialog = page.locator('#data-encoder-settings');
  if (await dialog.isVisible()) return dialog;
  await page.goto(`${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows`);
  // The button's test id ends in the codec status (configured, error…).
  await page.locator('[data-testid^="data-encoder-status"]').first().click();
  await dialog.waitFor();
  return dialog;
}

/** The UI's browser-level codec settings as its local storage holds them. */
export async function readCodecSettings(page: Page): Promise<Record<string, string | null>> {
  // Runs in the page; the project's types know no DOM, hence the narrow view of local storage.
  return page.evaluate((keys) => {
    const storage = (globalThis as unknown as { localStorage: { getItem(key: string): string | null } }).localStorage;
    return Object.fromEntries(keys.map((key) => [key, storage.getItem(key)]));
  }, Object.values(UI_CODEC_SETTINGS));
}

/** Throws unless the settings name `codecUrl`, with cross-origin credentials, overriding the cluster's setting. */
export function expectCodecSettings(stored: Record<string, string | null>, codecUrl: string): void {
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
