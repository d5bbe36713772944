import { describe, expect, it } from 'vitest';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { runCli } from '../../src/cli';
import { startRegistration } from '../../src/registration/start';
import { ensureReconcilerSchedule, reconcilerScheduleId } from '../../src/reconciler/schedule';
import { useSagaTestbed } from '../support/testbed';
import { sampleRegistration } from '../support/samples';

// The operator's side of the reconciler, run as a user runs the client (terminate, status, reconcile),
// and the Schedule the worker creates, against a dev server with the real worker and services.

const testbed = useSagaTestbed({ server: 'dev-server' });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env = { NODE_ENV: 'test', TEMPORAL_ADDRESS: testbed.env.address, TEMPORAL_TASK_QUEUE: testbed.taskQueue };
  const code = await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env });
  return { code, out, err };
}

/** A registration waiting for its code, with its account created. */
async function waitingRegistration() {
  const input = sampleRegistration();
  const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
  while (!(await testbed.services.mail.latestVerificationCode(input.email))) await new Promise((r) => setTimeout(r, 100));
  return { input, handle };
}

/** Waits until visibility lists the saga as terminated (it is eventually consistent). */
async function visiblyTerminated(workflowId: string): Promise<void> {
  while ((await testbed.env.client.workflow.count(`WorkflowId = '${workflowId}' AND ExecutionStatus = 'Terminated'`)).count === 0) await new Promise((r) => setTimeout(r, 200));
}

describe('saga-client terminate', () => {
  it('refuses a terminate without --reason (exit code 2) and leaves the saga running', async () => {
    const { handle } = await waitingRegistration();
    const result = await cli('terminate', '-w', handle.workflowId);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--reason is required');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test cleanup');
  });

  it('says the reconciler will undo the saga; reconcile --dry-run changes nothing, reconcile undoes it, and status tells', async () => {
    const { input, handle } = await waitingRegistration();
    const terminated = await cli('terminate', '-w', handle.workflowId, '--reason', 'stuck at the mail provider');
    expect(terminated.code).toBe(0);
    expect(terminated.out).toContain('The reconciler undoes what it left standing within 5 minutes');
    expect((await cli('status', '-w', handle.workflowId)).out).toContain('Not reconciled yet');
    await visiblyTerminated(handle.workflowId);
    const query = `WorkflowId = '${handle.workflowId}'`;

    const dry = await cli('reconcile', '--dry-run', '--query', query);
    expect(dry.out).toContain('would undo createUser');
    expect(dry.out).toContain('Dry run, nothing changed');
    expect((await testbed.services.users.get(input.userId))?.status).toBe('pending');

    const real = await cli('reconcile', '--query', query);
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/UNDONE +registration-\w+ {2}registrationSaga: undone createUser/);
    expect((await testbed.services.users.get(input.userId))?.status).toBe('deleted');
    expect((await cli('status', '-w', handle.workflowId)).out).toContain('Reconciled: UNDONE, undone createUser');

    const again = await cli('reconcile', '--query', query);
    expect(again.out).toContain('0 sagas reconciled; 1 already reconciled.');
  });

  it('with --keep-effects records who took the effects over and why; the reconciler leaves the saga', async () => {
    const { input, handle } = await waitingRegistration();
    const terminated = await cli('terminate', '-w', handle.workflowId, '--reason', 'activating by hand for a VIP', '--keep-effects', '--by', 'grace');
    expect(terminated.out).toContain('Effects kept by grace');
    expect((await cli('status', '-w', handle.workflowId)).out).toContain('Effects kept by hand: grace decided (activating by hand for a VIP); the reconciler leaves this saga');
    await visiblyTerminated(handle.workflowId);

    const real = await cli('reconcile', '--query', `WorkflowId = '${handle.workflowId}'`);
    expect(real.out).toContain('LEFT_TO_OPERATOR');
    expect((await testbed.services.users.get(input.userId))?.status).toBe('pending');
  });
});

describe('the reconciler Schedule', () => {
  it('is created once, every 5 minutes with overlap skip, and runs the sweep', async () => {
    const client = testbed.env.client;
    expect(await ensureReconcilerSchedule(client, testbed.taskQueue)).toBe(true);
    expect(await ensureReconcilerSchedule(client, testbed.taskQueue)).toBe(false);
    const schedule = client.schedule.getHandle(reconcilerScheduleId(testbed.taskQueue));
    const described = await schedule.describe();
    expect(described.spec.intervals?.map((i) => i.every)).toEqual([300_000]);
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileSweep', taskQueue: testbed.taskQueue });

    const { input, handle } = await waitingRegistration();
    await handle.terminate('stuck, left to the schedule');
    await visiblyTerminated(handle.workflowId);
    await schedule.trigger();
    while ((await testbed.services.users.get(input.userId))?.status !== 'deleted') await new Promise((r) => setTimeout(r, 200));
    const runs = (await schedule.describe()).info.recentActions;
    expect(runs.length).toBeGreaterThanOrEqual(1);
    await schedule.delete();
  });
});
