import { describe, expect, it, vi } from 'vitest';
import type { SagaState, StepRecord } from '@saga-temporal/saga';
import { SagaClientUsageError, SagaNotFoundError, SagaUpdateRejectedError } from '@saga-temporal/saga/client';
import { commandHelp, stepsTable } from '../../src/cli';
import { commands } from '../../src/cli/commands';
import { FakeTemporal, runCommand, type FakeSaga } from '../support/fake-temporal';

vi.mock('@saga-temporal/saga/client', async (actual) => (await import('../support/fake-saga-client.js')).withFakeSagaClient(await actual()));

// The operator's repairs of one saga (retry-compensation <id>, skip-compensation, mark-compensated),
// judged in the test process against a stand-in server that records every call: how --step is read,
// what each command asks the saga, what it prints and its exit code. test/cli/repair.test.ts runs them
// against a real server, worker and saga.

const ID = 'order-o-17';
const cli = (server: FakeTemporal, ...argv: string[]) => runCommand(server, argv);

const step = (name: string, compensation: string, status: StepRecord['status'], compensationStatus: 'done' | 'failed' | 'skipped' | 'pending'): StepRecord => ({
  name,
  status,
  group: 0,
  attempt: 1,
  compensation: { name: compensation, status: compensationStatus, attempt: compensationStatus === 'pending' ? 0 : 1 },
});

/** An undeliverable order whose refund and stock release failed: it waits for an operator. */
function stuckOrder(failed: string[] = ['capturePayment', 'reserveStock']): SagaState {
  const steps: StepRecord[] = [
    step('reserveStock', 'releaseStock', failed.includes('reserveStock') ? 'compensation-failed' : 'compensated', failed.includes('reserveStock') ? 'failed' : 'done'),
    step('capturePayment', 'refundPayment', failed.includes('capturePayment') ? 'compensation-failed' : 'compensated', failed.includes('capturePayment') ? 'failed' : 'done'),
    {
      ...step('createShipment', 'cancelShipment', failed.includes('createShipment') ? 'compensation-failed' : 'compensated', failed.includes('createShipment') ? 'failed' : 'done'),
      error: { type: 'Undeliverable', message: 'No carrier delivers to AQ' },
    },
    // After the pivot, with no compensation: never shipped, so never sent.
    { name: 'sendConfirmationEmail', status: 'pending', group: 3, attempt: 0 },
  ];
  return {
    status: failed.length > 0 ? 'COMPENSATION_FAILED' : 'COMPENSATED',
    steps,
    compensationFailures: failed.map((s) => ({ step: s, message: 'provider unavailable', type: 'ProviderDown' })),
  };
}

function order(more: Partial<FakeSaga> = {}): FakeSaga {
  return { workflowId: ID, type: 'orderSaga', state: stuckOrder(), ...more };
}

const refused = (update: string, reason: string) => () => {
  throw new SagaUpdateRejectedError(ID, update, reason);
};

/** The lines of a command's help up to its own last option (the shared ones follow). */
function ownHelp(name: string): string[] {
  const lines = commandHelp(commands.find((c) => c.name === name)!).split('\n');
  return lines.slice(0, lines.findIndex((l) => l.startsWith('  -w, --workflow-id')));
}

