import { describe, expect, it, vi } from 'vitest';
import { ServiceError } from '@temporalio/client';
import type { SagaState } from '@saga-temporal/saga';
import { SagaUpdateRejectedError } from '@saga-temporal/saga/client';
import { FakeTemporal, runCommand, type FakeSaga } from '../support/fake-temporal';

vi.mock('@saga-temporal/saga/client', async (actual) => (await import('../support/fake-saga-client.js')).withFakeSagaClient(await actual()));

// retry-compensation --query, judged in the test process against a stand-in server that records every
// call: the visibility query it sends (the operator's, ANDed with the stuck-saga filter), which sagas it
// takes (--limit), how fast it asks them (--rate), what a dry run sends (nothing), and what it prints.
// The stand-in does not evaluate the query: it answers with the sagas a test lists. That the filter
// leaves running, completed and terminated sagas out is shown against a real server in
// test/cli/repair.test.ts.

// The stuck-saga filter, written out: a saga waiting for an operator, whose workflow still runs.
const FILTER = "SagaStatus = 'COMPENSATION_FAILED' AND ExecutionStatus = 'Running'";
const ORDERS = "WorkflowType = 'orderSaga'";
const SENT = `(${ORDERS}) AND ${FILTER}`;

const cli = (server: FakeTemporal, ...argv: string[]) => runCommand(server, argv);

function stuck(failed: string[]): SagaState {
  return {
    status: 'COMPENSATION_FAILED',
    steps: failed.map((name) => ({ name, status: 'compensation-failed', group: 0, attempt: 1, compensation: { name: `undo-${name}`, status: 'failed', attempt: 1 } })),
    compensationFailures: failed.map((step) => ({ step, message: 'provider unavailable' })),
  };
}

/** `n` stuck orders `order-b-1` … `order-b-<n>`, each found by the query; `more` changes some. */
function stuckOrders(n: number, more: (i: number) => Partial<FakeSaga> = () => ({})): FakeTemporal {
  const server = new FakeTemporal();
  for (let i = 1; i <= n; i++) server.add({ workflowId: `order-b-${i}`, type: 'orderSaga', state: stuck(['capturePayment']), ...more(i) });
  server.listed = Array.from({ length: n }, (_, i) => `order-b-${i + 1}`);
  return server;
}

const refusal = (workflowId: string, reason: string) => () => {
  throw new SagaUpdateRejectedError(workflowId, 'retryCompensation', reason);
};

describe('retry-compensation --query --dry-run', () => {
  it('sends the query ANDed with the stuck-saga filter, lists each saga with its failed steps, and asks none', async () => {
    const server = stuckOrders(3, (i) => (i === 2 ? { state: stuck(['capturePayment', 'reserveStock']), type: 'scriptedSaga' } : i === 3 ? { state: undefined } : {}));
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--dry-run');
    expect(ran).toEqual({
      code: 0,
      err: '',
      out: [
        `Dry run, nothing is sent: would retry the failed compensations of 3 sagas matching ${SENT}`,
        'would retry  order-b-1  orderSaga  failed: capturePayment',
        'would retry  order-b-2  scriptedSaga  failed: capturePayment, reserveStock',
        'would retry  order-b-3  orderSaga  failed: ? (no worker answered the state query)',
        'Dry run: 3 sagas would be asked to retry; nothing was sent.',
        '',
      ].join('\n'),
    });
    expect(server.calls).toEqual([
      { call: 'connect' },
      { call: 'list', query: SENT, pageSize: 100 },
      { call: 'state', workflowId: 'order-b-1', runId: 'run-order-b-1' },
      { call: 'state', workflowId: 'order-b-2', runId: 'run-order-b-2' },
      { call: 'state', workflowId: 'order-b-3', runId: 'run-order-b-3' },
    ]);
  });

  it('lists a saga that vanished after the query found it as one whose failed steps are unknown', async () => {
    const server = stuckOrders(1);
    server.listed = ['order-b-1', 'order-b-gone'];
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--dry-run', '--json');
    expect(JSON.parse(ran.out).sagas).toEqual([
      { workflowId: 'order-b-1', runId: 'run-order-b-1', type: 'orderSaga', outcome: 'would-retry', failedSteps: ['capturePayment'] },
      { workflowId: 'order-b-gone', runId: 'run-order-b-gone', type: 'orderSaga', outcome: 'would-retry' },
    ]);
  });

  it('prints one JSON document under --json, with the query sent, the steps and the summary, and no line of text', async () => {
    const server = stuckOrders(2);
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--dry-run', '--step', 'capturePayment', '--json');
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.out)).toEqual({
      query: SENT,
      dryRun: true,
      steps: ['capturePayment'],
      sagas: [
        { workflowId: 'order-b-1', runId: 'run-order-b-1', type: 'orderSaga', outcome: 'would-retry', failedSteps: ['capturePayment'] },
        { workflowId: 'order-b-2', runId: 'run-order-b-2', type: 'orderSaga', outcome: 'would-retry', failedSteps: ['capturePayment'] },
      ],
      summary: { matched: 2, more: false },
    });
    expect(server.callsOf('retryCompensation')).toEqual([]);
  });

  it('names the steps --step gives, and counts one saga as one saga and none as 0 sagas', async () => {
    const one = await cli(stuckOrders(1), 'retry-compensation', '--query', ORDERS, '--dry-run', '--step', 'capturePayment', '--step', 'reserveStock');
    expect(one.out.split('\n')).toEqual([
      `Dry run, nothing is sent: would retry the failed compensations of capturePayment, reserveStock of 1 saga matching ${SENT}`,
      'would retry  order-b-1  orderSaga  failed: capturePayment',
      'Dry run: 1 saga would be asked to retry; nothing was sent.',
      '',
    ]);
    const none = await cli(stuckOrders(0), 'retry-compensation', '--query', ORDERS, '--dry-run');
    expect(none.out.split('\n')).toEqual([`Dry run, nothing is sent: would retry the failed compensations of 0 sagas matching ${SENT}`, 'Dry run: 0 sagas would be asked to retry; nothing was sent.', '']);
  });
});

