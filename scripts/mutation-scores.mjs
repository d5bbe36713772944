// `npm run mutation` ends here: reads Stryker's JSON report, prints the mutation score of each file and
// of each area (scripts/mutation-areas.mjs), and fails when an area that was mutated scores below its
// floor. Stryker's own `thresholds.break` judges the whole run; these floors judge each area.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { areaOf, areas } from './mutation-areas.mjs';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/mutation/mutation.json', 'utf8'));
const totals = new Map(areas.map((area) => [area.name, { detected: 0, undetected: 0 }]));
const score = ({ detected, undetected }) => (100 * detected) / (detected + undetected || 1);

for (const [file, { mutants }] of Object.entries(report.files)) {
  const count = (...statuses) => mutants.filter((m) => statuses.includes(m.status)).length;
  const tally = { detected: count('Killed', 'Timeout'), undetected: count('Survived', 'NoCoverage') };
  const area = areaOf(file);
  if (area) {
    totals.get(area.name).detected += tally.detected;
    totals.get(area.name).undetected += tally.undetected;
  }
  console.log(`${file.padEnd(44)} ${score(tally).toFixed(2).padStart(6)} %  ${String(tally.detected).padStart(4)} detected  ${String(tally.undetected).padStart(3)} undetected`);
}

console.log('');
let failed = false;
for (const area of areas) {
  const tally = totals.get(area.name);
  if (tally.detected + tally.undetected === 0) {
    console.log(`${area.name.padEnd(30)}   not in this run`);
    continue;
  }
  const below = score(tally) < area.floor;
  if (below) failed = true;
  console.log(`${area.name.padEnd(30)} ${score(tally).toFixed(2).padStart(6)} %  ${below ? `BELOW ${area.floor} %` : `ok (floor ${area.floor} %)`}`);
}

// The incremental results are committed: they keep Stryker's report minus the checkout's absolute path,
// which the next run does not need and which differs on every machine.
const incrementalFile = 'test/mutation/incremental.json';
if (existsSync(incrementalFile)) {
  const incremental = JSON.parse(readFileSync(incrementalFile, 'utf8'));
  if ('projectRoot' in incremental) {
    delete incremental.projectRoot;
    writeFileSync(incrementalFile, `${JSON.stringify(incremental)}\n`);
  }
}
process.exit(failed ? 1 : 0);