describe('retry-compensation <id>', () => {
  it('explains --step, --wait and --query in its help, with the filter ANDed to the query and the defaults of --rate and --limit', () => {
    expect(ownHelp('retry-compensation')).toEqual([
      'Usage: saga-client retry-compensation [<id>] [options]',
      '',
      'Run the failed compensations of a saga waiting in COMPENSATION_FAILED again (all, or some with --step); --query for many sagas',
      '',
      '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].',
      'With --step only the failed compensations of those steps run again; the others stay failed and the saga keeps waiting.',
      '--step takes the forward step (capturePayment) or its compensation (refundPayment), as status shows them.',
      'Without --wait it returns once the saga accepted the request; a retry round can take as long as the compensation retry policy allows.',
      "With --query instead of <id>: every saga the visibility query finds, ANDed with SagaStatus = 'COMPENSATION_FAILED' AND ExecutionStatus = 'Running'.",
      'The query must be one expression: balanced parentheses and quotes, no comment.',
      'Each saga is asked at most --rate times per second and its answer reported (accepted, or refused with the reason); --dry-run lists them and sends nothing.',
      'Exit code 1 when a saga refused.',
      '',
      'Options:',
      "      --step <name>               Retry only this step's failed compensation, named by the step or by the compensation, e.g. capturePayment or refundPayment (repeatable)",
      '      --wait                      Wait for the retry round to end and show the state after it (one saga)',
      "      --query <visibility query>  Every saga it finds, ANDed with SagaStatus = 'COMPENSATION_FAILED' AND ExecutionStatus = 'Running'",
      '      --dry-run                   With --query: list the sagas and their failed steps, send nothing',
      '      --rate <n>                  With --query: requests per second at most (default 5)',
      '      --limit <n>                 With --query: at most this many sagas (default 100)',
    ]);
  });

  it('asks the saga to retry every failed compensation without waiting, reads no state first, and says how to follow it', async () => {
    const server = new FakeTemporal(order());
    const ran = await cli(server, 'retry-compensation', 'o-17');
    expect(ran).toEqual({ code: 0, out: `${ID} is retrying its failed compensations. Follow: saga-client status ${ID} --watch\n`, err: '' });
    expect(server.calls).toEqual([{ call: 'connect' }, { call: 'describe', workflowId: ID }, { call: 'retryCompensation', workflowId: ID, options: { wait: false } }]);
    const json = await cli(new FakeTemporal(order()), 'retry-compensation', ID, '--json');
    expect(json).toEqual({ code: 0, out: `${JSON.stringify({ workflowId: ID, accepted: true }, null, 2)}\n`, err: '' });
  });

  it('takes --step as the step or as its compensation, and sends the steps they name', async () => {
    const server = new FakeTemporal(order());
    const ran = await cli(server, 'retry-compensation', ID, '--step', 'refundPayment', '--step', 'reserveStock');
    expect(ran).toEqual({ code: 0, out: `${ID} is retrying the failed compensations of capturePayment, reserveStock. Follow: saga-client status ${ID} --watch\n`, err: '' });
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'describe', workflowId: ID },
      { call: 'state', workflowId: ID },
      { call: 'retryCompensation', workflowId: ID, options: { wait: false, steps: ['capturePayment', 'reserveStock'] } },
    ]);
    const json = await cli(new FakeTemporal(order()), 'retry-compensation', ID, '--step', 'releaseStock', '-o', 'jsonl');
    expect(json.out).toBe(`${JSON.stringify({ workflowId: ID, accepted: true, steps: ['reserveStock'] })}\n`);
  });

  it('sends a --step that names no step unchanged (the saga refuses it), and every name unchanged when no worker answers the state query', async () => {
    const server = new FakeTemporal(order({ operator: { retryCompensation: refused('retryCompensation', 'the saga has no step "refund" (compensations failed: capturePayment, reserveStock)') } }));
    const unknown = await cli(server, 'retry-compensation', ID, '--step', 'refund');
    expect(unknown).toEqual({ code: 1, out: '', err: 'saga-client: Refused: the saga has no step "refund" (compensations failed: capturePayment, reserveStock)\n' });
    expect(server.callsOf('retryCompensation')).toEqual([{ workflowId: ID, options: { wait: false, steps: ['refund'] } }]);

    const noWorker = new FakeTemporal(order({ state: undefined }));
    expect((await cli(noWorker, 'retry-compensation', ID, '--step', 'refundPayment', '--step', 'capturePayment')).code).toBe(0);
    expect(noWorker.callsOf('retryCompensation')).toEqual([{ workflowId: ID, options: { wait: false, steps: ['refundPayment', 'capturePayment'] } }]);
  });

  it('refuses a --step that fits two steps, and one step named twice through its compensation, sending nothing (exit code 2)', async () => {
    const twoFit: SagaState = { status: 'COMPENSATION_FAILED', steps: [step('a', 'undo-a', 'compensation-failed', 'failed'), step('undo-a', 'undo-undo-a', 'compensated', 'done')], compensationFailures: [{ step: 'a', message: 'down' }] };
    const server = new FakeTemporal(order({ state: twoFit }));
    expect(await cli(server, 'retry-compensation', ID, '--step', 'undo-a')).toEqual({
      code: 2,
      out: '',
      err: "saga-client: --step undo-a is ambiguous: it names step a and step undo-a; give the step's name (see `client retry-compensation --help`)\n",
    });
    const twice = new FakeTemporal(order());
    expect(await cli(twice, 'retry-compensation', ID, '--step', 'capturePayment', '--step', 'refundPayment')).toEqual({
      code: 2,
      out: '',
      err: 'saga-client: --step names capturePayment twice (as the step and as its compensation, or twice over) (see `client retry-compensation --help`)\n',
    });
    expect([...server.callsOf('retryCompensation'), ...twice.callsOf('retryCompensation')]).toEqual([]);
  });

  it('takes a step whose compensation carries its own name as that one step', async () => {
    const same: SagaState = { status: 'COMPENSATION_FAILED', steps: [step('notify', 'notify', 'compensation-failed', 'failed'), step('b', 'undo-b', 'compensated', 'done')], compensationFailures: [{ step: 'notify', message: 'down' }] };
    const server = new FakeTemporal(order({ state: same }));
    expect((await cli(server, 'retry-compensation', ID, '--step', 'notify')).code).toBe(0);
    expect(server.callsOf('retryCompensation')).toEqual([{ workflowId: ID, options: { wait: false, steps: ['notify'] } }]);
  });

  it.each([
    ['a blank --step', ['--step', ' '], '--step needs a step name'],
    ['an empty --step among others', ['--step', 'capturePayment', '--step', ''], '--step needs a step name'],
    ['a --step given twice', ['--step', 'capturePayment', '--step', 'reserveStock', '--step', 'capturePayment'], '--step capturePayment is given twice'],
    ['--dry-run without --query', ['--dry-run'], '--dry-run goes with --query'],
    ['--rate without --query', ['--rate', '5'], '--rate goes with --query'],
    ['--limit without --query', ['--limit', '3'], '--limit goes with --query'],
    ['--rate and --limit without --query', ['--limit', '3', '--rate', '5'], '--rate goes with --query'],
    ['an <id> with --query', ['--query', "WorkflowType = 'orderSaga'"], 'give either a saga <id> or --query, not both'],
  ])('refuses %s before anything reaches the server (exit code 2)', async (_, flags, message) => {
    const server = new FakeTemporal(order());
    expect(await cli(server, 'retry-compensation', ID, ...flags)).toEqual({ code: 2, out: '', err: `saga-client: ${message} (see \`client retry-compensation --help\`)\n` });
    expect(server.calls).toEqual([]);
  });

  it('refuses a command line with neither <id> nor --query, and --wait with --query, before anything reaches the server', async () => {
    const server = new FakeTemporal(order());
    expect(await cli(server, 'retry-compensation')).toEqual({ code: 2, out: '', err: 'saga-client: missing <id> (or --query to retry many sagas) (see `client retry-compensation --help`)\n' });
    expect(await cli(server, 'retry-compensation', '--query', "WorkflowType = 'orderSaga'", '--wait')).toEqual({
      code: 2,
      out: '',
      err: 'saga-client: --wait is for one saga; with --query each saga is reported once it accepted (see `client retry-compensation --help`)\n',
    });
    expect(server.calls).toEqual([]);
  });

  it('with --wait, shows the state after the round and exits 0 once the saga is compensated', async () => {
    const after = stuckOrder([]);
    const server = new FakeTemporal(order({ operator: { retryCompensation: () => after } }));
    const ran = await cli(server, 'retry-compensation', ID, '--wait');
    expect(ran).toEqual({ code: 0, out: `${ID}: saga COMPENSATED after the retry\n${stepsTable(after.steps)}\n`, err: '' });
    expect(server.callsOf('retryCompensation')).toEqual([{ workflowId: ID, options: { wait: true } }]);
  });

  it('with --wait, names the compensations still failed and exits 1 while the saga still waits', async () => {
    const after = stuckOrder(['reserveStock']);
    const server = new FakeTemporal(order({ operator: { retryCompensation: () => after } }));
    const ran = await cli(server, 'retry-compensation', ID, '--wait');
    expect(ran).toEqual({ code: 1, out: `${ID}: saga COMPENSATION_FAILED after the retry; still failed: reserveStock\n${stepsTable(after.steps)}\n`, err: '' });
    const json = await cli(server, 'retry-compensation', ID, '--wait', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toEqual({ workflowId: ID, accepted: true, state: after });
    const both = new FakeTemporal(order({ operator: { retryCompensation: () => stuckOrder() } }));
    expect((await cli(both, 'retry-compensation', ID, '--wait')).out.split('\n')[0]).toBe(`${ID}: saga COMPENSATION_FAILED after the retry; still failed: capturePayment, reserveStock`);
  });

  it('with --wait and --step, exits 0 when the named steps are undone though others still wait, and 1 when one of them failed again', async () => {
    const server = new FakeTemporal(order({ operator: { retryCompensation: () => stuckOrder(['reserveStock']) } }));
    const done = await cli(server, 'retry-compensation', ID, '--step', 'refundPayment', '--wait', '--json');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.out)).toEqual({ workflowId: ID, accepted: true, steps: ['capturePayment'], state: stuckOrder(['reserveStock']) });
    const again = await cli(server, 'retry-compensation', ID, '--step', 'releaseStock', '--wait');
    expect(again.code).toBe(1);
    expect(again.out.split('\n')[0]).toBe(`${ID}: saga COMPENSATION_FAILED after the retry; still failed: reserveStock`);
    // One of two named steps failed again: the retry did not do its part.
    const half = await cli(server, 'retry-compensation', ID, '--step', 'refundPayment', '--step', 'releaseStock', '--wait');
    expect(half.code).toBe(1);
  });

  it('with --wait, says nothing is left failed once a saga is no longer waiting, even if its failures were kept', async () => {
    const after: SagaState = { ...stuckOrder(['reserveStock']), status: 'COMPENSATED' };
    const server = new FakeTemporal(order({ operator: { retryCompensation: () => after } }));
    const ran = await cli(server, 'retry-compensation', ID, '--wait');
    expect(ran.code).toBe(0);
    expect(ran.out.split('\n')[0]).toBe(`${ID}: saga COMPENSATED after the retry`);
  });

  it('acts on the run -r names: its state and its retry', async () => {
    const server = new FakeTemporal(order({ runId: 'run-2' }));
    expect((await cli(server, 'retry-compensation', '-w', ID, '-r', 'run-2', '--step', 'refundPayment')).code).toBe(0);
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'describe', workflowId: ID, runId: 'run-2' },
      { call: 'state', workflowId: ID, runId: 'run-2' },
      { call: 'retryCompensation', workflowId: ID, options: { wait: false, runId: 'run-2', steps: ['capturePayment'] } },
    ]);
  });
});

