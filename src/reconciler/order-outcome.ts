// The outcome of an order the reconciler undid: once the last of its compensations has run, the order
// is `compensated`, and other systems learn of it through the same outbox row, under the same outcome
// key, as an order that unwound by itself. Built from the saga's barrier rows (what ran, what was
// undone) and its own input (the total), inside the reconciler's activity: no customer data leaves it.

import { orderInputBeforeStrictTextSchema, orderInputSchema, orderTotalCents } from '../order/contract';
import type { NewOrderOutcome } from '../services/order-events';
import { OrderOutcome } from '../shared/order-outcome';
import type { EffectRow } from './contract';
import { reconcilePlans } from './plans';

/** The failure type of an order the reconciler undid: its workflow ended (terminated, timed out) before it could unwind. */
export const ENDED_BEFORE_UNWIND = 'EndedBeforeUnwind';

/** The compensations of the order saga: after one of them, the reconciler checks whether the order is undone. */
export const orderCompensations: ReadonlySet<string> = new Set(reconcilePlans.orderSaga!.steps.flatMap((s) => (s.compensation ? [s.compensation] : [])));

/**
 * The order's outcome once nothing of it stands (every step that ran has its compensation's row), or
 * `undefined` while a step still stands. `undone` lists the steps that ran and were undone, last first.
 */
export function reconciledOrderOutcome(rows: readonly EffectRow[], sagaInput: unknown): NewOrderOutcome | undefined {
  const steps = reconcilePlans.orderSaga!.steps;
  const has = (step: string, service: string, op: 'try' | 'cancel') => rows.some((r) => r.step === step && r.service === service && r.op === op);
  const ran = (step: string, service: string) => rows.some((r) => r.step === step && r.service === service && r.op === 'try' && r.writtenBy === 'try');
  if (steps.some((s) => s.compensation && ran(s.step, s.service) && !has(s.step, s.service, 'cancel'))) return undefined;
  const parsed = orderInputSchema.safeParse(sagaInput);
  const input = parsed.success ? parsed.data : orderInputBeforeStrictTextSchema.parse(sagaInput);
  return {
    orderId: input.orderId,
    outcome: OrderOutcome.compensated,
    failure: { type: ENDED_BEFORE_UNWIND },
    undone: steps
      .filter((s) => ran(s.step, s.service) && has(s.step, s.service, 'cancel'))
      .map((s) => s.step)
      .reverse(),
    totalCents: orderTotalCents(input.items),
    currency: input.currency,
    itemCount: input.items.reduce((n, item) => n + item.quantity, 0),
    decidedBy: 'reconciler',
  };
}
