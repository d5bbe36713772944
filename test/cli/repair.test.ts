import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { sagaStateQuery } from '@saga-temporal/saga';
import { runCli } from '../../src/cli';
import { uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { untilQuiet } from '../fixtures/repair-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { scriptedSaga, type ScriptedSagaInput } from '../fixtures/saga-workflows';
import { useFixtureWorker } from '../support/testbed';

// The operator's repair commands, run as a user would run the client, against a dev server (visibility
// queries need one) and sagas whose compensations fail until the test repairs them.

const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('cli-repair');
const testbed = useFixtureWorker({ server: 'dev-server', workflows: 'fixtures/saga-workflows.ts', taskQueue, activities: recording.activities });

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: testbed.env.address } });
  return { code, out, err };
}

/**
 * Starts a saga whose compensations of the `broken` steps (of `a` and `b`) fail until repaired, `c`
 * failing forward, and waits until it waits for an operator. The id starts with `order-`, so the
 * client finds it by its workflow id.
 */
async function stuck(workflowId: string, broken: ('a' | 'b')[] = ['a', 'b']): Promise<WorkflowHandle<typeof scriptedSaga>> {
  const undo = (step: 'a' | 'b') => (broken.includes(step) ? 'broken-until-repaired' : 'ok');
  const input: ScriptedSagaInput = {
    stages: [{ name: 'a', undo: undo('a') }, { name: 'b', undo: undo('b') }, { name: 'c', mode: 'fail' }],
    options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } },
    alert: 'ok',
  };
  const handle = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId, args: [input] });
  await waitForOperator(handle, 1);
  await untilQuiet(handle);
  return handle;
}

async function waitForOperator(handle: WorkflowHandle, alerts: number): Promise<void> {
  await waitUntil(
    async () => (await handle.query(sagaStateQuery)).status === 'COMPENSATION_FAILED' && recording.logOf(handle.workflowId).filter((e) => e.startsWith('alert:')).length === alerts,
    20_000,
  );
}

const failedSteps = async (handle: WorkflowHandle) => (await handle.query(sagaStateQuery)).compensationFailures.map((f) => f.step);
const historyLength = async (handle: WorkflowHandle) => (await handle.fetchHistory()).events?.length ?? 0;

// The stuck-saga filter of the bulk commands, written out: a saga waiting for an operator, still running.
const STUCK_SAGAS_FILTER = "SagaStatus = 'COMPENSATION_FAILED' AND ExecutionStatus = 'Running'";

/** How many sagas the bulk command's query finds, as the visibility store sees them now. */
async function visible(query: string): Promise<number> {
  let n = 0;
  for await (const _ of testbed.env.client.workflow.list({ query: `(${query}) AND ${STUCK_SAGAS_FILTER}` })) n += 1;
  return n;
}