describe("the operator helper's errors, as the user reads them", () => {
  it.each([
    ['a refusal', () => new SagaUpdateRejectedError(ID, 'retryCompensation', 'the saga is not waiting in COMPENSATION_FAILED (it is COMPENSATING)'), 1, 'Refused: the saga is not waiting in COMPENSATION_FAILED (it is COMPENSATING)'],
    ['a usage error', () => new SagaClientUsageError('steps must be a list of step names'), 2, 'steps must be a list of step names (see `client --help`)'],
    ['a saga gone', () => new SagaNotFoundError(ID, undefined), 4, `No saga with workflow id ${ID}`],
    ['anything else', () => new Error('connection reset'), 1, 'Unexpected error: connection reset'],
  ])('reports %s of retry-compensation', async (_, error, code, message) => {
    const server = new FakeTemporal(
      order({
        operator: {
          retryCompensation: () => {
            throw error();
          },
        },
      }),
    );
    expect(await cli(server, 'retry-compensation', ID)).toEqual({ code, out: '', err: `saga-client: ${message}\n` });
  });
});

describe('skip-compensation', () => {
  it('explains --step and --reason in its help', () => {
    expect(ownHelp('skip-compensation')).toEqual([
      'Usage: saga-client skip-compensation <id> [options]',
      '',
      'Record that the failed compensation of one step was done by hand; the saga ends COMPENSATED once none is left failed',
      '',
      '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].',
      '--step takes the forward step (capturePayment) or its compensation (refundPayment), as status shows them.',
      'The saga never runs that compensation again; the step shows it as skipped by the operator, with the reason.',
      '',
      'Options:',
      '      --step <name>               The step whose compensation was done by hand, or that compensation, e.g. capturePayment or refundPayment (required)',
      '      --reason <text>             What was repaired, and how (required; kept on the step)',
    ]);
  });

  it('skips the step --step names by its compensation, with the reason, and lists what is still failed', async () => {
    const after = stuckOrder(['reserveStock']);
    const server = new FakeTemporal(order({ operator: { skipCompensation: () => after } }));
    const ran = await cli(server, 'skip-compensation', 'o-17', '--step', 'refundPayment', '--reason', 'refunded by hand, ticket OPS-12');
    expect(ran).toEqual({ code: 0, out: `${ID}: compensation of capturePayment skipped by the operator; saga COMPENSATION_FAILED; still failed: reserveStock\n${stepsTable(after.steps)}\n`, err: '' });
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'describe', workflowId: ID },
      { call: 'state', workflowId: ID },
      { call: 'skipCompensation', workflowId: ID, step: 'capturePayment', reason: 'refunded by hand, ticket OPS-12', options: {} },
    ]);
  });

  it('lists every compensation still failed after the skip', async () => {
    const server = new FakeTemporal(order({ state: stuckOrder(['reserveStock', 'capturePayment', 'createShipment']), operator: { skipCompensation: () => stuckOrder() } }));
    const ran = await cli(server, 'skip-compensation', ID, '--step', 'cancelShipment', '--reason', 'shipment cancelled with the carrier');
    expect(ran.out.split('\n')[0]).toBe(`${ID}: compensation of createShipment skipped by the operator; saga COMPENSATION_FAILED; still failed: capturePayment, reserveStock`);
    expect(server.callsOf('skipCompensation')).toEqual([{ workflowId: ID, step: 'createShipment', reason: 'shipment cancelled with the carrier', options: {} }]);
  });

  it('says the saga is compensated once no failure is left, and prints the state under --json', async () => {
    const after = stuckOrder([]);
    const server = new FakeTemporal(order({ operator: { skipCompensation: () => after } }));
    const ran = await cli(server, 'skip-compensation', ID, '--step', 'reserveStock', '--reason', 'released by hand');
    expect(ran.out).toBe(`${ID}: compensation of reserveStock skipped by the operator; saga COMPENSATED\n${stepsTable(after.steps)}\n`);
    const json = await cli(server, 'skip-compensation', ID, '--step', 'releaseStock', '--reason', 'released by hand', '--json');
    expect(JSON.parse(json.out)).toEqual({ workflowId: ID, skipped: 'reserveStock', state: after });
  });

  it('skips in the run -r names, and sends the name unchanged when no worker answers', async () => {
    const server = new FakeTemporal(order({ runId: 'run-2', state: undefined, operator: { skipCompensation: () => stuckOrder(['reserveStock']) } }));
    expect((await cli(server, 'skip-compensation', ID, '-r', 'run-2', '--step', 'refundPayment', '--reason', 'by hand')).code).toBe(0);
    expect(server.callsOf('skipCompensation')).toEqual([{ workflowId: ID, step: 'refundPayment', reason: 'by hand', options: { runId: 'run-2' } }]);
  });

  it('refuses a missing or blank --step or --reason, the step first, before anything reaches the server', async () => {
    const server = new FakeTemporal(order());
    for (const [flags, missing] of [
      [[], 'step'],
      [['--reason', 'by hand'], 'step'],
      [['--step', ' ', '--reason', 'by hand'], 'step'],
      [['--step', 'refundPayment'], 'reason'],
      [['--step', 'refundPayment', '--reason', ''], 'reason'],
    ] as const) {
      expect(await cli(server, 'skip-compensation', ID, ...flags)).toEqual({ code: 2, out: '', err: `saga-client: --${missing} is required (see \`client skip-compensation --help\`)\n` });
    }
    expect(server.calls).toEqual([]);
  });

  it('refuses a --step that fits two steps, naming this command in the hint', async () => {
    const twoFit: SagaState = { status: 'COMPENSATION_FAILED', steps: [step('a', 'undo-a', 'compensation-failed', 'failed'), step('undo-a', 'x', 'compensated', 'done')], compensationFailures: [{ step: 'a', message: 'down' }] };
    const server = new FakeTemporal(order({ state: twoFit }));
    const ran = await cli(server, 'skip-compensation', ID, '--step', 'undo-a', '--reason', 'by hand');
    expect(ran.err).toBe("saga-client: --step undo-a is ambiguous: it names step a and step undo-a; give the step's name (see `client skip-compensation --help`)\n");
    expect(server.callsOf('skipCompensation')).toEqual([]);
  });

  it('reports the saga refusing the skip with its reason (exit code 1)', async () => {
    const server = new FakeTemporal(order({ operator: { skipCompensation: refused('skipCompensation', 'the compensation of step "createShipment" did not fail (it is done)') } }));
    expect(await cli(server, 'skip-compensation', ID, '--step', 'createShipment', '--reason', 'by hand')).toEqual({
      code: 1,
      out: '',
      err: 'saga-client: Refused: the compensation of step "createShipment" did not fail (it is done)\n',
    });
  });
});

