import type * as SagaClientModule from '@saga-temporal/saga/client';
import type { SagaReading } from '@saga-temporal/saga/client';
import type { FakeTemporal } from './fake-temporal';

// The operator helper as the client's commands use it, answering from the sagas of the stand-in server
// (test/support/fake-temporal.ts) and recording each call there. Its errors are the helper's own, so
// the commands tell them apart as they do in production. A test file installs it with
//
//   vi.mock('@saga-temporal/saga/client', async (actual) => (await import('../support/fake-saga-client.js')).withFakeSagaClient(await actual()));
//
// Only types are imported here: the module it replaces is being loaded when this one is.

type Module = typeof SagaClientModule;

/** The operator helper's module with `SagaClient` replaced by one that talks to the stand-in server. */
export function withFakeSagaClient(actual: Module): Module {
  const { SagaNotFoundError } = actual;

  class FakeSagaClient {
    private readonly server: FakeTemporal;

    constructor(readonly client: unknown) {
      this.server = (client as { server: FakeTemporal }).server;
    }

    private saga(workflowId: string, runId: string | undefined) {
      const saga = this.server.find(workflowId, runId);
      if (!saga) throw new SagaNotFoundError(workflowId, runId);
      return saga;
    }

    async state(workflowId: string, runId?: string): Promise<SagaReading> {
      this.server.calls.push({ call: 'state', workflowId, ...(runId ? { runId } : {}) });
      const saga = this.saga(workflowId, runId);
      if (saga.state) return { source: 'query', workflowId, status: saga.state.status, state: saga.state };
      return { source: 'search-attribute', workflowId, status: 'COMPENSATION_FAILED', workflowStatus: saga.status ?? 'RUNNING' };
    }

    async retryCompensation(workflowId: string, options: { runId?: string; wait?: boolean; steps?: readonly string[] } = {}) {
      this.server.calls.push({ call: 'retryCompensation', workflowId, options });
      this.server.retriedAt.push(Date.now());
      const answer = this.saga(workflowId, options.runId).operator?.retryCompensation?.(options);
      return options.wait === false ? undefined : answer;
    }

    async skipCompensation(workflowId: string, step: string, reason: string, options: { runId?: string } = {}) {
      this.server.calls.push({ call: 'skipCompensation', workflowId, step, reason, options });
      const answer = this.saga(workflowId, options.runId).operator?.skipCompensation;
      if (!answer) throw new Error(`the fake saga ${workflowId} has no answer to skipCompensation`);
      return answer({ step, reason });
    }

    async markCompensated(workflowId: string, reason: string, options: { runId?: string } = {}) {
      this.server.calls.push({ call: 'markCompensated', workflowId, reason, options });
      const answer = this.saga(workflowId, options.runId).operator?.markCompensated;
      if (!answer) throw new Error(`the fake saga ${workflowId} has no answer to markCompensated`);
      return answer({ reason });
    }
  }

  return { ...actual, SagaClient: FakeSagaClient as unknown as Module['SagaClient'] };
}
