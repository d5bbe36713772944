// `npm run mutation` ends here: reads Stryker's JSON report, prints the mutation score of each file,
// and fails when a file scores below the floor the project keeps for it. Stryker's own
// `thresholds.break` judges the whole run; these floors judge each file.
import { readFileSync } from 'node:fs';

/** Floors per file, in percent: 90 for the engine, the compensation stack and the barrier, 85 for payments and stock. */
const floors = {
  'packages/saga/src/engine.ts': 90,
  'packages/saga/src/compensation-stack.ts': 90,
  'packages/barrier/src/barrier.ts': 90,
  'src/services/payments.ts': 85,
  'src/services/inventory.ts': 85,
};

const report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/mutation/mutation.json', 'utf8'));
let failed = false;
for (const [file, { mutants }] of Object.entries(report.files)) {
  const count = (...statuses) => mutants.filter((m) => statuses.includes(m.status)).length;
  const detected = count('Killed', 'Timeout');
  const undetected = count('Survived', 'NoCoverage');
  const score = (100 * detected) / (detected + undetected || 1);
  const floor = floors[file] ?? 0;
  const verdict = score < floor ? `BELOW ${floor} %` : `ok (floor ${floor} %)`;
  if (score < floor) failed = true;
  console.log(`${file.padEnd(32)} ${score.toFixed(2).padStart(6)} %  ${String(detected).padStart(4)} detected  ${String(undetected).padStart(3)} undetected  ${verdict}`);
}
process.exit(failed ? 1 : 0);
