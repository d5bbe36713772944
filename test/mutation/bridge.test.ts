import { resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { uniqueTaskQueue } from '../helpers';
import { mutationBundleOptions } from '../support/mutation-bridge';
import { useFixtureWorker } from '../support/testbed';
import { uniqueId } from '../support/samples';
import type { MutantSeen } from '../support/mutation-bridge-fixture-workflows';

// The mutation bridge (test/support/mutation-bridge.ts), on as in the mutation run: set before the
// file's environment, worker and bundle are made, which is when the bridge is read.
vi.stubEnv('SAGA_MUTATION_BRIDGE', '1');
afterAll(() => void vi.unstubAllEnvs());

interface StrykerNamespace {
  activeMutant?: string;
  currentTestId?: string;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
}

const global = globalThis as { __stryker__?: StrykerNamespace };
afterEach(() => {
  delete global.__stryker__;
});

const taskQueue = uniqueTaskQueue('mutation-bridge');
const fixture = useFixtureWorker({ workflows: './support/mutation-bridge-fixture-workflows.ts', taskQueue, activities: {} });

const run = () => fixture.env.client.workflow.execute<() => Promise<MutantSeen>>('mutantSeen', { taskQueue, workflowId: uniqueId('bridge') });

describe('the mutation bridge', () => {
  it('turns on, in the workflow and in its child, the mutant active in the test process, for module-level code too', async () => {
    global.__stryker__ = { activeMutant: '7' };
    expect(await run()).toEqual({ atLoad: '7', atRun: '7', child: { atLoad: '7', atRun: '7' } });
  });

  it('turns no mutant on when none is active in the test process', async () => {
    global.__stryker__ = {};
    expect(await run()).toEqual({ atLoad: undefined, atRun: undefined, child: { atLoad: undefined, atRun: undefined } });
  });

  it('counts the mutants the workflows reached for the test running at that moment, once per activation that reached them', async () => {
    global.__stryker__ = { currentTestId: 'the running test', mutantCoverage: { static: {}, perTest: {} } };
    await run();
    expect(global.__stryker__.mutantCoverage).toEqual({ static: {}, perTest: { 'the running test': { 'reached-by-both': 2, 'reached-by-the-parent': 1 } } });
  });

  it('counts them as reached outside any test when none is running', async () => {
    global.__stryker__ = {};
    await run();
    expect(global.__stryker__.mutantCoverage).toEqual({ static: { 'reached-by-both': 2, 'reached-by-the-parent': 1 }, perTest: {} });
  });

  it('bundles the saga package from its sources, the files StrykerJS mutates, in the wrapper\'s runs, and from its compiled dist otherwise', async () => {
    const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const workflowsPath = resolve(__dirname, '..', 'fixtures', 'saga-workflows.ts');
    vi.stubEnv('SAGA_MUTATION_SAGA_SOURCES', '');
    const bridgeOnly = await bundleWorkflowCode({ workflowsPath, logger: quiet, ...mutationBundleOptions() });
    expect(bridgeOnly.code).toContain('packages/saga/dist/saga-handlers.js');
    expect(bridgeOnly.code).not.toContain('packages/saga/src/');
    vi.stubEnv('SAGA_MUTATION_SAGA_SOURCES', '1');
    const on = await bundleWorkflowCode({ workflowsPath, logger: quiet, ...mutationBundleOptions() });
    for (const file of ['saga.ts', 'saga-handlers.ts', 'engine.ts']) expect(on.code).toContain(`packages/saga/src/${file}`);
    expect(on.code).not.toContain('packages/saga/dist/');
    vi.stubEnv('SAGA_MUTATION_BRIDGE', '0');
    const off = await bundleWorkflowCode({ workflowsPath, logger: quiet, ...mutationBundleOptions() });
    vi.stubEnv('SAGA_MUTATION_BRIDGE', '1');
    vi.stubEnv('SAGA_MUTATION_SAGA_SOURCES', '');
    expect(off.code).toContain('packages/saga/dist/saga-handlers.js');
    expect(off.code).not.toContain('packages/saga/src/');
  });
});
