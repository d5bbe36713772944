import { describe, expect, it, vi } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure, RetryState } from '@temporalio/common';
import type { SagaState } from '@saga-temporal/saga';
import { commandHelp } from '../../src/cli';
import { commands } from '../../src/cli/commands';
import type { VerificationState } from '../../src/registration/contract';
import { FakeTemporal, runCommand, type FakeSaga } from '../support/fake-temporal';

vi.mock('@saga-temporal/saga/client', async (actual) => (await import('../support/fake-saga-client.js')).withFakeSagaClient(await actual()));

// The user's side of a registration (verify, resend) and cancel, judged in the test process against a
// stand-in server that records every call: what the user reads, the exit code, and what reached the
// server. test/cli/client.test.ts runs the same commands against a real server and worker.

const REG = 'registration-7f3a9c21d4e5b6a8';

function registration(more: Partial<FakeSaga> = {}): FakeSaga {
  return { workflowId: REG, type: 'registrationSaga', ...more };
}

const waiting = (sends: number, resendsRefused = 0): VerificationState => ({ phase: 'waiting', attemptsLeft: 3, sends, resendsRefused, deadline: '2026-12-09T10:00:00.000Z' });

const cli = (server: FakeTemporal, ...argv: string[]) => runCommand(server, argv);

/** The lines of a command's help up to its own last option (the shared ones follow). */
function ownHelp(name: string): string[] {
  const spec = commands.find((c) => c.name === name)!;
  const lines = commandHelp(spec).split('\n');
  return lines.slice(0, lines.findIndex((l) => l.startsWith('  -w, --workflow-id')));
}

describe('verify', () => {
  it('explains itself in its help: the code flag and exit code 1 for a refused code', () => {
    expect(ownHelp('verify')).toEqual([
      'Usage: saga-client verify <id> [options]',
      '',
      'Submit the code from the verification e-mail of a registration',
      '',
      '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].',
      'Exit code 1 when the code is refused.',
      '',
      'Options:',
      '      --code <code>               The code from the verification e-mail (required)',
    ]);
  });

  it('sends the code trimmed as the verifyEmail update and says the account is activated, exit code 0', async () => {
    const server = new FakeTemporal(registration({ verify: () => ({ accepted: true, outcome: 'verified', attemptsLeft: 2 }) }));
    const ran = await cli(server, 'verify', REG, '--code', ' 482913 ');
    expect(ran).toEqual({ code: 0, out: `Verified: ${REG} activates the account now.\n`, err: '' });
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'describe', workflowId: REG },
      { call: 'executeUpdate', workflowId: REG, name: 'verifyEmail', args: [{ code: '482913' }] },
    ]);
  });

  it.each([
    [2, 'Wrong code: 2 attempts left.'],
    [1, 'Wrong code: 1 attempt left.'],
    [0, 'Wrong code: 0 attempts left.'],
  ])('counts the attempts left after a wrong code (%i), exit code 1', async (attemptsLeft, line) => {
    const server = new FakeTemporal(registration({ verify: () => ({ accepted: false, outcome: 'rejected', attemptsLeft }) }));
    expect(await cli(server, 'verify', REG, '--code', '000000')).toEqual({ code: 1, out: `${line}\n`, err: '' });
  });

  it('says the registration is being undone when no attempt is left, and that a closed one no longer waits', async () => {
    const locked = new FakeTemporal(registration({ verify: () => ({ accepted: false, outcome: 'locked', attemptsLeft: 0 }) }));
    expect(await cli(locked, 'verify', REG, '--code', '000000')).toEqual({ code: 1, out: 'Wrong code and no attempts left: the registration is being undone.\n', err: '' });
    const closed = new FakeTemporal(registration({ verify: () => ({ accepted: false, outcome: 'closed', attemptsLeft: 3 }) }));
    expect(await cli(closed, 'verify', REG, '--code', '482913')).toEqual({ code: 1, out: `${REG} no longer waits for a code.\n`, err: '' });
  });

  it('prints the saga answer with the workflow id under --json, and its exit code follows the answer', async () => {
    const server = new FakeTemporal(registration({ verify: () => ({ accepted: false, outcome: 'rejected', attemptsLeft: 2 }) }));
    const ran = await cli(server, 'verify', REG, '--code', '000000', '--json');
    expect(ran.code).toBe(1);
    expect(ran.out).toBe(`${JSON.stringify({ workflowId: REG, accepted: false, outcome: 'rejected', attemptsLeft: 2 }, null, 2)}\n`);
    const verified = new FakeTemporal(registration({ verify: () => ({ accepted: true, outcome: 'verified', attemptsLeft: 3 }) }));
    const ok = await cli(verified, 'verify', REG, '--code', '482913', '-o', 'jsonl');
    expect(ok).toEqual({ code: 0, out: `${JSON.stringify({ workflowId: REG, accepted: true, outcome: 'verified', attemptsLeft: 3 })}\n`, err: '' });
  });

  it('refuses without --code, or with a blank one, before anything reaches the server (exit code 2)', async () => {
    const server = new FakeTemporal(registration());
    for (const argv of [['verify', REG], ['verify', REG, '--code', '  ']]) {
      expect(await cli(server, ...argv)).toEqual({ code: 2, out: '', err: 'saga-client: --code is required (see `client verify --help`)\n' });
    }
    expect(server.calls).toEqual([]);
  });

  it('refuses an order, and a registration that has ended, without sending the code', async () => {
    const server = new FakeTemporal({ workflowId: 'order-o-17', type: 'orderSaga' }, registration({ status: 'COMPLETED' }));
    expect(await cli(server, 'verify', 'o-17', '--code', '482913')).toEqual({ code: 2, out: '', err: 'saga-client: order-o-17 is an order, not a registration\n' });
    expect(await cli(server, 'verify', REG, '--code', '482913')).toEqual({ code: 1, out: '', err: `saga-client: ${REG} has already ended (COMPLETED)\n` });
    expect(server.callsOf('executeUpdate')).toEqual([]);
  });
});

