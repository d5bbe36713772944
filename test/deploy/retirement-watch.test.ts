import { afterEach, describe, expect, it, vi } from 'vitest';
import type { temporal } from '@temporalio/proto';
import { watchRetirement } from '../../src/deployment/retirement';

// How a versioned worker learns that its version was retired: it reads the version's metadata every
// 10 s (a unit test of the watch, with the server's answer stood in for).

afterEach(() => vi.useRealTimers());

function service(retiredAfterCalls: number) {
  let calls = 0;
  const describeWorkerDeploymentVersion = vi.fn(async () => {
    calls += 1;
    return { workerDeploymentVersionInfo: { metadata: { entries: calls >= retiredAfterCalls ? { 'saga-temporal.retired': {} } : {} } } };
  });
  return { describeWorkerDeploymentVersion } as unknown as temporal.api.workflowservice.v1.WorkflowService & { describeWorkerDeploymentVersion: typeof describeWorkerDeploymentVersion };
}

describe('the retirement watch', () => {
  it('reads the version every 10 s by default, not sooner, and resolves at the first read that finds the mark', async () => {
    vi.useFakeTimers();
    const svc = service(2);
    let retired = false;
    void watchRetirement({ service: svc, namespace: 'default', version: { deploymentName: 'd', buildId: 'b' }, signal: new AbortController().signal }).then(() => (retired = true));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(svc.describeWorkerDeploymentVersion).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(svc.describeWorkerDeploymentVersion).toHaveBeenCalledTimes(1);
    expect(retired).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(svc.describeWorkerDeploymentVersion).toHaveBeenCalledTimes(2);
    expect(retired).toBe(true);
  });

  it('stops reading once its signal aborts', async () => {
    vi.useFakeTimers();
    const svc = service(Number.POSITIVE_INFINITY);
    const stop = new AbortController();
    void watchRetirement({ service: svc, namespace: 'default', version: { deploymentName: 'd', buildId: 'b' }, intervalMs: 1_000, signal: stop.signal });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(svc.describeWorkerDeploymentVersion).toHaveBeenCalledTimes(3);
    stop.abort();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(svc.describeWorkerDeploymentVersion).toHaveBeenCalledTimes(3);
  });
});
