import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../src/config';
import { derivedBuildId, packageVersion } from '../../src/deployment/version';
import { deploymentOptions } from '../../src/worker';
import { configErrorProblems } from '../support/config-errors';

// Which deployment and version a worker joins, what it refuses before connecting anywhere, and the
// worker's default versioning behaviour (each saga's own: test/deploy/workflow-behaviours.test.ts).

function problems(env: Record<string, string>): readonly string[] {
  return configErrorProblems(() => loadWorkerConfig({ NODE_ENV: 'test', ...env }));
}

describe('worker versioning configuration', () => {
  it('is on by default, in the deployment "saga-temporal", with a build id derived from the bundle', () => {
    expect(loadWorkerConfig({ NODE_ENV: 'test' }).versioning).toEqual({ deploymentName: 'saga-temporal', buildId: undefined });
  });

  it('takes SAGA_DEPLOYMENT_NAME and SAGA_BUILD_ID', () => {
    expect(loadWorkerConfig({ NODE_ENV: 'test', SAGA_DEPLOYMENT_NAME: 'shop_sagas-eu', SAGA_BUILD_ID: '2.4.0+build.17' }).versioning).toEqual({ deploymentName: 'shop_sagas-eu', buildId: '2.4.0+build.17' });
  });

  it('is turned off with SAGA_WORKER_VERSIONING=false', () => {
    expect(loadWorkerConfig({ NODE_ENV: 'test', SAGA_WORKER_VERSIONING: 'false' }).versioning).toBeUndefined();
    expect(loadWorkerConfig({ NODE_ENV: 'test', SAGA_WORKER_VERSIONING: 'true' }).versioning).toBeDefined();
  });

  it('refuses a name or build id holding ":" (the separator of the server\'s version strings), or other punctuation', () => {
    expect(problems({ SAGA_DEPLOYMENT_NAME: 'shop:eu' })).toEqual([expect.stringMatching(/^SAGA_DEPLOYMENT_NAME="shop:eu" is not a deployment name/)]);
    expect(problems({ SAGA_DEPLOYMENT_NAME: 'shop.eu' })).toEqual([expect.stringContaining('SAGA_DEPLOYMENT_NAME')]);
    expect(problems({ SAGA_BUILD_ID: '1.0:abc' })).toEqual([expect.stringMatching(/^SAGA_BUILD_ID="1.0:abc" is not a build id/)]);
    expect(problems({ SAGA_BUILD_ID: '-1' })).toEqual([expect.stringContaining('SAGA_BUILD_ID')]);
    expect(problems({ SAGA_WORKER_VERSIONING: 'maybe' })).toEqual(['SAGA_WORKER_VERSIONING=maybe is not a boolean (use true or false)']);
  });

  it('accepts names and build ids of up to 100 characters, not 101', () => {
    expect(loadWorkerConfig({ NODE_ENV: 'test', SAGA_DEPLOYMENT_NAME: 'd'.repeat(100), SAGA_BUILD_ID: 'b'.repeat(100) }).versioning).toEqual({ deploymentName: 'd'.repeat(100), buildId: 'b'.repeat(100) });
    expect(problems({ SAGA_DEPLOYMENT_NAME: 'd'.repeat(101), SAGA_BUILD_ID: 'b'.repeat(101) })).toHaveLength(2);
  });

  it('refuses a deployment name or build id on an unversioned worker, which would join nothing', () => {
    expect(problems({ SAGA_WORKER_VERSIONING: 'false', SAGA_BUILD_ID: '2.0.0' })).toEqual([expect.stringContaining('SAGA_WORKER_VERSIONING=false contradicts')]);
  });
});

describe('the derived build id', () => {
  it('is the package version and the first 12 hex digits of the bundle\'s SHA-256', () => {
    const sha = createHash('sha256').update('bundle code').digest('hex');
    expect(derivedBuildId('0.1.0', 'bundle code')).toBe(`0.1.0-${sha.slice(0, 12)}`);
    expect(derivedBuildId('0.1.0', 'bundle code')).toMatch(/^0\.1\.0-[0-9a-f]{12}$/);
  });

  it('changes with any change of the workflow code, and only with it', () => {
    expect(derivedBuildId('0.1.0', 'code')).toBe(derivedBuildId('0.1.0', 'code'));
    expect(derivedBuildId('0.1.0', 'code')).not.toBe(derivedBuildId('0.1.0', 'code '));
  });

  it('reads the package version of saga-temporal', () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('versioning behaviours', () => {
  it('default to auto-upgrade for a type that declares none, so that it still runs on a versioned worker', () => {
    expect(deploymentOptions({ deploymentName: 'saga-temporal', buildId: '1.0.0' }, undefined)).toEqual({
      useWorkerVersioning: true,
      version: { deploymentName: 'saga-temporal', buildId: '1.0.0' },
      defaultVersioningBehavior: 'AUTO_UPGRADE',
    });
  });

  it('take the derived build id when none is configured', () => {
    expect(deploymentOptions({ deploymentName: 'saga-temporal', buildId: undefined }, 'bundle code').version.buildId).toBe(derivedBuildId(packageVersion(), 'bundle code'));
  });
});
