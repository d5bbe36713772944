import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

// Each sample is linted as if it were the text of an existing file (the type-aware rules need a file the
// TypeScript project knows). The rule that keeps limits out of the tests' imports (scripts/lint/no-imported-limits.mjs), linted as
// the project's own configuration runs it: a test importing an upper-case constant from the product
// code is refused, wherever it imports it from; an allowed name, a function, or a constant of a test
// helper passes; product code itself may import its constants.

const root = resolve(__dirname, '..', '..');
const eslint = new ESLint({ cwd: root });

async function flagged(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: resolve(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'tests/no-imported-limits').map((m) => m.message);
}

const refusal = (name: string) => expect.stringContaining(`'${name}' is an upper-case constant of the product code`);

describe('the rule against tests importing the limits they check', () => {
  // The first lint builds the TypeScript program for the type-aware rules (tens of seconds): a set-up cost.
  beforeAll(async () => {
    await eslint.lintText('', { filePath: resolve(root, 'test/registration/limits.test.ts') });
  });

  it('refuses a limit imported from src/ by a test', async () => {
    const source = `import { MAX_CODE_ATTEMPTS } from '../../src/registration/contract';\nexport const n = MAX_CODE_ATTEMPTS;\n`;
    expect(await flagged('test/registration/limits.test.ts', source)).toEqual([refusal('MAX_CODE_ATTEMPTS')]);
  });

  it('refuses one imported from a package, by path or by name, and through a namespace import', async () => {
    const byPath = `import { SAGA_ID_FIELD } from '../../packages/saga/src/types';\nexport const f = SAGA_ID_FIELD;\n`;
    expect(await flagged('test/saga/identity.test.ts', byPath)).toEqual([refusal('SAGA_ID_FIELD')]);
    const byName = `import { DEFAULT_SAGA_STATUS_ATTRIBUTE } from '@saga-temporal/saga';\nexport const a = DEFAULT_SAGA_STATUS_ATTRIBUTE;\n`;
    expect(await flagged('packages/saga/test/saga-identity.test.ts', byName)).toEqual([refusal('DEFAULT_SAGA_STATUS_ATTRIBUTE')]);
    const namespace = `import * as contract from '../../src/registration/contract';\nexport const n = contract.MAX_MESSAGES + 1;\n`;
    expect(await flagged('test/limits/input-bounds.test.ts', namespace)).toEqual([refusal('MAX_MESSAGES')]);
  });

  it('passes an allowed name, functions and classes, and constants of test helpers', async () => {
    const source = [
      `import { DEVELOPMENT_ID_SECRET, loadWorkerConfig, ConfigError } from '../../src/config';`,
      `import { SAMPLE_LIMIT } from '../support/samples';`,
      `export const used = [DEVELOPMENT_ID_SECRET, loadWorkerConfig, ConfigError, SAMPLE_LIMIT];`,
      '',
    ].join('\n');
    expect(await flagged('test/config/worker.test.ts', source)).toEqual([]);
  });

  it('leaves product code alone: src/ imports its own constants', async () => {
    const source = `import { MAX_CODE_ATTEMPTS } from './contract';\nexport const n = MAX_CODE_ATTEMPTS;\n`;
    expect(await flagged('src/registration/workflow.ts', source)).toEqual([]);
  });
});
