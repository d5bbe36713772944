import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { workflowPreloadModules } from '../../src/workflow-preload';
import { tracingWorkerOptions } from '../../src/tracing';
import { historiesRoot, loadBundle, readManifest, recordedReleases } from '../../tools/release-histories';
import { bundleFor, readHistories, workflowBundle } from '../helpers';
import { formatGateFailures, runReleaseGate } from '../support/release-gate';

// The release replay gate (issue 29): every release recorded under test/histories/<version>/ is replayed
// against the code its workflows would meet. A change of commands without a patch or a version fails
// here, naming each history it breaks. test/histories/CHANGELOG.md says how a release is recorded and
// how the gate treats pinned and auto-upgrading types.

const todaysBundle = (source: string) => {
  if (source === 'src/workflows.ts') return workflowBundle();
  if (source.startsWith('test/')) return bundleFor(source.slice('test/'.length));
  throw new Error(`no bundle for ${source}`);
};

const scratch = mkdtempSync(join(tmpdir(), 'release-gate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the release replay gate', () => {
  it('replays every history of every recorded release, the orders of 0.1.0 and 0.2.0 on their own release\'s code and everything else on today\'s', async () => {
    const releases = recordedReleases();
    expect(releases.slice(0, 3)).toEqual(['0.1.0', '0.2.0', '0.3.0']);
    const { replayed, failures } = await runReleaseGate({ todaysBundle });
    expect(failures, formatGateFailures(failures)).toEqual([]);
    const listed = releases.flatMap((r) => readManifest(r).histories.map((h) => `${r}/${h.file}`));
    expect([...replayed.keys()].sort()).toEqual(listed.sort());
    expect(replayed.size).toBeGreaterThanOrEqual(57 + 50 + 56);
    // 0.2.0 and 0.3.0 changed the order without a patch: the orders of 0.1.0 replay on 0.1.0's code,
    // those of 0.2.0 on 0.2.0's, those of 0.3.0 on today's.
    expect(replayed.get('0.1.0/patterns/order-pivot/completed.json')).toBe('0.1.0');
    expect(replayed.get('0.1.0/order/completed.json')).toBe('0.1.0');
    expect(replayed.get('0.2.0/order/completed.json')).toBe('0.2.0');
    expect(replayed.get('0.3.0/order/completed.json')).toBe('today');
    expect(replayed.get('0.1.0/registration/verified-after-250-messages.json')).toBe('today');
    expect(replayed.get('0.1.0/saga/completed.json')).toBe('today');
  });

  it('fails on the registration\'s message bound applied without its patch, naming every history past 200 messages and no other', async () => {
    const unpatched = await bundleWorkflowCode({
      workflowsPath: resolve(__dirname, '..', '..', 'src', 'workflows.ts'),
      preloadModules: [...workflowPreloadModules],
      webpackConfigHook: (config) => ({
        ...config,
        resolve: { ...config.resolve, alias: { ...(config.resolve?.alias as Record<string, string>), '@temporalio/workflow$': resolve(__dirname, '..', 'fixtures', 'unpatched-message-bound.ts') } },
      }),
      logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error },
    });
    const { failures } = await runReleaseGate({ todaysBundle: (source) => (source === 'src/workflows.ts' ? Promise.resolve(unpatched) : todaysBundle(source)) });
    const failing = failures.map((f) => f.history);
    expect(failing).toEqual([
      '0.1.0/registration/flooded.json',
      '0.1.0/registration/verified-after-250-messages.json',
      '0.2.0/registration/flooded.json',
      '0.3.0/registration/flooded.json',
    ]);
    for (const f of failures) expect(f.error, f.history).toMatch(/nondeterminism/i);
    // Each of them took more than 200 messages; the registrations that took fewer replay.
    for (const name of ['flooded', 'verified-after-250-messages']) {
      const { history } = (await readHistories('0.1.0/registration')).find((h) => h.workflowId === name)!;
      expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length, name).toBe(250);
    }
  }, 120_000);

  it('refuses a release that declares an auto-upgrading type changed without a patch', async () => {
    const root = join(scratch, 'auto-upgrade-declared');
    mkdirSync(join(root, '0.1.0'), { recursive: true });
    const manifest = { release: '0.1.0', changedWithoutPatch: [{ workflowType: 'registrationSaga', change: 'a new wait', earlierRunsStayOn: 'none' }], histories: [] };
    writeFileSync(join(root, '0.1.0', 'manifest.json'), JSON.stringify(manifest));
    const { failures } = await runReleaseGate({ todaysBundle, root });
    expect(failures.map((f) => [f.history, f.error.slice(0, 60)])).toEqual([['0.1.0/manifest.json', 'registrationSaga is declared changed without a patch, but it']]);
  });

  it('names each history of a pinned type changed later when its release stored no bundle to replay it on', async () => {
    const root = join(scratch, 'no-bundle');
    mkdirSync(join(root, '0.1.0', 'order'), { recursive: true });
    mkdirSync(join(root, '0.2.0'), { recursive: true });
    copyFileSync(join(historiesRoot, '0.1.0', 'order', 'completed.json'), join(root, '0.1.0', 'order', 'completed.json'));
    const entry = { file: 'order/completed.json', workflowType: 'orderSaga', outcome: 'COMPLETED', shows: 'a completed order' };
    writeFileSync(join(root, '0.1.0', 'manifest.json'), JSON.stringify({ release: '0.1.0', changedWithoutPatch: [], histories: [entry] }));
    const declared = { workflowType: 'orderSaga', change: 'a step moved', earlierRunsStayOn: 'pinned' };
    writeFileSync(join(root, '0.2.0', 'manifest.json'), JSON.stringify({ release: '0.2.0', changedWithoutPatch: [declared], histories: [] }));
    const { failures } = await runReleaseGate({ todaysBundle, root });
    expect(failures.map((f) => [f.history, f.against, f.error])).toEqual([['0.1.0/order/completed.json', '0.1.0', 'no code to replay it on: release 0.1.0 stores no workflow bundle (0.1.0/manifest.json names none)']]);
  });

  it('names a history on disk that its release manifest does not list', async () => {
    const root = join(scratch, 'unlisted');
    mkdirSync(join(root, '0.3.0', 'order'), { recursive: true });
    writeFileSync(join(root, '0.3.0', 'manifest.json'), JSON.stringify({ release: '0.3.0', changedWithoutPatch: [], histories: [] }));
    writeFileSync(join(root, '0.3.0', 'order', 'stray.json'), '{}');
    const { failures } = await runReleaseGate({ todaysBundle, root });
    expect(failures).toEqual([{ history: '0.3.0/order/stray.json', against: 'none', error: 'not in the release manifest' }]);
  });
});

describe('an order history holding the pivot patch marker, on code that no longer asks the patch', () => {
  it('fails on today\'s code with the SDK\'s nondeterminism error naming the patch, and replays on 0.1.0\'s stored bundle', async () => {
    const { history } = (await readHistories('0.1.0/patterns/order-pivot')).find((h) => h.workflowId === 'completed')!;
    const markers = history.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    expect(markers).toHaveLength(1);
    const versionUpserts = history.events!.filter((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}).includes('TemporalChangeVersion'));
    expect(versionUpserts).toHaveLength(1);
    const today = await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'completed').then(() => 'replayed', (err: unknown) => String(err));
    expect(today).toContain('Non-deprecated patch marker encountered for change order-shipment-pivot');
    const own = await Worker.runReplayHistory({ workflowBundle: loadBundle('0.1.0'), ...tracingWorkerOptions(undefined, { prebuiltBundle: true }) }, history, 'completed').then(() => 'replayed', (err: unknown) => String(err));
    expect(own).toBe('replayed');
  });
});
