// What the Web UI checks share: the headless Chromium they drive and how a check is recorded.

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

/** The window size of every check, so screenshots of different runs compare. */
export const VIEWPORT = { width: 1440, height: 1000 };

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

/** Runs one check and records whether it passed, with the first line of its error when it did not. */
export async function check(checks: UiCheck[], name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    checks.push({ name, ok: true });
  } catch (err) {
    checks.push({ name, ok: false, detail: (err instanceof Error ? err.message : String(err)).split('\n')[0] });
  }
}
