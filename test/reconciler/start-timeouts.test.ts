import { describe, expect, it, vi } from 'vitest';
import type { Client } from '@temporalio/client';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { retryBudgetMs, WorkflowTimeoutTooShortError } from '../../src/shared/deadlines';
import { compensationRetry } from '../../src/shared/policies';
import { sampleOrder, sampleRegistration } from '../support/samples';

// A workflow timeout shorter than a saga's own deadlines could end it before it unwound itself: the
// starters refuse one before anything reaches the server. A unit test of the starters, on a client
// that records what it was asked to start.

function recordingClient() {
  const start = vi.fn(async (_type: string, _options: object) => ({}));
  return { client: { workflow: { start } } as unknown as Client, start };
}

describe('a compensation retry budget', () => {
  it('is 87,975 s: 35 backoff waits (1 s doubling to the 1 h cap) and 36 attempts of 30 s', () => {
    expect(retryBudgetMs(compensationRetry, '30 seconds')).toBe(87_975_000);
  });
});

describe.each(['workflowExecutionTimeout', 'workflowRunTimeout'] as const)('starting an order with %s', (option) => {
  it('refuses 352,799,999 ms (one under 98 hours) before contacting the server', async () => {
    const { client, start } = recordingClient();
    const refused = await startOrder(client, sampleOrder(), { [option]: 352_799_999 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowTimeoutTooShortError);
    expect(refused).toMatchObject({ option, givenMs: 352_799_999, minimumMs: 352_800_000 });
    expect(start).not.toHaveBeenCalled();
  });

  it('accepts 98 hours, and passes it on', async () => {
    const { client, start } = recordingClient();
    await startOrder(client, sampleOrder(), { [option]: '98 hours' });
    expect(start).toHaveBeenCalledWith('orderSaga', expect.objectContaining({ [option]: '98 hours' }));
  });
});

describe('starting a registration with a workflow execution timeout', () => {
  it('refuses one under its verification wait (1 h) plus 24 h 40 min, and sends nothing', async () => {
    const { client, start } = recordingClient();
    const refused = await startRegistration(client, sampleRegistration({ verificationTimeout: '1h' }), { workflowExecutionTimeout: 92_399_999 }).catch((err: unknown) => err);
    expect(refused).toMatchObject({ name: 'WorkflowTimeoutTooShortError', minimumMs: 92_400_000 });
    expect(start).not.toHaveBeenCalled();
  });

  it('accepts exactly that, and none at all', async () => {
    const { client, start } = recordingClient();
    await startRegistration(client, sampleRegistration({ verificationTimeout: '1h' }), { workflowExecutionTimeout: 92_400_000 });
    await startRegistration(client, sampleRegistration());
    expect(start).toHaveBeenCalledTimes(2);
    expect(start.mock.calls[1]?.[1]).not.toHaveProperty('workflowExecutionTimeout');
  });
});
