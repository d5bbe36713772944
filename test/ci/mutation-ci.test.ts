import { describe, expect, it } from 'vitest';

// The script is an ECMAScript module run by node; the tests load it as one.
const script = () => import('../../scripts/mutation-ci.mjs');

// CI's mutation check skips StrykerJS only when StrykerJS would reuse every committed result: each
// mutated file and each test file of the run exactly as recorded, and the run's configuration unchanged.

const incremental = {
  files: { 'src/a.ts': { source: 'export const a = 1;\n', mutants: [] } },
  testFiles: { 'test/a.test.ts': { source: 'it("a")\n', tests: [] } },
};
const texts: Record<string, string> = { 'src/a.ts': 'export const a = 1;\n', 'test/a.test.ts': 'it("a")\n' };
const read = (file: string) => texts[file];

describe('the mutation check in CI', () => {
  it('reads the include list of the mutation config, patterns and paths alike, and leaves out what only a variable adds', async () => {
    const { includePatterns } = await script();
    const config =
      "export default defineConfig({ test: { fileParallelism: false,\n    include: [\n      'test/a.test.ts',\n      'test/validation/*.test.ts',\n      ...(process.env.X === '1' ? more : []),\n    ],\n  } });";
    expect(includePatterns(config)).toEqual(['test/a.test.ts', 'test/validation/*.test.ts']);
    expect(() => includePatterns('export default {}')).toThrow(/no include list/);
  });

  it('expands a `*` in the file name only, sorted, and refuses `**`', async () => {
    const { expandPattern } = await script();
    const list = () => ['b.test.ts', 'a.test.ts', 'a.test.tsx', 'helpers.ts'];
    expect(expandPattern('test/v/*.test.ts', list)).toEqual(['test/v/a.test.ts', 'test/v/b.test.ts']);
    expect(expandPattern('test/v/a.test.ts', list)).toEqual(['test/v/a.test.ts']);
    expect(() => expandPattern('test/**/*.test.ts', list)).toThrow(/not supported/);
  });

  it('skips StrykerJS when nothing it compares changed', async () => {
    const { reasonToRun } = await script();
    expect(reasonToRun({ incremental, testFiles: ['test/a.test.ts'], read, configurationChanged: [] })).toBeUndefined();
  });

  it('runs it for a changed mutated file, a changed or unrecorded test file, or a changed configuration', async () => {
    const { reasonToRun } = await script();
    expect(reasonToRun({ incremental, testFiles: ['test/a.test.ts'], read: (f: string) => (f === 'src/a.ts' ? 'export const a = 2;\n' : read(f)), configurationChanged: [] })).toBe(
      'src/a.ts changed since its results were committed',
    );
    expect(reasonToRun({ incremental, testFiles: ['test/a.test.ts'], read: (f: string) => (f === 'test/a.test.ts' ? 'it("b")\n' : read(f)), configurationChanged: [] })).toBe(
      'test/a.test.ts changed since the results were committed',
    );
    expect(reasonToRun({ incremental, testFiles: ['test/a.test.ts', 'test/new.test.ts'], read, configurationChanged: [] })).toBe('test/new.test.ts has no committed results');
    expect(reasonToRun({ incremental, testFiles: ['test/a.test.ts'], read, configurationChanged: ['stryker.config.mjs'] })).toBe(
      "the mutation run's configuration changed: stryker.config.mjs",
    );
    // A mutated file that is gone counts as changed.
    expect(reasonToRun({ incremental, testFiles: [], read: () => undefined, configurationChanged: [] })).toBe('src/a.ts changed since its results were committed');
  });
});
