import { describe, expect, it } from 'vitest';
import { fileMilliseconds, slowestLines } from '../../scripts/vitest/slowest-files';

// The list `npm test` ends with: the ten slowest files, slowest first, each with its whole wall time.

const files = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `test/f${i}.test.ts`, ms: (i + 1) * 1000 }));

describe('the slowest test files reporter', () => {
  it('names ten of eleven files, slowest first, and leaves the fastest out', () => {
    const lines = slowestLines(files(11));
    expect(lines[0]).toBe('Slowest test files (10 of 11):');
    expect(lines).toHaveLength(11);
    expect(lines[1]).toBe('  11.0 s  test/f10.test.ts');
    expect(lines[10]).toBe('   2.0 s  test/f1.test.ts');
    expect(lines.join('\n')).not.toContain('test/f0.test.ts');
  });

  it('names all ten when there are ten, and prints nothing for no files', () => {
    expect(slowestLines(files(10))).toHaveLength(11);
    expect(slowestLines([])).toEqual([]);
  });

  it('counts set-up, import and collection as well as the tests themselves', () => {
    const diagnostic = () => ({ environmentSetupDuration: 1, prepareDuration: 20, setupDuration: 300, collectDuration: 4000, duration: 50000 });
    expect(fileMilliseconds({ diagnostic } as never)).toBe(54321);
  });
});
