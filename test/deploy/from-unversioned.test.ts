import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { runDeploy } from '../../src/deploy';
import { adoptFirstVersion } from '../../src/deployment/first-version';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { sampleOrder } from '../support/samples';

// The first deploy of a fleet that ran unversioned (release 0.1.0): the orders it started are pinned
// by nature to its code (0.2.0 dropped a patch of theirs), and the server moves unversioned sagas to
// the deployment's first current version. So no version becomes current, by the worker at start or by
// `npm run deploy -- promote`, while such an order runs on the task queue; elsewhere nothing waits.

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createDevServerEnv();
});

afterAll(async () => {
  await env?.teardown();
});

async function deploy(taskQueue: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDeploy(argv, {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', TEMPORAL_TASK_QUEUE: taskQueue },
  });
  return { code, out, err };
}

describe('the first current version of a deployment, with orders of unversioned workers running', () => {
  it('waits while one that an unversioned worker ran is running on its task queue, refuses promote, and goes ahead once it has finished', async () => {
    const taskQueue = uniqueTaskQueue('unversioned-orders');
    const service = env.client.workflowService;
    const order = await env.client.workflow.start('orderSaga', { taskQueue, workflowId: `unversioned-${taskQueue}`, args: [sampleOrder()] });
    // An unversioned worker of the previous release runs its first workflow task (no activities: the
    // order then waits for its first steps, as one in flight does).
    const unversioned = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle() });
    await unversioned.runUntil(expect.poll(async () => (await order.describe()).searchAttributes.BuildIds ?? [], { timeout: 20_000 }).toContain('unversioned'));
    const version = { deploymentName: `first-${taskQueue}`, buildId: '0.2.0-a' };

    // Visibility lags the workflow task by a moment: wait until the order is counted.
    await expect.poll(() => adoptFirstVersion(service, { namespace: 'default', version, identity: 'test', taskQueue }), { timeout: 10_000 }).toBe('waiting-for-unversioned');
    await expect(service.describeWorkerDeployment({ namespace: 'default', deploymentName: version.deploymentName })).rejects.toThrow();

    const refused = await deploy(taskQueue, 'promote', version.buildId, '--deployment', version.deploymentName, '--wait', '1');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('Refused: 1 order(s) started before versioning still run on unversioned workers');
    expect(refused.err).toContain('SAGA_WORKER_VERSIONING=false');

    // Once the order has finished (here: terminated), the first version is made current.
    await order.terminate('finished on the previous release');
    await expect.poll(() => adoptFirstVersion(service, { namespace: 'default', version, identity: 'test', taskQueue }), { timeout: 10_000 }).toBe('made-current');
    const { workerDeploymentInfo } = await service.describeWorkerDeployment({ namespace: 'default', deploymentName: version.deploymentName });
    expect(workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId).toBe('0.2.0-a');
  });

  it('does not wait for an order no worker has run yet: the first orders of a new deployment may come before its first worker', async () => {
    const taskQueue = uniqueTaskQueue('orders-before-workers');
    await env.client.workflow.start('orderSaga', { taskQueue, workflowId: `early-${taskQueue}`, args: [sampleOrder()] });
    await expect.poll(async () => (await env.client.workflow.count(`TaskQueue = '${taskQueue}'`)).count, { timeout: 10_000 }).toBe(1);
    const version = { deploymentName: `first-${taskQueue}`, buildId: '0.2.0-a' };
    await expect(adoptFirstVersion(env.client.workflowService, { namespace: 'default', version, identity: 'test', taskQueue })).resolves.toBe('made-current');
  });
});
