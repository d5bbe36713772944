// CI's mutation check (`npm run mutation:ci`): StrykerJS, incremental, over the files whose results are
// committed in test/mutation/incremental.json, then the floors of scripts/mutation-scores.mjs. Mutants
// whose code and covering tests did not change are taken from the file; the others run again, so a
// change that lets one survive fails CI. A file gets here once a full `npm run mutation` (or one over
// that file) has committed its results: until then it is left out rather than run in full on every push.
//
// When nothing StrykerJS compares has changed since the results were committed (every mutated file and
// every test file of the mutation run as the file records them, and the run's configuration as of the
// commit that last wrote the file), StrykerJS would reuse every result: the check then reads the scores
// from the file and skips StrykerJS's initial test run, which is most of its time. `--run` runs it anyway.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const incrementalFile = 'test/mutation/incremental.json';
const mutationConfig = 'vitest.mutation.config.mts';
/** What decides the results besides the mutated files and the tests: the run's configuration and the bridge. */
export const configurationFiles = [
  'stryker.config.mjs',
  mutationConfig,
  'scripts/mutation-areas.mjs',
  'test/support/mutation-bridge.ts',
  'test/support/mutation-bridge-workflow.ts',
  'test/bundle-workflows.ts',
];

/** The test file patterns of the mutation run's vitest configuration (its `include` list). */
export function includePatterns(configText) {
  const block = /include:\s*\[([\s\S]*?)\]/.exec(configText);
  if (!block) throw new Error(`no include list in ${mutationConfig}`);
  return [...block[1].matchAll(/'([^']+\.test\.ts)'/g)].map((m) => m[1]);
}

/** The files a pattern names: a path, or a folder and a file name with `*` (no `**`). */
export function expandPattern(pattern, list = (dir) => readdirSync(dir)) {
  if (!pattern.includes('*')) return [pattern];
  if (pattern.includes('**') || dirname(pattern).includes('*')) throw new Error(`pattern not supported here: ${pattern}`);
  const name = new RegExp(`^${pattern.slice(dirname(pattern).length + 1).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return list(dirname(pattern))
    .filter((f) => name.test(f))
    .map((f) => join(dirname(pattern), f))
    .sort();
}

/**
 * Why StrykerJS must run, or undefined when it would reuse every committed result: a mutated file or a
 * test file whose text differs from the one recorded, a test file not recorded, or a changed configuration.
 */
export function reasonToRun({ incremental, testFiles, read, configurationChanged }) {
  for (const [file, { source }] of Object.entries(incremental.files ?? {})) {
    if (read(file) !== source) return `${file} changed since its results were committed`;
  }
  for (const file of testFiles) {
    const recorded = incremental.testFiles?.[file];
    if (!recorded) return `${file} has no committed results`;
    if (read(file) !== recorded.source) return `${file} changed since the results were committed`;
  }
  if (configurationChanged.length > 0) return `the mutation run's configuration changed: ${configurationChanged.join(', ')}`;
  return undefined;
}

function changedSinceResults() {
  try {
    const commit = execFileSync('git', ['log', '-1', '--format=%H', '--', incrementalFile], { encoding: 'utf8' }).trim();
    if (!commit) return ['(the results file is not committed)'];
    const changed = execFileSync('git', ['diff', '--name-only', commit, '--', ...configurationFiles], { encoding: 'utf8' }).trim();
    return changed ? changed.split('\n') : [];
  } catch {
    return ['(no git history to compare with)'];
  }
}

function main() {
  const incremental = existsSync(incrementalFile) ? JSON.parse(readFileSync(incrementalFile, 'utf8')) : { files: {} };
  const files = Object.keys(incremental.files ?? {});
  if (files.length === 0) {
    console.log(`No mutation results committed in ${incrementalFile}: nothing to check.`);
    return 0;
  }
  console.log(`Mutation check over ${files.length} file(s) with committed results: ${files.join(', ')}`);
  const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
  const read = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);
  const testFiles = includePatterns(readFileSync(mutationConfig, 'utf8')).flatMap((p) => expandPattern(p));
  const why = process.argv.includes('--run') ? 'asked for (--run)' : reasonToRun({ incremental, testFiles, read, configurationChanged: changedSinceResults() });
  if (why === undefined) {
    console.log(`Nothing StrykerJS compares changed since the results were committed (${files.length} mutated files, ${testFiles.length} test files, the configuration): every result stands; the scores from ${incrementalFile}:`);
    return run(['scripts/mutation-scores.mjs', incrementalFile]);
  }
  console.log(`StrykerJS runs: ${why}.`);
  const stryker = run(['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', '--mutate', files.join(',')]);
  const scores = run(['scripts/mutation-scores.mjs']);
  return stryker || scores;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exit(main());
