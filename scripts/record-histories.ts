// `npm run record-histories`: records the histories of every saga shape and outcome for the current
// release (the project's version) into test/histories/<version>/, for the release replay gate. It runs
// the test files that drive each shape with RECORD_HISTORIES=1 (each starts its own Temporal server:
// the dev server from .temporal, or the time-skipping test server where a shape waits on a timer, such
// as a registration's 24-hour deadline), so a history is recorded by the same run that checks it
// behaved. Then it stores the release's prebuilt workflow bundle, gzipped, and writes the manifest.
// The release's folder is emptied first, so the set is exactly what this run recorded; the manifest's
// declarations of changes without a patch are kept.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { buildBundle } from './build-bundle';
import { BUNDLE_FILE, currentRelease, historiesRoot, readManifestOrEmpty, storeBundle, writeManifest } from '../tools/release-histories';

/**
 * The test files that record histories, one shape or outcome per history: the order and the
 * registration on every path (the registration's waits with 250 messages included), the engine's
 * fixtures, the patterns (pivot, try-confirm-cancel, child sagas, the ledger) and the repairs.
 */
export const recordingTestFiles: readonly string[] = [
  'test/order/saga.test.ts',
  'test/order/pivot.test.ts',
  'test/order/patched-changes.test.ts',
  'test/never/undo-after-commit.test.ts',
  'test/reliability/compensation-failed.test.ts',
  'test/registration/saga.test.ts',
  'test/registration/signals.test.ts',
  'test/registration/patched-changes.test.ts',
  'test/saga/workflow.test.ts',
  'test/saga/edges.test.ts',
  'test/saga/operator-updates.test.ts',
  'test/saga/repair.test.ts',
  'test/saga/pivot.test.ts',
  'test/saga/tcc.test.ts',
  'test/saga/child.test.ts',
  'test/saga/child-ended.test.ts',
  'test/saga/ledger.test.ts',
];

const HELP = `npm run record-histories [-- --help]

Records the histories of every saga shape and outcome for release ${currentRelease()} (package.json's
version) into test/histories/${currentRelease()}/, with its manifest and its gzipped workflow bundle.
Bump the version first when the code is a new release: an earlier release's histories are never
re-recorded. Takes several minutes; it runs these test files with RECORD_HISTORIES=1:
  ${recordingTestFiles.join('\n  ')}`;

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? jsonFiles(join(dir, d.name)) : d.name.endsWith('.json') ? [join(dir, d.name)] : []));
}

async function main(): Promise<number> {
  if (process.argv.includes('--help')) {
    console.log(HELP);
    return 0;
  }
  const release = currentRelease();
  const dir = join(historiesRoot, release);
  const declared = readManifestOrEmpty(release).changedWithoutPatch;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeManifest({ release, changedWithoutPatch: declared, histories: [] });

  console.log(`Recording release ${release} into ${relative(process.cwd(), dir)}/`);
  const run = spawnSync('npx', ['vitest', 'run', ...recordingTestFiles], { stdio: 'inherit', env: { ...process.env, RECORD_HISTORIES: '1' }, cwd: resolve(__dirname, '..') });
  if (run.status !== 0) {
    console.error(`The recording tests failed (exit ${String(run.status)}): the histories of ${release} are incomplete; fix the failure and record again.`);
    return 1;
  }

  const scratch = mkdtempSync(join(tmpdir(), 'record-histories-'));
  try {
    const { path } = await buildBundle(join(scratch, 'workflow-bundle.js'));
    storeBundle(readFileSync(path, 'utf8'), release);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const manifest = readManifestOrEmpty(release);
  writeManifest({ ...manifest, bundle: BUNDLE_FILE });

  const listed = new Set(manifest.histories.map((h) => h.file));
  const unlisted = jsonFiles(dir)
    .map((f) => relative(dir, f))
    .filter((f) => f !== 'manifest.json' && !listed.has(f));
  if (unlisted.length > 0 || !existsSync(join(dir, BUNDLE_FILE))) {
    console.error(`Histories without a manifest entry: ${unlisted.join(', ')}`);
    return 1;
  }
  const byType = new Map<string, number>();
  for (const h of manifest.histories) byType.set(h.workflowType, (byType.get(h.workflowType) ?? 0) + 1);
  console.log(`Recorded ${manifest.histories.length} histories of ${release} (${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')}) and its workflow bundle.`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`record-histories failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