describe('retry-compensation --step and skip-compensation', () => {
  it('retries only the named step; skip-compensation records the other as done by hand and the saga ends COMPENSATED', async () => {
    const handle = await stuck(`order-cli-repair-${randomUUID()}`);
    recording.repair(handle.workflowId, 'b');

    const retried = await cli('retry-compensation', handle.workflowId, '--step', 'b', '--wait');
    expect(retried).toMatchObject({ code: 0, err: '' });
    expect(retried.out).toContain(`${handle.workflowId}: saga COMPENSATION_FAILED after the retry; still failed: a`);
    expect(retried.out).toMatch(/undo-b: done ×2 (\S+ )?\(operator retry\)/);
    expect(await failedSteps(handle)).toEqual(['a']);
    expect(recording.logOf(handle.workflowId)).not.toContain('undo:a');
    await waitForOperator(handle, 2);

    const noReason = await cli('skip-compensation', handle.workflowId, '--step', 'a');
    expect(noReason.code).toBe(2);
    expect(noReason.err).toMatch(/--reason is required/);
    const unknown = await cli('skip-compensation', handle.workflowId, '--step', 'nope', '--reason', 'fixed');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/Refused: the saga has no step "nope" \(compensations failed: a\)/);

    const reason = 'refunded by hand, ticket OPS-12';
    const skipped = await cli('skip-compensation', handle.workflowId, '--step', 'a', '--reason', reason);
    expect(skipped).toMatchObject({ code: 0, err: '' });
    expect(skipped.out).toContain(`${handle.workflowId}: compensation of a skipped by the operator; saga COMPENSATED`);

    const status = await cli('status', handle.workflowId);
    expect(status.out).toMatch(/undo-a: skipped (\S+ )?\(operator skip\)\s+Skipped by operator: refunded by hand, ticket OPS-12/);
    expect(status.out).toMatch(/undo-b: done ×2 (\S+ )?\(operator retry\)/);
    expect(await handle.query(sagaStateQuery)).toMatchObject({ status: 'COMPENSATED', compensationFailures: [] });
  });

  it('exits 1 after a --wait retry of a step whose compensation fails again, and says the request without --wait was accepted', async () => {
    const handle = await stuck(`order-cli-again-${randomUUID()}`);
    const again = await cli('retry-compensation', handle.workflowId, '--step', 'a', '--wait');
    expect(again.code).toBe(1);
    expect(again.out).toContain('saga COMPENSATION_FAILED after the retry; still failed: a, b');
    await waitForOperator(handle, 2);

    recording.repair(handle.workflowId, 'a');
    const started = await cli('retry-compensation', handle.workflowId, '--step', 'a', '--json');
    expect(started.code).toBe(0);
    expect(JSON.parse(started.out)).toEqual({ workflowId: handle.workflowId, accepted: true, steps: ['a'] });
    await waitUntil(async () => (await failedSteps(handle)).join() === 'b', 20_000);
  });

  it('reports a retry the saga refused as refused, without --wait too, and the refusal leaves the history as it was', async () => {
    const handle = await stuck(`order-cli-refused-${randomUUID()}`, ['a']);
    const length = await historyLength(handle);
    const refused = await cli('retry-compensation', handle.workflowId, '--step', 'b');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/Refused: the compensation of step "b" did not fail \(it is done\)/);
    expect(refused.out).toBe('');
    const blank = await cli('skip-compensation', handle.workflowId, '--step', 'a', '--reason', ' ');
    expect(blank.code).toBe(2);
    const skipDone = await cli('skip-compensation', handle.workflowId, '--step', 'b', '--reason', 'done');
    expect(skipDone.code).toBe(1);
    expect(await historyLength(handle)).toBe(length);
    await handle.terminate('test over');
  });
});

