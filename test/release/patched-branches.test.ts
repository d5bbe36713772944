import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';

// Both branches of every patch run in a test (issue 28): the release replay gate replays every
// recorded history, so a patch is covered when the recorded releases hold a history that takes its
// old branch (no marker, on a path the patch changed) and one that takes its new branch (the marker).
// test/histories/CHANGELOG.md keeps the table, patch by patch; this reads it against the code.

const root = resolve(__dirname, '..', '..');
const changelog = readFileSync(join(root, 'test', 'histories', 'CHANGELOG.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

/** Every patch id the workflow code asks, read from its `patched(NAME)` calls and the constants they name. */
function patchIdsInCode(): string[] {
  const ids = new Set<string>();
  for (const file of [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'packages', 'saga', 'src'))]) {
    const text = readFileSync(file, 'utf8');
    for (const [, arg] of text.matchAll(/\bpatched\(([^)]+)\)/g)) {
      const literal = /^'([^']+)'$/.exec(arg!.trim());
      const constant = literal ? undefined : new RegExp(`const ${arg!.trim()} = '([^']+)'`).exec(text);
      const id = literal?.[1] ?? constant?.[1];
      if (id) ids.add(id);
    }
  }
  return [...ids].sort();
}

interface Row {
  patch: string;
  old: string[];
  new: string[];
  oldCell: string;
  newCell: string;
}

/** The rows of the table under "## Both branches of every patch". */
function tableRows(): Row[] {
  const section = changelog.split('\n## ').find((s) => s.startsWith('Both branches of every patch'));
  if (!section) return [];
  return section
    .split('\n')
    .filter((line) => /^\| `[a-z-]+` \|/.test(line))
    .map((line) => {
      const cells = line.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, ''));
      const paths = (cell: string) => [...cell.matchAll(/`(\d+\.\d+\.\d+\/[^`]+\.json)`/g)].map((m) => m[1]!);
      return { patch: /`([^`]+)`/.exec(cells[0]!)![1]!, oldCell: cells[2]!, newCell: cells[3]!, old: paths(cells[2]!), new: paths(cells[3]!) };
    });
}

const history = (path: string): History => historyFromJSON(JSON.parse(readFileSync(join(root, 'test', 'histories', path), 'utf8')));
const markers = (h: History, patch: string) =>
  h.events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch' && e.markerRecordedEventAttributes.details?.['patch-data']?.payloads?.some((p) => Buffer.from(p.data!).toString().includes(`"${patch}"`))).length;

describe('the table of patches and the histories of their two branches (test/histories/CHANGELOG.md)', () => {
  it('finds the patch ids the code asks', () => {
    expect(patchIdsInCode()).toEqual([
      'order-strict-input',
      'registration-check-outlives-cancellation',
      'registration-message-bound',
      'registration-strict-input',
      'saga-cancel-parallel-stage-on-failure',
      'saga-child-attach',
      'saga-child-commit-holds-first',
      'saga-child-reports-close',
      'saga-forward-only-after-pivot',
    ]);
  });

  it('has a row for every patch id the code asks', () => {
    const rows = new Set(tableRows().map((r) => r.patch));
    expect(patchIdsInCode().filter((id) => !rows.has(id))).toEqual([]);
  });

  it('names, for each branch of each row, recorded histories that take it, or says plainly why there is none', () => {
    for (const row of tableRows()) {
      for (const [branch, paths, cell] of [['old', row.old, row.oldCell], ['new', row.new, row.newCell]] as const) {
        if (paths.length === 0) expect(cell, `${row.patch}, ${branch} branch`).toMatch(/^none: .{20,}/);
        for (const path of paths) {
          const count = markers(history(path), row.patch);
          if (branch === 'old') expect(count, `${path} takes the old branch of ${row.patch}`).toBe(0);
          else expect(count, `${path} takes the new branch of ${row.patch}`).toBe(1);
        }
      }
    }
  });

  it('fails on a patch id without a row (the check above, on a table missing one)', () => {
    const rows = new Set(tableRows().filter((r) => r.patch !== 'registration-message-bound').map((r) => r.patch));
    expect(patchIdsInCode().filter((id) => !rows.has(id))).toEqual(['registration-message-bound']);
  });
});