describe('resend', () => {
  it('explains itself in its help: 60 s apart, 5 e-mails at most, exit code 1 when refused', () => {
    expect(ownHelp('resend')).toEqual([
      'Usage: saga-client resend <id> [options]',
      '',
      'Ask a registration to mail a new verification code',
      '',
      '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].',
      'Codes go out at least 60 s apart and 5 times at most; a request beyond that is refused (exit code 1) and no code is sent.',
      '',
      'Options:',
    ]);
  });

  it('reads the counters, signals, and reports the code sent once the count of e-mails grew (exit code 0)', async () => {
    const server = new FakeTemporal(registration({ verification: [waiting(1), waiting(2)] }));
    const ran = await cli(server, 'resend', REG);
    expect(ran).toEqual({ code: 0, out: `A new code is on its way to ${REG}'s address (2 of 5 e-mails sent so far).\n`, err: '' });
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'describe', workflowId: REG },
      { call: 'query', workflowId: REG, name: 'verificationState' },
      { call: 'signal', workflowId: REG, name: 'resendVerification' },
      { call: 'query', workflowId: REG, name: 'verificationState' },
    ]);
    // Each read waits for a worker 3 s at most.
    expect(server.deadlines).toHaveLength(2);
    for (const ms of server.deadlines) expect(ms > 2_900 && ms <= 3_000, `${ms} ms`).toBe(true);
  });

  it('reads again every 100 ms until the counters move, then stops reading', async () => {
    const server = new FakeTemporal(registration({ verification: [waiting(2), waiting(2), waiting(2), waiting(3)] }));
    const begun = Date.now();
    const ran = await cli(server, 'resend', REG, '--json');
    expect(Date.now() - begun).toBeGreaterThanOrEqual(195);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.out)).toEqual({ workflowId: REG, requested: true, sent: true, verification: waiting(3) });
    expect(server.callsOf('query')).toHaveLength(4);
  });

  it('says why no code went out when the saga refused the request: the interval, exit code 1', async () => {
    const server = new FakeTemporal(registration({ verification: [waiting(4), waiting(4, 1)] }));
    const ran = await cli(server, 'resend', REG);
    expect(ran).toEqual({ code: 1, out: 'No new code: codes go out at least 60 s apart (4 of 5 e-mails sent so far); the last code still holds.\n', err: '' });
    // The refusal is counted as soon as it is read: no more reads.
    expect(server.callsOf('query')).toHaveLength(2);
  });

  it('says why no code went out when all 5 e-mails were sent, with the counters under --json', async () => {
    const server = new FakeTemporal(registration({ verification: [waiting(5, 2), waiting(5, 3)] }));
    const text = await cli(server, 'resend', REG);
    expect(text).toEqual({ code: 1, out: 'No new code: all 5 e-mails have been sent (5 of 5 e-mails sent so far); the last code still holds.\n', err: '' });
    const again = new FakeTemporal(registration({ verification: [waiting(5, 3), waiting(5, 4)] }));
    const json = await cli(again, 'resend', REG, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toEqual({ workflowId: REG, requested: true, sent: false, verification: waiting(5, 4) });
  });

  it('without a worker to answer, sends the request once, reads no more, and promises nothing (exit code 0)', async () => {
    const server = new FakeTemporal(registration());
    const ran = await cli(server, 'resend', REG);
    expect(ran).toEqual({ code: 0, out: `Asked ${REG} for a new code; no worker confirmed it yet: see status ${REG}.\n`, err: '' });
    expect(server.calls.map((c) => c.call)).toEqual(['connect', 'describe', 'query', 'signal']);
    const json = await cli(new FakeTemporal(registration()), 'resend', REG, '--json');
    expect(JSON.parse(json.out)).toEqual({ workflowId: REG, requested: true });
  });

  it('promises nothing when the registration stops answering after the signal, right after it or while it is watched', async () => {
    const server = new FakeTemporal(registration({ verification: [waiting(2), undefined] }));
    const ran = await cli(server, 'resend', REG);
    expect(ran).toEqual({ code: 0, out: `Asked ${REG} for a new code; no worker confirmed it yet: see status ${REG}.\n`, err: '' });
    expect(server.callsOf('query')).toHaveLength(2);
    const later = new FakeTemporal(registration({ verification: [waiting(2), waiting(2), undefined] }));
    const json = await cli(later, 'resend', REG, '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ workflowId: REG, requested: true });
    expect(later.callsOf('query')).toHaveLength(3);
  });

  it('gives up after 30 more reads (about 3 s) when the counters never move, and shows the last ones', async () => {
    const server = new FakeTemporal(registration({ verification: [waiting(2)] }));
    const begun = Date.now();
    const ran = await cli(server, 'resend', REG, '--json');
    expect(Date.now() - begun).toBeGreaterThanOrEqual(2_900);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.out)).toEqual({ workflowId: REG, requested: true, verification: waiting(2) });
    // One read before the signal, one after it, then 30 more.
    expect(server.callsOf('query')).toHaveLength(32);
  });

  it('refuses an order and a registration that has ended, and signals neither', async () => {
    const server = new FakeTemporal({ workflowId: 'order-o-17', type: 'orderSaga', verification: [waiting(1)] }, registration({ status: 'TERMINATED', verification: [waiting(1)] }));
    expect(await cli(server, 'resend', 'o-17')).toEqual({ code: 2, out: '', err: 'saga-client: order-o-17 is an order, not a registration\n' });
    expect(await cli(server, 'resend', REG)).toEqual({ code: 1, out: '', err: `saga-client: ${REG} has already ended (TERMINATED)\n` });
    expect(server.callsOf('signal')).toEqual([]);
    expect(server.callsOf('query')).toEqual([]);
  });
});

