import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../scripts/lib/webui/browser';
import { CODEC_CHECK_CLEAR_TEXT } from '../../scripts/lib/webui/decoded-payloads';
import { PNG_SIGNATURE, runWebUiCheck } from '../support/webui-check';

// Encrypted payloads seen through the Web UI as a person would: `npm run webui-check -- --codec` in a
// child process, on free ports, with headless Chromium. The child makes its own key and token, so
// the test judges it by its report, its screenshots and the server's database files it leaves.

const dir = mkdtempSync(join(tmpdir(), 'saga-webui-codec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Web UI with the codec server', () => {
  it('shows the decoded input only after signing in at the codec server, while the server stores no clear text', async ({ skip }) => {
    if (!existsSync(chromiumPath())) {
      const reason = `no Chromium at ${chromiumPath()}: scripts/ci-system-deps.sh installs it, or set CHROMIUM_PATH`;
      // The default reporter shows a skip note only in verbose mode; the log line shows in any.
      console.warn(`Skipped: ${reason}`);
      skip(reason);
    }
    const data = join(dir, 'data');
    const shots = join(dir, 'shots');
    const readme = join(dir, 'readme.png');
    const { code, out } = await runWebUiCheck(['--codec', '--data-dir', data, '--out-dir', shots, '--readme-image', readme]);

    expect(code, out).toBe(0);
    const workflowId = /^(order-webui-codec-\S+): COMPLETED/m.exec(out)?.[1];
    expect(workflowId, out).toBeDefined();
    expect(out.match(/^ok {2}/gm)).toHaveLength(7);
    expect(out).not.toMatch(/^FAIL/m);
    expect(out).toMatch(/^ok +the workflow's input shows the decoded/m);
    expect(out).toMatch(/^ok +without signing in .* the input stays ciphertext/m);
    expect(out).toMatch(/^ok +the server's raw history .* holds no clear text/m);
    const [, answered, refused] = /Codec server: (\d+) decode requests answered, (\d+) refused/.exec(out) ?? [];
    expect(Number(answered), out).toBeGreaterThan(0);
    expect(Number(refused), out).toBeGreaterThan(0);

    expect(readdirSync(shots).sort()).toEqual(['01-codec-signed-in.png', '02-codec-settings.png', '03-decoded-input.png', '04-encrypted-without-session.png']);
    for (const file of [...readdirSync(shots).map((f) => join(shots, f)), readme]) expect(readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(readFileSync(readme).equals(readFileSync(join(shots, '03-decoded-input.png')))).toBe(true);

    // The dev server's own files, read apart from its API: they hold the workflow and its encrypted
    // payloads, and neither the e-mail address nor the name. (The services' database, saga.db, is
    // the business system's and holds the order in clear on purpose.)
    const serverFiles = readdirSync(data).filter((f) => f.startsWith('temporal'));
    const stored = Buffer.concat(serverFiles.map((f) => readFileSync(join(data, f))));
    expect(serverFiles).toContain('temporal.db');
    expect(stored.includes(workflowId!)).toBe(true);
    expect(stored.includes('binary/encrypted')).toBe(true);
    for (const text of Object.values(CODEC_CHECK_CLEAR_TEXT)) expect(stored.includes(text), `${text} in the server's files`).toBe(false);
  }, 120_000);
});
