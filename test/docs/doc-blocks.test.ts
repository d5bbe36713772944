import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DocMarkerError, runnableBlocks } from './doc-blocks';

// The markers that make a documentation block runnable, read without running anything.

const dir = mkdtempSync(join(tmpdir(), 'saga-doc-markers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function blocksOf(markdown: string) {
  writeFileSync(join(dir, 'page.md'), markdown);
  return runnableBlocks(dir, 'page.md');
}

describe('runnable documentation blocks', () => {
  it('runs only the sh blocks under a doc-test marker, named by the line of their fence', () => {
    const blocks = blocksOf(['# Page', '', '```sh', 'echo unmarked', '```', '', '<!-- doc-test -->', '```sh', 'echo one', 'echo two', '```'].join('\n'));
    expect(blocks).toEqual([{ file: 'page.md', line: 8, code: 'echo one\necho two', expected: [], worker: undefined, untilMs: 0 }]);
  });

  it('checks the non-blank lines of a marked output block against the block before it', () => {
    const blocks = blocksOf(['<!-- doc-test -->', '```sh', 'npm run client -- count', '```', 'Prints:', '<!-- doc-test: output -->', '```', '  total  1', '', 'COMPLETED 1', '```'].join('\n'));
    expect(blocks.map((b) => b.expected)).toEqual([['total  1', 'COMPLETED 1']]);
  });

  it('reads the worker to restart and how long to retry from the marker', () => {
    const [block] = blocksOf(['<!-- doc-test: worker SAGA_FAULTS={"payments":{"failOperations":["refund"]}} SAGA_FAULTS_ENABLED=true until 90s -->', '```bash', 'true', '```'].join('\n'));
    expect(block?.worker).toEqual({ SAGA_FAULTS: '{"payments":{"failOperations":["refund"]}}', SAGA_FAULTS_ENABLED: 'true' });
    expect(block?.untilMs).toBe(90_000);
    expect(blocksOf(['<!-- doc-test: worker -->', '```sh', 'true', '```'].join('\n'))[0]?.worker).toEqual({});
  });

  it('refuses a marker it cannot honour, naming the file and line', () => {
    expect(() => blocksOf(['<!-- doc-test -->', '', '```sh', 'true', '```'].join('\n'))).toThrow(new DocMarkerError('page.md:1: a doc-test marker must sit on the line just above a fenced block'));
    expect(() => blocksOf(['<!-- doc-test: retry -->', '```sh', 'true', '```'].join('\n'))).toThrow(/^page\.md:2: unknown doc-test word "retry"/);
    expect(() => blocksOf(['<!-- doc-test -->', '```ts', 'true', '```'].join('\n'))).toThrow('page.md:2: only sh or bash blocks run');
    expect(() => blocksOf(['<!-- doc-test: output -->', '```', 'text', '```'].join('\n'))).toThrow('page.md:2: an output block follows a runnable block');
  });
});
