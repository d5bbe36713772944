import { perCallKey } from '../activities/keys';
import type { MailService } from '../services';
import { operatorAlertMail } from '../services/mail-templates';
import { parseOrFail } from '../shared/validation';
import { operatorAlertInput } from './contract';

/** What the operator alert needs: the mail service and where alerts go. */
export interface OperatorServices {
  mail: MailService;
  /** Where operator alerts are mailed. */
  operatorEmail: string;
}

/** The activity a saga calls when a compensation has exhausted its retries. */
export function createOperatorActivities(deps: OperatorServices) {
  return {
    /** Mails the configured operator address. One message per scheduled alert. */
    async sendOperatorAlert(input: { workflowId: string; subject: string; body: string }): Promise<{ messageId: string }> {
      const v = parseOrFail(operatorAlertInput, 'sendOperatorAlert input', input);
      return deps.mail.send({ key: perCallKey('mail/operator-alert'), kind: 'operator-alert', to: deps.operatorEmail, ...operatorAlertMail(v) });
    },
  };
}
