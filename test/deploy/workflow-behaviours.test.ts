import { describe, expect, it, vi } from 'vitest';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type * as workflow from '@temporalio/workflow';
import { unversionedPinnedQuery } from '../../src/deployment/versions';
import * as workflows from '../../src/workflows';
import { orderSaga, registrationSaga } from '../../src/workflows';

// The versioning behaviour each saga type declares (src/workflows.ts), read as the worker reads it,
// with workflowInfo() standing in for the worker that runs the task. The drill
// (test/deploy/upgrade-drill.test.ts) shows the server applying them.

// vi.mock is hoisted above the imports: the state it reads is hoisted with it.
const worker = vi.hoisted((): { version: WorkerDeploymentVersion | undefined } => ({ version: undefined }));
vi.mock('@temporalio/workflow', async (importOriginal) => ({
  ...(await importOriginal<typeof workflow>()),
  workflowInfo: () => ({ currentDeploymentVersion: worker.version }),
}));

function declared(fn: unknown): unknown {
  const options = (fn as { workflowDefinitionOptions?: unknown }).workflowDefinitionOptions;
  return typeof options === 'function' ? (options as () => unknown)() : options;
}

describe('versioning behaviours', () => {
  it('pin the order saga and let the registration auto-upgrade on a worker of a deployment', () => {
    worker.version = { deploymentName: 'saga-temporal', buildId: '0.1.0-abc' };
    expect(declared(orderSaga)).toEqual({ versioningBehavior: 'PINNED' });
    expect(declared(registrationSaga)).toEqual({ versioningBehavior: 'AUTO_UPGRADE' });
  });

  it('declare nothing on an unversioned worker, whose build id has no deployment (the server would refuse its tasks)', () => {
    worker.version = { deploymentName: '', buildId: '@temporalio/worker@1.24.0+5fb2' };
    expect(declared(orderSaga)).toEqual({});
    expect(declared(registrationSaga)).toEqual({});
    worker.version = undefined;
    expect(declared(orderSaga)).toEqual({});
  });

  it('are the ones the deploy tooling and the release gate treat as pinned: exactly the types that declare PINNED', () => {
    worker.version = { deploymentName: 'saga-temporal', buildId: '0.2.0-abc' };
    const pinned = Object.entries(workflows)
      .filter(([, fn]) => (declared(fn) as { versioningBehavior?: string } | undefined)?.versioningBehavior === 'PINNED')
      .map(([name]) => name);
    expect(pinned).toEqual(['orderSaga']);
    expect(unversionedPinnedQuery('sagas')).toContain("WorkflowType IN ('orderSaga')");
  });
});
