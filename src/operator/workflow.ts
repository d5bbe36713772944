import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { sagaActivities, type SagaState } from '@saga-temporal/saga';
import { mailOptions } from '../shared/policies';

const { sendOperatorAlert } = sagaActivities<Activities>({ ...mailOptions, summary: 'Alert operators: compensation failed' });

/**
 * The hook a saga calls when a compensation has exhausted its retries: mails the operators what failed
 * and the two commands that resolve it, since the saga now waits for one of them.
 */
export function alertOperator(sagaName: string): (state: SagaState) => Promise<void> {
  return async (state) => {
    const { workflowId } = workflowInfo();
    const failed = state.compensationFailures.map((f) => `- ${f.step}: ${f.message}`).join('\n');
    await sendOperatorAlert({
      workflowId,
      subject: `Saga ${workflowId} needs an operator: compensation failed`,
      body: [
        `The ${sagaName} saga ${workflowId} failed (${state.failure?.message ?? 'unknown failure'}) and could not undo every step:`,
        failed,
        '',
        `Fix the cause, then run:  npm run client -- retry-compensation ${workflowId}  (add --step <name> to retry only some steps)`,
        `a step undone by hand:  npm run client -- skip-compensation ${workflowId} --step <name> --reason "<what was done>"`,
        `or, if it was all repaired by hand:  npm run client -- mark-compensated ${workflowId} --reason "<what was done>"`,
      ].join('\n'),
    });
  };
}
