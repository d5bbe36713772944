// CI's mutation check (`npm run mutation:ci`): StrykerJS, incremental, over the files whose results are
// committed in test/mutation/incremental.json, then the floors of scripts/mutation-scores.mjs. Mutants
// whose code and covering tests did not change are taken from the file; the others run again, so a
// change that lets one survive fails CI. A file gets here once a full `npm run mutation` (or one over
// that file) has committed its results: until then it is left out rather than run in full on every push.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const incrementalFile = 'test/mutation/incremental.json';
const files = existsSync(incrementalFile) ? Object.keys(JSON.parse(readFileSync(incrementalFile, 'utf8')).files ?? {}) : [];
if (files.length === 0) {
  console.log(`No mutation results committed in ${incrementalFile}: nothing to check.`);
  process.exit(0);
}
console.log(`Mutation check over ${files.length} file(s) with committed results: ${files.join(', ')}`);
const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
const stryker = run(['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', '--mutate', files.join(',')]);
const scores = run(['scripts/mutation-scores.mjs']);
process.exit(stryker || scores);