describe('retry-compensation --query', () => {
  it('asks each saga in turn, reports its answer, sums them up and exits 1 when one refused', async () => {
    const server = stuckOrders(3, (i) =>
      i === 2 ? { operator: { retryCompensation: refusal('order-b-2', 'the saga is not waiting in COMPENSATION_FAILED (it is COMPENSATING)') } } : {},
    );
    server.listed.push('order-b-gone');
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--rate', '100');
    expect(ran).toEqual({
      code: 1,
      err: '',
      out: [
        `Retrying the failed compensations of 4 sagas matching ${SENT}, at most 100 per second`,
        'accepted     order-b-1  orderSaga',
        'refused      order-b-2  orderSaga: the saga is not waiting in COMPENSATION_FAILED (it is COMPENSATING)',
        'accepted     order-b-3  orderSaga',
        'refused      order-b-gone  orderSaga: the workflow no longer exists',
        '4 sagas: 2 accepted, 2 refused.',
        '',
      ].join('\n'),
    });
    expect(server.calls.map((c) => c.call)).toEqual(['connect', 'list', 'retryCompensation', 'retryCompensation', 'retryCompensation', 'retryCompensation']);
    expect(server.callsOf('retryCompensation')[0]).toEqual({ workflowId: 'order-b-1', options: { runId: 'run-order-b-1', wait: false } });
  });

  it('exits 0 when every saga accepted, sends the --step names to each, and reports in one JSON document', async () => {
    const server = stuckOrders(2);
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--step', 'capturePayment', '--rate', '100', '--json');
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.out)).toEqual({
      query: SENT,
      dryRun: false,
      steps: ['capturePayment'],
      sagas: [
        { workflowId: 'order-b-1', runId: 'run-order-b-1', type: 'orderSaga', outcome: 'accepted' },
        { workflowId: 'order-b-2', runId: 'run-order-b-2', type: 'orderSaga', outcome: 'accepted' },
      ],
      summary: { matched: 2, accepted: 2, refused: 0, more: false },
    });
    expect(server.callsOf('retryCompensation')).toEqual([
      { workflowId: 'order-b-1', options: { runId: 'run-order-b-1', wait: false, steps: ['capturePayment'] } },
      { workflowId: 'order-b-2', options: { runId: 'run-order-b-2', wait: false, steps: ['capturePayment'] } },
    ]);
  });

  it('says "1 saga" and names the steps in its first line', async () => {
    const ran = await cli(stuckOrders(1), 'retry-compensation', '--query', ORDERS, '--step', 'capturePayment');
    expect(ran.out.split('\n')).toEqual([
      `Retrying the failed compensations of capturePayment of 1 saga matching ${SENT}, at most 5 per second`,
      'accepted     order-b-1  orderSaga',
      '1 saga: 1 accepted, 0 refused.',
      '',
    ]);
    const none = await cli(stuckOrders(0), 'retry-compensation', '--query', ORDERS);
    expect(none.out.split('\n')).toEqual([`Retrying the failed compensations of 0 sagas matching ${SENT}, at most 5 per second`, '0 sagas: 0 accepted, 0 refused.', '']);
  });

  it('stops at an error that is not an answer of the saga, and asks no saga after it', async () => {
    const server = stuckOrders(3, (i) =>
      i === 2
        ? {
            operator: {
              retryCompensation: () => {
                throw new Error('connection reset');
              },
            },
          }
        : {},
    );
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--rate', '100');
    expect(ran.code).toBe(1);
    expect(ran.err).toBe('saga-client: Unexpected error: connection reset\n');
    expect(server.callsOf('retryCompensation').map((c) => c.workflowId)).toEqual(['order-b-1', 'order-b-2']);
  });

  it('asks at most 5 sagas per second by default, and --rate sagas per second when given', async () => {
    // The i-th request (from 0) is due i intervals after the loop began, which is after the list
    // request; 2 ms of slack for the timers' rounding. A loaded machine only makes them later.
    const since = (server: FakeTemporal) => server.retriedAt.map((t) => t - server.listedAt);
    const byDefault = stuckOrders(3);
    expect((await cli(byDefault, 'retry-compensation', '--query', ORDERS)).out).toContain('at most 5 per second');
    const [, b = 0, c = 0] = since(byDefault);
    expect(b).toBeGreaterThanOrEqual(198);
    expect(c).toBeGreaterThanOrEqual(398);

    const faster = stuckOrders(3);
    expect((await cli(faster, 'retry-compensation', '--query', ORDERS, '--rate', '20')).out).toContain('at most 20 per second');
    const [, e = 0, f = 0] = since(faster);
    expect(e).toBeGreaterThanOrEqual(48);
    expect(f).toBeGreaterThanOrEqual(98);
  });

  it('takes a rate up to 100 per second, fractions included, and refuses anything else before anything reaches the server', async () => {
    const max = stuckOrders(2);
    expect((await cli(max, 'retry-compensation', '--query', ORDERS, '--rate', '100')).code).toBe(0);
    expect((max.retriedAt[1] ?? 0) - max.listedAt).toBeGreaterThanOrEqual(8);
    expect((await cli(stuckOrders(1), 'retry-compensation', '--query', ORDERS, '--rate', '0.5')).out).toContain('at most 0.5 per second');
    for (const rate of ['0', '-1', '100.5', '101', 'abc', '', ' ', 'Infinity']) {
      const server = stuckOrders(1);
      expect(await cli(server, 'retry-compensation', '--query', ORDERS, `--rate=${rate}`)).toEqual({
        code: 2,
        out: '',
        err: `saga-client: --rate must be a number of requests per second above 0 and at most 100 (got "${rate}") (see \`client retry-compensation --help\`)\n`,
      });
      expect(server.calls).toEqual([]);
    }
  });

  it('stops when the user interrupts it, and says how many sagas were left unasked', async () => {
    const server = stuckOrders(3, (i) => (i === 1 ? { operator: { retryCompensation: () => (server.abort.abort(), undefined) } } : {}));
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--limit', '3');
    expect(ran.code).toBe(0);
    expect(ran.out.split('\n').slice(1)).toEqual(['accepted     order-b-1  orderSaga', '3 sagas: 1 accepted, 0 refused. Stopped before the 2 left.', '']);
    expect(server.callsOf('retryCompensation')).toHaveLength(1);

    const json = stuckOrders(4, (i) => (i === 1 ? { operator: { retryCompensation: refusal('order-b-1', 'not waiting') } } : i === 2 ? { operator: { retryCompensation: () => (json.abort.abort(), undefined) } } : {}));
    const doc = await cli(json, 'retry-compensation', '--query', ORDERS, '--limit', '3', '--json');
    expect(doc.code).toBe(1);
    expect(JSON.parse(doc.out).summary).toEqual({ matched: 3, accepted: 1, refused: 1, more: true, stopped: true });
    const text = stuckOrders(4, (i) => (i === 1 ? { operator: { retryCompensation: refusal('order-b-1', 'not waiting') } } : i === 2 ? { operator: { retryCompensation: () => (text.abort.abort(), undefined) } } : {}));
    expect((await cli(text, 'retry-compensation', '--query', ORDERS, '--limit', '3')).out.split('\n').at(-2)).toBe(
      '3 sagas: 1 accepted, 1 refused. Stopped before the 1 left. More sagas match: only the first 3 were taken (--limit).',
    );
  });
});