describe('--step names a step or its compensation', () => {
  it('takes the compensation name for its step, in retry-compensation and skip-compensation', async () => {
    const handle = await stuck(`order-cli-undo-name-${randomUUID()}`);
    recording.repair(handle.workflowId, 'b');
    const retried = await cli('retry-compensation', handle.workflowId, '--step', 'undo-b', '--wait');
    expect(retried).toMatchObject({ code: 0, err: '' });
    expect(retried.out).toContain('still failed: a');
    await waitForOperator(handle, 2);
    const skipped = await cli('skip-compensation', handle.workflowId, '--step', 'undo-a', '--reason', 'undone by hand');
    expect(skipped).toMatchObject({ code: 0, err: '' });
    expect(skipped.out).toContain(`${handle.workflowId}: compensation of a skipped by the operator; saga COMPENSATED`);
  });

  it('refuses a name that fits two steps, and a step named twice as itself and as its compensation, with exit code 2 and nothing sent', async () => {
    const input: ScriptedSagaInput = {
      stages: [{ name: 'a', undo: 'broken-until-repaired' }, { name: 'undo-a', undo: 'ok' }, { name: 'c', mode: 'fail' }],
      options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } },
      alert: 'ok',
    };
    const handle = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: `order-cli-ambiguous-${randomUUID()}`, args: [input] });
    await waitForOperator(handle, 1);
    await untilQuiet(handle);
    const length = await historyLength(handle);
    const ambiguous = await cli('skip-compensation', handle.workflowId, '--step', 'undo-a', '--reason', 'by hand');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.err).toMatch(/--step undo-a is ambiguous: it names step a and step undo-a/);
    const twice = await cli('retry-compensation', handle.workflowId, '--step', 'a', '--step', 'a');
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/--step a is given twice/);
    const blank = await cli('mark-compensated', handle.workflowId, '--reason', '  ');
    expect(blank.code).toBe(2);
    expect(blank.err).toMatch(/--reason is required/);
    const same = await cli('retry-compensation', handle.workflowId, '--step', 'c', '--step', 'undo-c');
    expect(same.code).toBe(2);
    expect(same.err).toMatch(/--step names c twice/);
    expect(await historyLength(handle)).toBe(length);
    await handle.terminate('test over');
  });

  it('still refuses a name that is neither a step nor a compensation, naming the failed compensations', async () => {
    const handle = await stuck(`order-cli-unknown-${randomUUID()}`, ['a']);
    const unknown = await cli('retry-compensation', handle.workflowId, '--step', 'refundPayment');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/Refused: the saga has no step "refundPayment"/);
    await handle.terminate('test over');
  });
});

describe('repairs of a closed saga', () => {
  it('refuses retry-compensation, skip-compensation and mark-compensated alike: "Refused: the workflow has closed", exit code 1', async () => {
    const handle = await stuck(`order-cli-closed-${randomUUID()}`, ['a']);
    await handle.terminate('closed for the test');
    for (const argv of [
      ['retry-compensation', handle.workflowId],
      ['retry-compensation', handle.workflowId, '--step', 'a'],
      ['skip-compensation', handle.workflowId, '--step', 'a', '--reason', 'by hand'],
      ['mark-compensated', handle.workflowId, '--reason', 'by hand'],
    ]) {
      const { code, err } = await cli(...argv);
      expect({ argv, code }).toEqual({ argv, code: 1 });
      expect(err).toMatch(/Refused: the workflow has closed \(TERMINATED\)/);
    }
  });
});

describe('what the client prints from a saga', () => {
  // Step names, failure messages and operator notes come from whoever starts or repairs a saga.
  const hostile = 'c\x1b]0;owned\x07\x1b[2J\u009b31m\u202eexe.txt\nforged line';

  it('neutralises terminal escapes in status text, and keeps JSON valid with the text intact', async () => {
    const workflowId = `order-cli-escapes-${randomUUID()}`;
    const input: ScriptedSagaInput = {
      stages: [{ name: 'a', undo: 'broken-until-repaired' }, { name: hostile, mode: 'fail' }],
      options: { onCompensationFailure: 'await-operator', compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } },
      alert: 'ok',
    };
    const handle = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId, args: [input] });
    await waitForOperator(handle, 1);
    expect((await cli('mark-compensated', workflowId, '--reason', hostile)).code).toBe(0);

    const text = await cli('status', workflowId);
    expect(text.code, text.err).toBe(0);
    expect(text.out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    expect(text.out).toContain('Operator note: c\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202eexe.txt\\x0aforged line');
    expect(text.out).toContain('c\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202eexe.txt\\x0aforged line was declined');
    expect(text.out.split('\n').some((line) => line.startsWith('forged line'))).toBe(false);

    for (const output of ['json', 'jsonl']) {
      const json = await cli('status', workflowId, '-o', output);
      expect(json.out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
      const doc = JSON.parse(json.out) as { state: { operatorNote: string; failure: { message: string } } };
      expect(doc.state.operatorNote).toBe(hostile);
      expect(doc.state.failure.message).toContain(hostile);
    }
  });
});

