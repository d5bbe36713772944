import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

// The sandbox rule is only as good as the file globs it is given: a file bundled into workflows that
// the globs miss may import Node built-ins and fail only at run time, in the sandbox. This lints a
// Node import as if it were written in each kind of bundled file, and in an activity, which may.

const root = resolve(__dirname, '..', '..');
const eslint = new ESLint({ cwd: root });

const source = `import { readFileSync } from 'node:fs';\nexport const leaked = readFileSync;\n`;

async function restrictedImports(file: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: resolve(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the workflow sandbox lint rule', () => {
  // The first lint builds the TypeScript program for the type-aware rules (tens of seconds): a set-up cost.
  beforeAll(async () => {
    await eslint.lintText('', { filePath: resolve(root, 'src/workflows.ts') });
  });

  it.each(['src/order/contract.ts', 'src/order/workflow.ts', 'src/registration/contract.ts', 'src/shared/format.ts', 'src/workflows.ts'])(
    'refuses a Node built-in in %s',
    async (file) => {
      expect(await restrictedImports(file)).toEqual([expect.stringContaining('Workflow code runs in a deterministic sandbox: no Node built-ins.')]);
    },
  );

  it('lets activities, which run in Node, import Node built-ins', async () => {
    expect(await restrictedImports('src/order/activities.ts')).toEqual([]);
  });
});