describe('retry-compensation --query, interrupted', () => {
  it('sends nothing when the user interrupted it before the first request', async () => {
    const server = stuckOrders(3);
    server.abort.abort();
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS);
    expect(ran).toEqual({ code: 0, err: '', out: `Retrying the failed compensations of 3 sagas matching ${SENT}, at most 5 per second\n3 sagas: 0 accepted, 0 refused. Stopped before the 3 left.\n` });
    expect(server.callsOf('retryCompensation')).toEqual([]);
  });

  it('stops in the middle of the wait between two requests', async () => {
    const server = stuckOrders(2, (i) => (i === 1 ? { operator: { retryCompensation: () => void setTimeout(() => server.abort.abort(), 100) } } : {}));
    // The second request is due 2 s after the first; the interrupt comes 100 ms into that wait.
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--rate', '0.5');
    expect(ran.out.split('\n').slice(1)).toEqual(['accepted     order-b-1  orderSaga', '2 sagas: 1 accepted, 0 refused. Stopped before the 1 left.', '']);
    expect(server.callsOf('retryCompensation')).toHaveLength(1);
  });

  it('runs to the end in a client that has no abort signal', async () => {
    const server = stuckOrders(2);
    const ran = await runCommand(server, ['retry-compensation', '--query', ORDERS, '--rate', '100'], { withSignal: false });
    expect(ran.out.split('\n').at(-2)).toBe('2 sagas: 2 accepted, 0 refused.');
  });
});

