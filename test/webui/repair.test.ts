import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../scripts/lib/webui/browser';
import { PNG_SIGNATURE, runWebUiCheck } from '../support/webui-check';

// An operator repairs stuck orders from the Web UI, as a person would: `npm run webui-check -- --repair`
// in a child process, on free ports, with headless Chromium, encryption on and the UI encoding the
// updates' input through the codec server. The child makes its own keys and tokens, so the test
// judges it by its report and its screenshots.

const dir = mkdtempSync(join(tmpdir(), 'saga-webui-repair-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Web UI repair of orders in COMPENSATION_FAILED', () => {
  it('sends retryCompensation with steps and skipCompensation with a reason from the browser, ends both orders COMPENSATED and shows the decoded input in their histories', async ({ skip }) => {
    if (!existsSync(chromiumPath())) {
      const reason = `no Chromium at ${chromiumPath()}: scripts/ci-system-deps.sh installs it, or set CHROMIUM_PATH`;
      console.warn(`Skipped: ${reason}`);
      skip(reason);
    }
    const shots = join(dir, 'shots');
    const { code, out } = await runWebUiCheck(['--repair', '--data-dir', join(dir, 'data'), '--out-dir', shots]);

    expect(code, out).toBe(0);
    expect(out).toMatch(/^order-repair-retry-\S+, order-repair-skip-\S+: COMPENSATION_FAILED \(refundPayment refused\)$/m);
    expect(out.match(/^ok {2}/gm)).toHaveLength(9);
    expect(out).not.toMatch(/^FAIL/m);
    expect(out).toMatch(/^ok +retryCompensation \{"steps":\["capturePayment"\]\} sent from the UI ends order-repair-retry-\S+ COMPENSATED$/m);
    expect(out).toMatch(/^ok +skipCompensation with a reason sent from the UI ends order-repair-skip-\S+ COMPENSATED$/m);
    expect(out).toMatch(/^ok +the history shows the skipCompensation input decoded, reason included$/m);
    expect(out).toMatch(/^ok +the server stores both updates' input as binary\/encrypted payloads/m);
    // One encode request per update at least: the UI encrypted each input through the codec server.
    const answered = Number(/Codec server: (\d+) encode requests answered/.exec(out)?.[1]);
    expect(answered, out).toBeGreaterThanOrEqual(2);

    expect(readdirSync(shots).sort()).toEqual([
      '01-compensation-failed.png',
      '02-retry-compensation-update.png',
      '03-retry-input-in-history.png',
      '04-skip-compensation-update.png',
      '05-skip-input-in-history.png',
    ]);
    for (const file of readdirSync(shots).map((f) => join(shots, f))) expect(readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  }, 240_000);
});
