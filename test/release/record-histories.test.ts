import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordingTestFiles } from '../../scripts/record-histories';

// npm run record-histories records a release by running the test files that record histories: one
// left out of its list would leave its histories out of every release recorded afterwards, silently.

const root = resolve(__dirname, '..', '..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? testFiles(join(dir, d.name)) : d.name.endsWith('.test.ts') ? [join(dir, d.name)] : []));
}

describe('npm run record-histories', () => {
  it('runs every test file that records a history, and no other', () => {
    const recording = testFiles(join(root, 'test'))
      .filter((file) => /\brecordHistory\(\w+/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file))
      .sort();
    expect(recording).toHaveLength(17);
    expect([...recordingTestFiles].sort()).toEqual(recording);
  });
});