describe('retry-compensation --query --limit', () => {
  it('takes the first --limit sagas, reads one more to tell that more match, and says so', async () => {
    const server = stuckOrders(5);
    const ran = await cli(server, 'retry-compensation', '--query', ORDERS, '--limit', '2', '--dry-run');
    expect(ran.out.split('\n').slice(1)).toEqual([
      'would retry  order-b-1  orderSaga  failed: capturePayment',
      'would retry  order-b-2  orderSaga  failed: capturePayment',
      'Dry run: 2 sagas would be asked to retry; nothing was sent. More sagas match: only the first 2 were taken (--limit).',
      '',
    ]);
    expect(server.callsOf('list')).toEqual([{ query: SENT, pageSize: 3 }]);
    expect(server.listRead).toBe(3);
    const json = await cli(stuckOrders(5), 'retry-compensation', '--query', ORDERS, '--limit', '2', '--dry-run', '--json');
    expect(JSON.parse(json.out).summary).toEqual({ matched: 2, more: true });
  });

  it('says nothing of more sagas when exactly --limit match', async () => {
    const ran = await cli(stuckOrders(2), 'retry-compensation', '--query', ORDERS, '--limit', '2', '--rate', '100');
    expect(ran.out.split('\n').at(-2)).toBe('2 sagas: 2 accepted, 0 refused.');
  });

  it('takes 100 sagas by default: all of 100, the first 100 of 101', async () => {
    const hundred = await cli(stuckOrders(100), 'retry-compensation', '--query', ORDERS, '--dry-run', '--json');
    expect(JSON.parse(hundred.out).summary).toEqual({ matched: 100, more: false });
    const server = stuckOrders(130);
    const more = await cli(server, 'retry-compensation', '--query', ORDERS, '--dry-run');
    expect(more.out.split('\n').at(-2)).toBe('Dry run: 100 sagas would be asked to retry; nothing was sent. More sagas match: only the first 100 were taken (--limit).');
    expect(server.listRead).toBe(101);
    expect(server.callsOf('list')).toEqual([{ query: SENT, pageSize: 100 }]);
  });

  it('asks the server for pages of at most 100', async () => {
    const server = stuckOrders(1);
    await cli(server, 'retry-compensation', '--query', ORDERS, '--limit', '500', '--dry-run');
    const exact = stuckOrders(1);
    await cli(exact, 'retry-compensation', '--query', ORDERS, '--limit', '99', '--dry-run');
    expect([...server.callsOf('list'), ...exact.callsOf('list')].map((c) => c.pageSize)).toEqual([100, 100]);
  });

  it('refuses a --limit that is not a positive integer, before anything reaches the server', async () => {
    for (const limit of ['0', '-3', '1.5', 'ten']) {
      const server = stuckOrders(1);
      expect(await cli(server, 'retry-compensation', '--query', ORDERS, `--limit=${limit}`)).toEqual({
        code: 2,
        out: '',
        err: `saga-client: --limit must be a positive integer (got "${limit}") (see \`client retry-compensation --help\`)\n`,
      });
      expect(server.calls).toEqual([]);
    }
  });
});