describe('retry-compensation --query', () => {
  it('lists with --dry-run what it would touch, and touches nothing', async () => {
    const tag = `order-bulk-dry-${randomUUID()}`;
    const handles = [await stuck(`${tag}-1`), await stuck(`${tag}-2`, ['b'])];
    const query = `WorkflowId STARTS_WITH '${tag}'`;
    await waitUntil(async () => (await visible(query)) === 2, 20_000);
    const lengths = await Promise.all(handles.map(historyLength));
    const states = await Promise.all(handles.map((h) => h.query(sagaStateQuery)));

    const dry = await cli('retry-compensation', '--query', query, '--dry-run');
    expect(dry).toMatchObject({ code: 0, err: '' });
    expect(dry.out).toContain(`Dry run, nothing is sent: would retry the failed compensations of 2 sagas matching (${query}) AND SagaStatus = 'COMPENSATION_FAILED' AND ExecutionStatus = 'Running'`);
    expect(dry.out).toMatch(new RegExp(`would retry  ${tag}-1  scriptedSaga  failed: a, b`));
    expect(dry.out).toMatch(new RegExp(`would retry  ${tag}-2  scriptedSaga  failed: b`));
    expect(dry.out).toContain('Dry run: 2 sagas would be asked to retry; nothing was sent.');

    const json = await cli('retry-compensation', '--query', query, '--dry-run', '--json');
    const doc = JSON.parse(json.out) as { dryRun: boolean; sagas: { workflowId: string; outcome: string; failedSteps: string[] }[]; summary: unknown };
    expect(doc.dryRun).toBe(true);
    expect(doc.sagas.map((s) => [s.workflowId, s.outcome, s.failedSteps]).sort()).toEqual([
      [`${tag}-1`, 'would-retry', ['a', 'b']],
      [`${tag}-2`, 'would-retry', ['b']],
    ]);
    expect(doc.summary).toEqual({ matched: 2, more: false });

    expect(await Promise.all(handles.map(historyLength))).toEqual(lengths);
    expect(await Promise.all(handles.map((h) => h.query(sagaStateQuery)))).toEqual(states);
    for (const h of handles) await h.terminate('test over');
  });

  it('asks every saga the query finds, reports each answer and a summary, and exits 1 when one refused', async () => {
    const tag = `order-bulk-${randomUUID()}`;
    const handles = [await stuck(`${tag}-1`), await stuck(`${tag}-2`), await stuck(`${tag}-3`, ['a'])];
    const query = `WorkflowId STARTS_WITH '${tag}'`;
    await waitUntil(async () => (await visible(query)) === 3, 20_000);
    for (const h of handles) recording.repair(h.workflowId, 'b');

    const some = await cli('retry-compensation', '--query', query, '--step', 'b', '--rate', '20');
    expect(some.code).toBe(1);
    expect(some.out).toMatch(new RegExp(`accepted     ${tag}-1  scriptedSaga`));
    expect(some.out).toMatch(new RegExp(`accepted     ${tag}-2  scriptedSaga`));
    expect(some.out).toMatch(new RegExp(`refused      ${tag}-3  scriptedSaga: the compensation of step "b" did not fail \\(it is done\\)`));
    expect(some.out).toContain('3 sagas: 2 accepted, 1 refused.');
    await waitForOperator(handles[0]!, 2);
    await waitForOperator(handles[1]!, 2);
    expect(await Promise.all(handles.map(failedSteps))).toEqual([['a'], ['a'], ['a']]);

    for (const h of handles) recording.repair(h.workflowId, 'a');
    await waitUntil(async () => (await visible(query)) === 3, 20_000);
    const all = await cli('retry-compensation', '--query', query, '--json');
    expect(all.code).toBe(0);
    const doc = JSON.parse(all.out) as { sagas: { workflowId: string; outcome: string }[]; summary: unknown };
    expect(doc.sagas.map((s) => [s.workflowId, s.outcome]).sort()).toEqual(handles.map((h) => [h.workflowId, 'accepted']));
    expect(doc.summary).toEqual({ matched: 3, accepted: 3, refused: 0, more: false });
    for (const h of handles) await waitUntil(async () => (await h.query(sagaStateQuery)).status === 'COMPENSATED', 20_000);
  });

  it('keeps its filter whatever the query: a query that closes its parenthesis early is refused, and a running and a completed saga it names are left untouched', async () => {
    const tag = `order-bulk-escape-${randomUUID()}`;
    const stuckSaga = await stuck(`${tag}-stuck`, ['a']);
    const done = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: `${tag}-done`, args: [{ stages: [{ name: 'a' }], alert: 'ok' }] });
    await done.result();
    const running = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: `${tag}-running`, args: [{ stages: [{ name: 'a', mode: 'block' }], alert: 'ok' }] });
    await waitUntil(async () => recording.logOf(running.workflowId).length > 0, 20_000);
    const everyone = `WorkflowId STARTS_WITH '${tag}'`;
    await waitUntil(async () => {
      let n = 0;
      for await (const _ of testbed.env.client.workflow.list({ query: everyone })) n += 1;
      return n === 3;
    }, 20_000);
    const handles = [stuckSaga, done, running];
    const lengths = await Promise.all(handles.map(historyLength));

    for (const escape of [`${everyone}) OR (${everyone}`, `${everyone}) OR (${everyone}) --`, `${everyone} OR ${everyone} -- ) AND (`]) {
      const result = await cli('retry-compensation', '--query', escape, '--rate', '100');
      expect(result.code, escape).toBe(2);
      expect(result.err).toMatch(/--query must be one filter expression: (it closes a parenthesis it did not open|comments are not allowed)/);
      expect(result.out).toBe('');
    }
    expect(await Promise.all(handles.map(historyLength))).toEqual(lengths);

    // The same sagas through a balanced query: only the one waiting for an operator is asked.
    const balanced = await cli('retry-compensation', '--query', `(${everyone}) OR (${everyone} AND WorkflowId != 'a)--b')`, '--json');
    expect(balanced.code).toBe(0);
    expect((JSON.parse(balanced.out) as { sagas: { workflowId: string }[] }).sagas.map((x) => x.workflowId)).toEqual([stuckSaga.workflowId]);
    expect(await historyLength(done)).toBe(lengths[1]);
    expect(await historyLength(running)).toBe(lengths[2]);
    for (const h of [stuckSaga, running]) await h.terminate('test over');
  });

  it('leaves out, by its filter alone, a completed saga, a running one and a stuck one that was terminated: their histories stay as they were', async () => {
    const tag = `order-bulk-filter-${randomUUID()}`;
    const live = await stuck(`${tag}-stuck`, ['a']);
    // Terminated while waiting: its SagaStatus stays COMPENSATION_FAILED, only the execution status says it is closed.
    const closed = await stuck(`${tag}-closed`, ['a']);
    await closed.terminate('closed while waiting for an operator');
    const done = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: `${tag}-done`, args: [{ stages: [{ name: 'a' }], alert: 'ok' }] });
    await done.result();
    const running = await testbed.env.client.workflow.start(scriptedSaga, { taskQueue, workflowId: `${tag}-running`, args: [{ stages: [{ name: 'a', mode: 'block' }], alert: 'ok' }] });
    await waitUntil(async () => recording.logOf(running.workflowId).length > 0, 20_000);
    const everyone = `WorkflowId STARTS_WITH '${tag}'`;
    await waitUntil(async () => {
      let closedSeen = false;
      let n = 0;
      for await (const w of testbed.env.client.workflow.list({ query: everyone })) {
        n += 1;
        if (w.workflowId === closed.workflowId) closedSeen = w.status.name === 'TERMINATED';
      }
      return n === 4 && closedSeen;
    }, 20_000);
    const others = [closed, done, running];
    const lengths = await Promise.all(others.map(historyLength));

    const dry = await cli('retry-compensation', '--query', everyone, '--dry-run', '--json');
    expect(dry.code, dry.err).toBe(0);
    expect((JSON.parse(dry.out) as { sagas: { workflowId: string }[] }).sagas.map((x) => x.workflowId)).toEqual([live.workflowId]);

    recording.repair(live.workflowId, 'a');
    const retried = await cli('retry-compensation', '--query', everyone, '--json');
    expect(retried.code, retried.err).toBe(0);
    expect((JSON.parse(retried.out) as { sagas: { workflowId: string; outcome: string }[] }).sagas).toEqual([expect.objectContaining({ workflowId: live.workflowId, outcome: 'accepted' })]);
    await waitUntil(async () => (await live.query(sagaStateQuery)).status === 'COMPENSATED', 20_000);
    expect(await Promise.all(others.map(historyLength))).toEqual(lengths);
    expect(recording.logOf(closed.workflowId)).not.toContain('undo:a');
    await running.terminate('test over');
  });

  it('takes at most --limit sagas and says that more match', async () => {
    const tag = `order-bulk-limit-${randomUUID()}`;
    const handles = [await stuck(`${tag}-1`, ['a']), await stuck(`${tag}-2`, ['a'])];
    const query = `WorkflowId STARTS_WITH '${tag}'`;
    await waitUntil(async () => (await visible(query)) === 2, 20_000);
    const dry = await cli('retry-compensation', '--query', query, '--dry-run', '--limit', '1');
    expect(dry.code).toBe(0);
    expect(dry.out.match(/would retry {2}/g)).toHaveLength(1);
    expect(dry.out).toContain('More sagas match: only the first 1 were taken (--limit).');
    for (const h of handles) await h.terminate('test over');
  });

  it.each([
    ['an <id> with --query', ['retry-compensation', 'order-x', '--query', "WorkflowType = 'scriptedSaga'"], /give either a saga <id> or --query, not both/],
    ['neither', ['retry-compensation'], /missing <id> \(or --query to retry many sagas\)/],
    ['--dry-run without --query', ['retry-compensation', 'order-x', '--dry-run'], /--dry-run goes with --query/],
    ['--wait with --query', ['retry-compensation', '--query', "WorkflowType = 'scriptedSaga'", '--wait'], /--wait is for one saga/],
    ['an empty --query', ['retry-compensation', '--query', '  '], /--query is empty/],
    ['a rate of 0', ['retry-compensation', '--query', "WorkflowType = 'scriptedSaga'", '--rate', '0'], /--rate must be a number/],
    ['a step named twice', ['retry-compensation', 'order-x', '--step', 'a', '--step', 'a'], /--step a is given twice/],
    ['a query the server cannot parse', ['retry-compensation', '--query', 'WorkflowType = = ', '--dry-run'], /--query is not a valid visibility query/],
    ['a query that closes a parenthesis it did not open', ['retry-compensation', '--query', "WorkflowId = 'x') OR (WorkflowType = 'orderSaga'"], /--query must be one filter expression: it closes a parenthesis it did not open \(at character 17\)/],
    ['a query that leaves a parenthesis open', ['retry-compensation', '--query', "(WorkflowId = 'x'"], /a parenthesis is never closed \(at character 1\)/],
    ['a query that leaves a quote open', ['retry-compensation', '--query', "WorkflowId = 'x) OR (1 = 1"], /the quote ' is never closed/],
    ['a trailing -- comment', ['retry-compensation', '--query', "WorkflowType = 'orderSaga' --"], /comments are not allowed/],
    ['a /* comment */', ['retry-compensation', '--query', "WorkflowType = 'orderSaga' /* x */"], /comments are not allowed/],
    ['a second statement', ['retry-compensation', '--query', "WorkflowType = 'orderSaga'; DROP"], /it may not end or add a statement/],
  ])('refuses %s as a usage error (exit code 2)', async (_, argv, message) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
  });
});
