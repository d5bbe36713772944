// The recorded histories of each release, as `npm run record-histories` writes them and the release
// replay gate reads them: `test/histories/<version>/` holds the histories (by folder), a manifest
// (`manifest.json`: each history's workflow type, outcome and what it shows, and the workflow types
// the release changed without a patch) and the release's prebuilt workflow bundle, gzipped, for the
// pinned types whose later code no longer replays them. Node-side tooling, shared by the script and
// the tests.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { History } from '@temporalio/common/lib/proto-utils';
import { PINNED_SAGA_TYPES } from '../src/deployment/versions';

/** Where every release's histories live. */
export const historiesRoot = resolve(__dirname, '..', 'test', 'histories');

/** File name of a release's manifest, in its folder. */
export const MANIFEST_FILE = 'manifest.json';

/** File name of a release's gzipped workflow bundle (`npm run build:bundle`'s output, without its source map). */
export const BUNDLE_FILE = 'workflow-bundle.js.gz';

/**
 * The workflow types the product's workers run pinned to the version that started them (the deploy
 * tooling's list, `src/deployment/versions.ts`): an execution of one never meets another version's
 * worker, so its histories need replay only on their own release's code once a later release changes
 * the type without a patch.
 */
export const pinnedWorkflowTypes: readonly string[] = PINNED_SAGA_TYPES;

/** Which workflows file (from the project's root) defines each recorded workflow type. */
export const workflowSources: Readonly<Record<string, string>> = {
  orderSaga: 'src/workflows.ts',
  registrationSaga: 'src/workflows.ts',
  scriptedSaga: 'test/fixtures/saga-workflows.ts',
  pivotSaga: 'test/fixtures/pattern-workflows.ts',
  tccSaga: 'test/fixtures/pattern-workflows.ts',
  tripSaga: 'test/fixtures/pattern-workflows.ts',
  bookingSaga: 'test/fixtures/pattern-workflows.ts',
  ledgerSaga: 'test/fixtures/pattern-workflows.ts',
};

/** One recorded history in a release's manifest. */
export interface ManifestEntry {
  /** Path of the history inside the release's folder, e.g. `order/completed.json`. */
  file: string;
  /** The workflow type the history ran (from its start event). */
  workflowType: string;
  /** How the execution ended: `COMPLETED`, `FAILED`, `CANCELED`, `TERMINATED`, or `OPEN` when recorded while it waited. */
  outcome: string;
  /** What the history shows, in one sentence (the title of the test that recorded it). */
  shows: string;
}

/** A workflow type whose commands changed in a release without a patch. */
export interface UnpatchedChange {
  workflowType: string;
  /** The change, in one sentence. */
  change: string;
  /** Why no execution of an earlier release meets this release's code. */
  earlierRunsStayOn: string;
}

/** `test/histories/<version>/manifest.json`. */
export interface ReleaseManifest {
  release: string;
  /** The release's workflow bundle in its folder, when one is stored. */
  bundle?: string;
  /** Pinned workflow types whose commands this release changed without a patch (the gate refuses any other type here). */
  changedWithoutPatch: UnpatchedChange[];
  histories: ManifestEntry[];
}

/** The project's version, the release today's code becomes. */
export function currentRelease(): string {
  return (JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** Orders `a` and `b` as release versions (`0.2.0` after `0.1.10` after `0.1.9`). */
export function compareReleases(a: string, b: string): number {
  const pa = SEMVER.exec(a)!.slice(1).map(Number);
  const pb = SEMVER.exec(b)!.slice(1).map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/** Every recorded release under `root`, oldest first. */
export function recordedReleases(root: string = historiesRoot): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && SEMVER.test(d.name))
    .map((d) => d.name)
    .sort(compareReleases);
}

export function readManifest(release: string, root: string = historiesRoot): ReleaseManifest {
  return JSON.parse(readFileSync(join(root, release, MANIFEST_FILE), 'utf8')) as ReleaseManifest;
}

export function writeManifest(manifest: ReleaseManifest, root: string = historiesRoot): void {
  const sorted = { ...manifest, histories: [...manifest.histories].sort((a, b) => a.file.localeCompare(b.file)) };
  writeFileSync(join(root, manifest.release, MANIFEST_FILE), `${JSON.stringify(sorted, null, 2)}\n`);
}

/** The manifest of `release`, or an empty one when none was written yet. */
export function readManifestOrEmpty(release: string, root: string = historiesRoot): ReleaseManifest {
  return existsSync(join(root, release, MANIFEST_FILE)) ? readManifest(release, root) : { release, changedWithoutPatch: [], histories: [] };
}

/** Stores a bundle's code gzipped beside the release's histories, without its inline source map (replay needs none). */
export function storeBundle(code: string, release: string, root: string = historiesRoot): string {
  const at = code.lastIndexOf('\n//# sourceMappingURL=');
  writeFileSync(join(root, release, BUNDLE_FILE), gzipSync(at === -1 ? code : code.slice(0, at), { level: 9 }));
  return BUNDLE_FILE;
}

// The worker reads an inline source map from every bundle it loads; the stored bundle leaves the real
// one out (it would triple the file), so an empty one stands in: stack traces then name bundle lines.
const EMPTY_SOURCE_MAP = `\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify({ version: 3, file: 'workflow-bundle.js', sources: [], names: [], mappings: '' })).toString('base64')}`;

/** The stored workflow bundle of `release`, ready for `Worker.runReplayHistories({ workflowBundle })`. */
export function loadBundle(release: string, root: string = historiesRoot): { code: string } {
  const manifest = readManifest(release, root);
  if (!manifest.bundle) throw new Error(`release ${release} stores no workflow bundle (${join(release, MANIFEST_FILE)} names none)`);
  return { code: gunzipSync(readFileSync(join(root, release, manifest.bundle))).toString('utf8') + EMPTY_SOURCE_MAP };
}

/** How an execution ended, from the last event of its history; `OPEN` for one recorded while running. */
export function historyOutcome(history: History): string {
  const last = history.events?.at(-1);
  if (last?.workflowExecutionCompletedEventAttributes) return 'COMPLETED';
  if (last?.workflowExecutionFailedEventAttributes) return 'FAILED';
  if (last?.workflowExecutionCanceledEventAttributes) return 'CANCELED';
  if (last?.workflowExecutionTerminatedEventAttributes) return 'TERMINATED';
  if (last?.workflowExecutionTimedOutEventAttributes) return 'TIMED_OUT';
  if (last?.workflowExecutionContinuedAsNewEventAttributes) return 'CONTINUED_AS_NEW';
  return 'OPEN';
}

/** The workflow type a history ran, from its start event. */
export function historyWorkflowType(history: History): string {
  const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
  if (!type) throw new Error('the history does not begin with a workflow start event');
  return type;
}
