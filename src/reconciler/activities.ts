// The reconciler's activities: read what a closed saga left (its history through the Temporal client,
// its barrier rows in the services' database), run one compensation under the saga's own key, and find
// the sagas that closed without settling. They run in the saga worker, next to the services.

import { ApplicationFailure } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sagaIdOf } from '@saga-temporal/saga/core';
import type { Db, InventoryService, MailService, PaymentsService, ShippingService, UsersService } from '../services';
import { SagaStatusKey } from '../shared/search-attributes';
import { FailureType } from '../shared/failures';
import { closedUnsettledQuery, reconcileWorkflowId, type ChildRef, type ClosedSaga, type EffectRow, type KeptEffects, type SagaIds } from './contract';
import { forwardMails } from './forward';
import { laterRunOfSaga } from './later-run';
import { stepOfKey } from './plans';
import { orderCompensations, reconciledOrderOutcome } from './order-outcome';
import { OUTCOME_STEP, recordOrderOutcome } from '../services/order-events';

/** What the reconciler's activities need. */
export interface ReconcilerDeps {
  /** A client of the saga's namespace, with the worker's data converter (it decodes the saga's history). */
  client: Client;
  db: Db;
  inventory: InventoryService;
  payments: PaymentsService;
  shipping: ShippingService;
  users: UsersService;
  /** Sends the mails finished forward after a pivot. */
  mail: MailService;
}

/** A closed saga as {@link ClosedSaga}, with the ids in the first input of each activity type it scheduled. */
export interface InspectedSaga extends ClosedSaga {
  /** By activity type: the ids in the input of its first scheduled call (the compensations take them). */
  stepIds: Record<string, SagaIds>;
  /** Activity types with at least one completed call in the run (a step after the pivot that completed is not run again). */
  completed: string[];
}

/** Input of `finishForward`: one step after the pivot of a saga run, named by its activity; only ids. */
export interface FinishForwardInput {
  workflowId: string;
  runId: string;
  /** The activity the saga runs the step with (`sendOrderConfirmation`). */
  activity: string;
  /** The ids the saga's steps used. */
  ids: SagaIds;
}

/** Input of `undoStep`: one compensation, under the key of the step it undoes. */
export interface UndoStepInput {
  compensation: string;
  key: string;
  /** The order or user the step acted on. */
  orderId?: string;
  userId?: string;
}

const DECISION_SIGNAL = 'sagaParentDecision';

function idsOf(value: unknown): SagaIds {
  if (typeof value !== 'object' || value === null) return {};
  const { orderId, userId } = value as Record<string, unknown>;
  return { ...(typeof orderId === 'string' ? { orderId } : {}), ...(typeof userId === 'string' ? { userId } : {}) };
}

function isKeptEffects(value: unknown): value is KeptEffects {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.keepEffects === true && typeof v.by === 'string' && typeof v.reason === 'string';
}

