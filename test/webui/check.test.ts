import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../scripts/lib/webui/browser';
import { PNG_SIGNATURE, runWebUiCheck } from '../support/webui-check';

// The Web UI checked as a person would: `npm run webui-check` in a child process, on free ports, with
// headless Chromium. Skipped where no Chromium is installed (scripts/ci-system-deps.sh can add it).

const root = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'saga-webui-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(chromiumPath()))('Web UI check', () => {
  it('finds the compensated order by SagaStatus and its compensations with their summaries, and saves screenshots', async () => {
    // Two distinct ports: the system may hand the same free port out twice in a row, and a dev server
    // asked to serve gRPC and its Web UI on one port exits at once.
    const shots = join(dir, 'shots');
    // Without --readme-image the check writes under its --out-dir only: the README's tracked image stays as it is.
    const tracked = join(root, 'docs', 'images', 'webui-compensated-order.png');
    const trackedBefore = readFileSync(tracked);
    const { code, out } = await runWebUiCheck(['--data-dir', join(dir, 'data'), '--out-dir', shots]);

    expect(code, out).toBe(0);
    expect(out).toMatch(/order-webui-\S+: COMPENSATED/);
    expect(out.match(/^ok {2}/gm)).toHaveLength(4);
    expect(out).not.toMatch(/^FAIL/m);
    expect(readdirSync(shots).sort()).toEqual([
      '01-workflow-list-saga-status.png',
      '02-search-attributes.png',
      '03-history-compensations.png',
      '04-timeline-compensation.png',
    ]);
    for (const file of readdirSync(shots).map((f) => join(shots, f))) expect(readFileSync(file).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(out).not.toContain('README image:');
    expect(readFileSync(tracked).equals(trackedBefore)).toBe(true);
  }, 150_000);
});