/** A registration cancelled while waiting for its code: the account deleted. */
const cancelledRegistration: SagaState = {
  status: 'CANCELLED',
  steps: [
    { name: 'createUser', status: 'compensated', group: 0, attempt: 1, compensation: { name: 'deleteUser', status: 'done', attempt: 1, endedAt: '2026-12-08T10:00:02.000Z' } },
    { name: 'sendVerificationEmail', status: 'done', group: 1, attempt: 1 },
  ],
  compensationFailures: [],
};

describe('cancel', () => {
  it('explains itself in its help: an order past its shipment completes anyway', () => {
    expect(ownHelp('cancel')).toEqual([
      'Usage: saga-client cancel <id> [options]',
      '',
      'Cancel a running saga: it undoes what it did, last step first',
      '',
      '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].',
      'An order whose shipment exists is committed: it completes in spite of the cancellation.',
      '',
      'Options:',
      '      --wait                      Wait for the saga to end and report how',
    ]);
  });

  it('cancels a saga of any type and says how to follow it, without waiting', async () => {
    const server = new FakeTemporal({ workflowId: 'order-o-17', type: 'orderSaga' });
    const ran = await cli(server, 'cancel', 'o-17');
    expect(ran).toEqual({ code: 0, out: 'Cancellation requested for order-o-17. Follow: saga-client status order-o-17 --watch\n', err: '' });
    expect(server.calls).toEqual([{ call: 'connect' }, { call: 'describe', workflowId: 'order-o-17' }, { call: 'cancel', workflowId: 'order-o-17' }]);
    const json = await cli(new FakeTemporal(registration()), 'cancel', REG, '--json');
    expect(JSON.parse(json.out)).toEqual({ workflowId: REG, cancelRequested: true, uiUrl: `http://ui.test:8233/namespaces/default/workflows/${REG}` });
  });

  it('cancels the run -r names', async () => {
    const server = new FakeTemporal({ workflowId: 'order-o-17', runId: 'run-2' });
    expect((await cli(server, 'cancel', '-w', 'order-o-17', '-r', 'run-2')).code).toBe(0);
    expect(server.callsOf('cancel')).toEqual([{ workflowId: 'order-o-17', runId: 'run-2' }]);
  });

  it('with --wait, reports how a cancelled registration ended and what was undone', async () => {
    const server = new FakeTemporal(
      registration({ state: cancelledRegistration, result: () => Promise.reject(new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('cancelled'), RetryState.NON_RETRYABLE_FAILURE)) }),
    );
    const ran = await cli(server, 'cancel', REG, '--wait');
    expect(ran).toEqual({ code: 0, out: `${REG} CANCELLED: cancelled; undone: deleteUser\n`, err: '' });
    expect(server.calls.map((c) => c.call)).toEqual(['connect', 'describe', 'cancel', 'result', 'query', 'describe']);
  });

  it('with --wait, describes an order that completed in spite of the cancellation by its shipment; other sagas just completed', async () => {
    const result = { carrier: 'EuroParcel', trackingNumber: 'EP-1001', confirmationSent: true };
    const order = new FakeTemporal({ workflowId: 'order-o-17', type: 'orderSaga', result: async () => result });
    const text = await cli(order, 'cancel', 'o-17', '--wait');
    expect(text).toEqual({ code: 0, out: 'order-o-17 COMPLETED: shipped with EuroParcel, tracking EP-1001\n', err: '' });
    const json = await cli(order, 'cancel', 'o-17', '--wait', '--json');
    expect(JSON.parse(json.out)).toEqual({ workflowId: 'order-o-17', cancelRequested: true, outcome: { status: 'COMPLETED', message: 'shipped with EuroParcel, tracking EP-1001', compensated: [], result } });
    const other = new FakeTemporal(registration({ result: async () => ({ userId: 'u-1', status: 'ACTIVE' }) }));
    expect((await cli(other, 'cancel', REG, '--wait')).out).toBe(`${REG} COMPLETED: completed\n`);
  });

  it('refuses a saga that has ended and sends no cancellation (exit code 1); an unknown saga is not found (exit code 4)', async () => {
    const server = new FakeTemporal({ workflowId: 'order-o-17', status: 'FAILED' });
    expect(await cli(server, 'cancel', 'o-17')).toEqual({ code: 1, out: '', err: 'saga-client: order-o-17 has already ended (FAILED)\n' });
    expect(await cli(server, 'cancel', 'o-18')).toEqual({ code: 4, out: '', err: 'saga-client: No saga found for "o-18" (looked for workflow id order-o-18)\n' });
    expect(server.callsOf('cancel')).toEqual([]);
  });
});