describe('mark-compensated', () => {
  it('explains --reason in its help', () => {
    expect(ownHelp('mark-compensated')).toEqual([
      'Usage: saga-client mark-compensated <id> [options]',
      '',
      'Declare a saga in COMPENSATION_FAILED compensated after repairing it by hand',
      '',
      '<id> is a workflow id, an order id, or the e-mail address of a registration; or give -w <workflow id> [-r <run id>].',
      '',
      'Options:',
      '      --reason <text>             What was repaired, and how (required; kept as the operator note)',
    ]);
  });

  it("declares the saga compensated with the reason, and prints the saga's operator note", async () => {
    const after: SagaState = { ...stuckOrder([]), operatorNote: 'refunded and released by hand' };
    const server = new FakeTemporal(order({ operator: { markCompensated: () => after } }));
    const ran = await cli(server, 'mark-compensated', 'o-17', '--reason', 'refunded and released by hand ');
    expect(ran).toEqual({ code: 0, out: `${ID}: saga COMPENSATED; operator note: refunded and released by hand\n`, err: '' });
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'describe', workflowId: ID },
      { call: 'markCompensated', workflowId: ID, reason: 'refunded and released by hand ', options: {} },
    ]);
    const json = await cli(server, 'mark-compensated', ID, '--reason', 'refunded', '--json');
    expect(JSON.parse(json.out)).toEqual({ workflowId: ID, state: after });
  });

  it('prints the reason given when the state carries no note, and acts on the run -r names', async () => {
    const server = new FakeTemporal(order({ runId: 'run-2', operator: { markCompensated: () => stuckOrder([]) } }));
    const ran = await cli(server, 'mark-compensated', ID, '-r', 'run-2', '--reason', 'fixed in the ledger');
    expect(ran.out).toBe(`${ID}: saga COMPENSATED; operator note: fixed in the ledger\n`);
    expect(server.callsOf('markCompensated')).toEqual([{ workflowId: ID, reason: 'fixed in the ledger', options: { runId: 'run-2' } }]);
  });

  it('refuses a missing or blank --reason before anything reaches the server, and reports a refusal with exit code 1', async () => {
    const server = new FakeTemporal(order({ operator: { markCompensated: refused('markCompensated', 'the saga is not waiting in COMPENSATION_FAILED (it is COMPENSATED)') } }));
    for (const flags of [[], ['--reason', '  ']]) {
      expect(await cli(server, 'mark-compensated', ID, ...flags)).toEqual({ code: 2, out: '', err: 'saga-client: --reason is required (see `client mark-compensated --help`)\n' });
    }
    expect(server.calls).toEqual([]);
    expect(await cli(server, 'mark-compensated', ID, '--reason', 'by hand')).toEqual({ code: 1, out: '', err: 'saga-client: Refused: the saga is not waiting in COMPENSATION_FAILED (it is COMPENSATED)\n' });
  });
});
