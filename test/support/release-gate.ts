// The release replay gate: every recorded release's histories (test/histories/<version>/) replayed
// against the workflow code a worker would run them on. Auto-upgrading types move to every new
// version's workers, so their histories replay against today's code, whatever release recorded them.
// A pinned type never meets another version's worker: its histories replay against today's code until
// a later release declares in its manifest that it changed the type without a patch; from then on,
// against the stored bundle of the release that recorded them. Only pinned types may be declared so.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import {
  compareReleases,
  historiesRoot,
  historyWorkflowType,
  loadBundle,
  pinnedWorkflowTypes,
  readManifest,
  recordedReleases,
  workflowSources,
  type ReleaseManifest,
} from '../../tools/release-histories';
import { tracingWorkerOptions } from '../../src/tracing';

/** A history the gate could not replay (or a manifest it refuses), by its path under the histories folder. */
export interface GateFailure {
  /** `<release>/<file>`, or `<release>/manifest.json` for a refused manifest. */
  history: string;
  /** The code it was replayed against: `today` or a release's stored bundle. */
  against: string;
  error: string;
}

export interface GateResult {
  /** Every history replayed without an error, as `<release>/<file>` → the code it was replayed against. */
  replayed: Map<string, string>;
  failures: GateFailure[];
}

export interface GateOptions {
  /** Today's workflow code for a workflows file (`src/workflows.ts`, a fixture file). */
  todaysBundle(source: string): Promise<{ code: string }>;
  /** @default test/histories */
  root?: string;
  /** @default pinnedWorkflowTypes of tools/release-histories.ts */
  pinned?: readonly string[];
}

function jsonFiles(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? jsonFiles(join(dir, d.name), root) : d.name.endsWith('.json') && dir !== root ? [relative(root, join(dir, d.name))] : []))
    .sort();
}

/** Replays every recorded release and lists each history that does not replay, with the reason. */
export async function runReleaseGate({ todaysBundle, root = historiesRoot, pinned = pinnedWorkflowTypes }: GateOptions): Promise<GateResult> {
  const releases = recordedReleases(root);
  const manifests = new Map<string, ReleaseManifest>(releases.map((r) => [r, readManifest(r, root)]));
  const failures: GateFailure[] = [];
  const replayed = new Map<string, string>();
  // History paths grouped by the code they replay against: `today:<source>` or `release:<version>`.
  const groups = new Map<string, { history: string; workflowId: string; events: History }[]>();

  for (const release of releases) {
    const manifest = manifests.get(release)!;
    for (const change of manifest.changedWithoutPatch) {
      if (!pinned.includes(change.workflowType)) {
        failures.push({
          history: `${release}/manifest.json`,
          against: 'today',
          error: `${change.workflowType} is declared changed without a patch, but it is not pinned: its running executions move to every new version, so the change needs a patch`,
        });
      }
    }
    const onDisk = jsonFiles(join(root, release)).filter((f) => f !== 'manifest.json');
    const listed = new Set(manifest.histories.map((h) => h.file));
    for (const file of onDisk.filter((f) => !listed.has(f))) failures.push({ history: `${release}/${file}`, against: 'none', error: 'not in the release manifest' });
    for (const entry of manifest.histories) {
      const history = `${release}/${entry.file}`;
      if (!onDisk.includes(entry.file)) {
        failures.push({ history, against: 'none', error: 'in the release manifest, but no such file' });
        continue;
      }
      const events = historyFromJSON(JSON.parse(readFileSync(join(root, release, entry.file), 'utf8')));
      const type = historyWorkflowType(events);
      if (type !== entry.workflowType) {
        failures.push({ history, against: 'none', error: `the manifest says ${entry.workflowType}, the history ran ${type}` });
        continue;
      }
      const changedLater = releases.some((later) => compareReleases(later, release) > 0 && manifests.get(later)!.changedWithoutPatch.some((c) => c.workflowType === type));
      let key: string;
      if (pinned.includes(type) && changedLater) {
        key = `release:${release}`;
      } else {
        const source = workflowSources[type];
        if (!source) {
          failures.push({ history, against: 'none', error: `no workflows file is known for type ${type} (tools/release-histories.ts, workflowSources)` });
          continue;
        }
        key = `today:${source}`;
      }
      const group = groups.get(key) ?? [];
      group.push({ history, workflowId: history, events });
      groups.set(key, group);
    }
  }

  for (const [key, histories] of groups) {
    const [kind, what] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const against = kind === 'today' ? 'today' : what;
    let options: Parameters<typeof Worker.runReplayHistories>[0];
    try {
      // A stored bundle is the production one: its tracing interceptors need the worker's exporter sink.
      options = kind === 'today' ? { workflowBundle: await todaysBundle(what) } : { workflowBundle: loadBundle(what, root), ...tracingWorkerOptions(undefined, { prebuiltBundle: true }) };
    } catch (err) {
      for (const h of histories) failures.push({ history: h.history, against, error: `no code to replay it on: ${err instanceof Error ? err.message : String(err)}` });
      continue;
    }
    for await (const result of Worker.runReplayHistories(options, histories.map((h) => ({ workflowId: h.workflowId, history: h.events })))) {
      if (result.error) failures.push({ history: result.workflowId, against, error: result.error instanceof Error ? result.error.message : String(result.error) });
      else replayed.set(result.workflowId, against);
    }
  }
  failures.sort((a, b) => a.history.localeCompare(b.history));
  return { replayed, failures };
}

/** One line per failure, for an assertion's message: `<release>/<file> (against <code>): <error>`. */
export function formatGateFailures(failures: readonly GateFailure[]): string {
  return failures.map((f) => `${f.history} (against ${f.against}): ${f.error.split('\n')[0]!.slice(0, 300)}`).join('\n');
}
