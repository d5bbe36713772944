// A vitest reporter that ends each run with its ten slowest test files, time spent importing and
// setting up included: where the suite's minutes go, printed in CI after every `npm test`.
import type { Reporter, TestModule } from 'vitest/node' with { 'resolution-mode': 'import' };

/** How many files the list names. */
const SHOWN = 10;

/** A file's wall time in milliseconds: its set-up, its import and collection, then its tests and hooks. */
export function fileMilliseconds(module: Pick<TestModule, 'diagnostic'>): number {
  const d = module.diagnostic();
  return d.environmentSetupDuration + d.prepareDuration + d.setupDuration + d.collectDuration + d.duration;
}

/** The lines printed for these files: the slowest first, at most ten. */
export function slowestLines(files: readonly { name: string; ms: number }[]): string[] {
  const slowest = [...files].sort((a, b) => b.ms - a.ms).slice(0, SHOWN);
  if (slowest.length === 0) return [];
  const width = Math.max(...slowest.map((f) => (f.ms / 1000).toFixed(1).length));
  return [`Slowest test files (${slowest.length} of ${files.length}):`, ...slowest.map((f) => `  ${(f.ms / 1000).toFixed(1).padStart(width)} s  ${f.name}`)];
}

export default class SlowestFilesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines = slowestLines(testModules.map((m) => ({ name: m.relativeModuleId, ms: fileMilliseconds(m) })));
    if (lines.length > 0) process.stdout.write(`\n${lines.join('\n')}\n`);
  }
}
