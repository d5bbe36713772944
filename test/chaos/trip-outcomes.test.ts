import { describe, expect, it } from 'vitest';
import type { SagaState } from '@saga-temporal/saga';
import { childDeadlinePassed, planTrips, type TripOutcome } from '../../scripts/lib/chaos/trips';
import type { ClosedSaga } from '../../scripts/lib/chaos/workload';

// How the chaos audit tells a trip that unwound because a leg's own deadline passed (it then reports
// ChildClosedBeforeCommit, whatever its plan) from one that unwound for its plan's reason.

const [plan] = planTrips({ trips: 1, seed: 7, mix: [['ok', 1]] });

function leg(failure?: SagaState['failure']): ClosedSaga {
  const state = { status: failure ? 'COMPENSATED' : 'COMPLETED', ...(failure ? { failure } : {}) } as SagaState;
  return { workflowId: 'trip/leg', workflowStatus: failure ? 'FAILED' : 'COMPLETED', searchAttribute: state.status, state };
}

function trip(children: TripOutcome['children']): TripOutcome {
  return { workflowId: 'trip', workflowStatus: 'FAILED', searchAttribute: 'COMPENSATED', state: undefined, plan: plan!, children };
}

describe('childDeadlinePassed', () => {
  it('is true when a leg compensated because no decision came from the trip within its deadline', () => {
    const deadline = { type: 'CompensatedByParent', message: 'No decision came from the parent saga within 10 minutes: compensating, as declared' };
    expect(childDeadlinePassed(trip({ flight: leg(deadline), hotel: leg({ type: 'CompensatedByParent', message: 'The parent saga asked this saga to compensate' }) }))).toBe(true);
  });

  it('is false when the trip asked its legs to compensate, or a leg failed on its own', () => {
    const asked = { type: 'CompensatedByParent', message: 'The parent saga asked this saga to compensate' };
    expect(childDeadlinePassed(trip({ flight: leg(asked), hotel: leg({ type: 'OutOfStock', message: 'hotel-full has 0 rooms left' }) }))).toBe(false);
    expect(childDeadlinePassed(trip({ flight: leg(), hotel: leg() }))).toBe(false);
    expect(childDeadlinePassed(trip({}))).toBe(false);
  });
});