// LIKE's wildcards in a workflow id (an order id may hold `_`) must match themselves.
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[!%_]/g, (ch) => `!${ch}`)}%`;
}

/** The reconciler's activities, bound to a client and the services. */
export function createReconcilerActivities({ client, db, inventory, payments, shipping, users, mail }: ReconcilerDeps) {
  const converter = client.options.loadedDataConverter;
  // A reconciliation that completed, or is running, is not started again; one that failed or was ended may be.
  const reconciled = async (workflowId: string, runId: string): Promise<boolean> => {
    try {
      const { status } = await client.workflow.getHandle(reconcileWorkflowId(workflowId, runId)).describe();
      return status.name === 'RUNNING' || status.name === 'COMPLETED';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  };
  const decodeFirst = async (payloads: Parameters<typeof decodeArrayFromPayloads>[1]): Promise<unknown> => (await decodeArrayFromPayloads(converter, payloads))[0];
  const effectsUnder = async (prefix: string): Promise<EffectRow[]> => {
    const rows = await db.all<{ service: string; idem_key: string; op: 'try' | 'cancel'; written_by: 'try' | 'cancel' }>(
      "SELECT service, idem_key, op, written_by FROM barriers WHERE idem_key LIKE ? ESCAPE '!' ORDER BY created_at",
      [likePrefix(prefix)],
    );
    return rows.flatMap((row) => {
      const step = stepOfKey(prefix, row.idem_key);
      return step === undefined ? [] : [{ service: row.service, step, op: row.op, writtenBy: row.written_by }];
    });
  };
  // After an order's compensation: once nothing of the order stands, its outcome goes to the outbox
  // under the saga's outcome key (`<workflowId>/<sagaId>/recordOrderOutcome`), where the saga would
  // have written it, so it is written once whoever gets there. The saga's input (its first run, the
  // saga id) gives the total; the step's key gives the workflow id and the saga id.
  const recordIfUndone = async (stepKey: string): Promise<void> => {
    const prefix = stepKey.slice(0, stepKey.lastIndexOf('/') + 1);
    const sagaId = prefix.slice(0, -1).split('/').pop() ?? '';
    const workflowId = prefix.slice(0, prefix.length - sagaId.length - 2);
    if (!workflowId || !sagaId) return;
    const rows = await effectsUnder(prefix);
    if (rows.some((r) => r.service === 'order-events')) return;
    const history = await client.workflow.getHandle(workflowId, sagaId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.input?.payloads?.length) return;
    const outcome = reconciledOrderOutcome(rows, await decodeFirst(started.input.payloads));
    if (!outcome) return;
    const startTime = history.events?.[0]?.eventTime;
    const startedAt = startTime?.seconds != null ? new Date(Number(startTime.seconds) * 1000 + Math.floor((startTime.nanos ?? 0) / 1e6)).toISOString() : undefined;
    await recordOrderOutcome(db, `${prefix}${OUTCOME_STEP}`, { ...outcome, ...(startedAt ? { startedAt } : {}) });
  };

  return {
    /** Reads a saga run: its status, last `SagaStatus`, saga id, a later run of the same saga, the ids in its input, children, steps scheduled, and an operator's keep-effects record. */
    async inspectSaga(input: { workflowId: string; runId: string }): Promise<InspectedSaga> {
      const handle = client.workflow.getHandle(input.workflowId, input.runId);
      const described = await handle.describe();
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      const saga: InspectedSaga = {
        workflowId: input.workflowId,
        runId: described.runId,
        sagaId: sagaIdOf({ originalExecutionRunId: started?.originalExecutionRunId ?? '', runId: described.runId }),
        workflowType: described.type,
        workflowStatus: described.status.name,
        ids: {},
        children: [],
        stepIds: {},
        completed: [],
      };
      const status = described.typedSearchAttributes.get(SagaStatusKey);
      if (status !== undefined) saga.sagaStatus = status;
      const later = await laterRunOfSaga(client, described, saga.sagaId);
      if (later !== undefined) saga.supersededBy = later;
      if (started?.input?.payloads?.length) saga.ids = idsOf(await decodeFirst(started.input.payloads));
      const typeOfScheduled = new Map<string, string>();
      for (const event of events) {
        const scheduled = event.activityTaskScheduledEventAttributes;
        const type = scheduled?.activityType?.name;
        if (type) typeOfScheduled.set(String(event.eventId), type);
        if (type && !(type in saga.stepIds)) saga.stepIds[type] = idsOf(await decodeFirst(scheduled.input?.payloads ?? []));
        const completedType = typeOfScheduled.get(String(event.activityTaskCompletedEventAttributes?.scheduledEventId ?? ''));
        if (completedType && !saga.completed.includes(completedType)) saga.completed.push(completedType);
        const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
        if (child?.workflowId && child.runId) saga.children.push({ workflowId: child.workflowId, runId: child.runId });
        const signal = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
        if (signal?.signalName === DECISION_SIGNAL) {
          const decision = await decodeFirst(signal.input?.payloads ?? []);
          if (decision === 'commit' || decision === 'compensate') saga.childDecision = saga.childDecision === 'commit' ? 'commit' : decision;
        }
        const terminated = event.workflowExecutionTerminatedEventAttributes;
        if (terminated?.details?.payloads?.length) {
          const details = await decodeFirst(terminated.details.payloads);
          if (isKeptEffects(details)) saga.kept = { keepEffects: true, by: details.by, reason: details.reason };
        }
      }
      return saga;
    },

    /** A child saga's workflow status and last `SagaStatus`. */
    async describeSaga(input: ChildRef): Promise<{ workflowStatus: string; sagaStatus?: string }> {
      const described = await client.workflow.getHandle(input.workflowId, input.runId).describe();
      const sagaStatus = described.typedSearchAttributes.get(SagaStatusKey);
      return { workflowStatus: described.status.name, ...(sagaStatus === undefined ? {} : { sagaStatus }) };
    },

    /** The barrier's rows under the saga's keys (`<workflowId>/<sagaId>/…`), in every service. */
    async readEffects(input: { workflowId: string; sagaId: string }): Promise<EffectRow[]> {
      return effectsUnder(`${input.workflowId}/${input.sagaId}/`);
    },

    /**
     * Runs one compensation under the key of the step it undoes: a repeat, or one whose step never ran,
     * changes nothing. After an order's last compensation, writes the order's `compensated` outcome to
     * the outbox of order events.
     */
    async undoStep(input: UndoStepInput): Promise<unknown> {
      const { compensation, key, orderId, userId } = input;
      const needs = (id: string | undefined, name: string): string => {
        if (!id) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `${compensation} needs ${name}`, nonRetryable: true });
        return id;
      };
      const undone = await (async () => {
        switch (compensation) {
          case 'releaseStock':
            return inventory.release({ key, orderId: needs(orderId, 'orderId') });
          case 'voidPayment':
            return payments.void({ key, orderId: needs(orderId, 'orderId') });
          case 'refundPayment':
            return payments.refund({ key, orderId: needs(orderId, 'orderId') });
          case 'cancelShipment':
            return shipping.cancel({ key, orderId: needs(orderId, 'orderId') });
          case 'deleteUser':
            return users.delete({ key, userId: needs(userId, 'userId') });
          default:
            throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `No compensation named ${compensation}`, nonRetryable: true });
        }
      })();
      // A retry of this activity after the row was written finds the barrier's row and writes nothing.
      if (orderCompensations.has(compensation)) await recordIfUndone(key);
      return undone;
    },

    /**
     * Runs one step after the pivot of a saga run, as the saga would have: reads the saga's input from
     * its history (decoded here, with the worker's data converter) and sends the step's mail under the
     * saga's own key, so a mail already sent is not sent again. Only the message id, or a failure
     * without its details, leaves the activity.
     */
    async finishForward(input: FinishForwardInput): Promise<{ messageId: string }> {
      const build = forwardMails[input.activity];
      if (!build) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `No step after a pivot runs ${input.activity}`, nonRetryable: true });
      const history = await client.workflow.getHandle(input.workflowId, input.runId).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      if (!started?.input?.payloads?.length) {
        throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `${input.workflowId} (${input.runId}) has no saga input to finish forward from`, nonRetryable: true });
      }
      const sagaId = sagaIdOf({ originalExecutionRunId: started.originalExecutionRunId ?? '', runId: input.runId });
      const message = build(await decodeFirst(started.input.payloads), `${input.workflowId}/${sagaId}/`, input.ids);
      try {
        return await mail.send(message);
      } catch (err) {
        // A bounce carries the address in its details; the failure recorded in the reconciler's history keeps only its type and message.
        if (err instanceof ApplicationFailure) throw ApplicationFailure.create({ message: err.message, nonRetryable: err.nonRetryable === true, ...(err.type ? { type: err.type } : {}) });
        throw err;
      }
    },

    /**
     * Sagas of `taskQueue` that closed (terminated, timed out, failed, cancelled) while their `SagaStatus`
     * said they were not done (see `closedUnsettled`), newest first, at most `limit`, leaving out those a reconciliation has
     * already run for or is running for (`skipped`). `query` narrows them (one balanced expression).
     */
    async findUnsettledSagas(input: { taskQueue: string; query?: string; limit: number }): Promise<{ found: ChildRef[]; skipped: number }> {
      let query = closedUnsettledQuery(SagaStatusKey.name, input.taskQueue);
      if (input.query) query = `(${input.query}) AND ${query}`;
      const found: ChildRef[] = [];
      let skipped = 0;
      for await (const info of client.workflow.list({ query })) {
        if (await reconciled(info.workflowId, info.runId)) {
          skipped += 1;
          continue;
        }
        found.push({ workflowId: info.workflowId, runId: info.runId });
        if (found.length >= input.limit) break;
      }
      return { found, skipped };
    },
  };
}

/** The reconciler's activities' types, for `proxyActivities` in its workflows. */
export type ReconcilerActivities = ReturnType<typeof createReconcilerActivities>;