/** An error as the SDK reports a request the server refused with a gRPC status. */
function grpcRefusal(code: number, details: string, message = `${code} ${details}`): ServiceError {
  return new ServiceError('Failed to list workflows', { cause: Object.assign(new Error(message), { code, details, metadata: {} }) });
}

describe('retry-compensation --query: the query', () => {
  it('refuses an empty query and one that is not one expression, before anything reaches the server', async () => {
    const server = stuckOrders(1);
    for (const query of ['', '   ']) {
      expect(await cli(server, 'retry-compensation', '--query', query)).toEqual({
        code: 2,
        out: '',
        err: `saga-client: --query is empty: give a filter, e.g. --query "WorkflowType = 'orderSaga'" (see \`client retry-compensation --help\`)\n`,
      });
    }
    expect(await cli(server, 'retry-compensation', '--query', `${ORDERS}) OR (${ORDERS}`)).toEqual({
      code: 2,
      out: '',
      err: 'saga-client: --query must be one filter expression: it closes a parenthesis it did not open (at character 27) (see `client retry-compensation --help`)\n',
    });
    expect(server.calls).toEqual([]);
  });

  it('reports a query the server cannot parse as a usage error, in terms of what the user typed, without its quoted values', async () => {
    const server = stuckOrders(1);
    server.listError = grpcRefusal(3, "invalid query: syntax error at position 62 near '= =' with value 'secret-order'");
    const query = "Status = = 'secret-order'";
    const ran = await cli(server, 'retry-compensation', '--query', query, '--dry-run');
    expect(ran).toEqual({
      code: 2,
      out: '',
      err: 'saga-client: --query is not a valid visibility query: invalid query: syntax error near … (at character 8 of --query) with value … (see `client retry-compensation --help`)\n',
    });
    const noDetails = stuckOrders(1);
    noDetails.listError = grpcRefusal(3, '', 'INVALID_ARGUMENT: "WorkflowTyp" is not a search attribute');
    expect((await cli(noDetails, 'retry-compensation', '--query', 'WorkflowTyp = 1')).err).toBe(
      'saga-client: --query is not a valid visibility query: INVALID_ARGUMENT: … is not a search attribute (see `client retry-compensation --help`)\n',
    );
  });

  it('reports any other refusal of the list as the server refusing the request (exit code 1)', async () => {
    const server = stuckOrders(1);
    server.listError = grpcRefusal(7, 'namespace access denied');
    expect(await cli(server, 'retry-compensation', '--query', ORDERS)).toEqual({ code: 1, out: '', err: 'saga-client: The Temporal server refused the request: namespace access denied\n' });
    const plain = stuckOrders(1);
    plain.listError = new Error('socket hang up');
    expect(await cli(plain, 'retry-compensation', '--query', ORDERS)).toEqual({ code: 1, out: '', err: 'saga-client: Unexpected error: socket hang up\n' });
  });

  it("reads only the server's own refusal as a bad query, not an error of the client that carries one as its cause", async () => {
    const server = stuckOrders(1);
    const refusal = grpcRefusal(3, 'invalid query').cause as Error;
    server.listError = new Error('the tracing interceptor failed', { cause: refusal });
    expect(await cli(server, 'retry-compensation', '--query', ORDERS)).toEqual({ code: 1, out: '', err: 'saga-client: Unexpected error: 3 invalid query\n' });
  });
});
