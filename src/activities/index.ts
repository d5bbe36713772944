import { createOperatorActivities } from '../operator/activities';
import { createOrderActivities } from '../order/activities';
import { createRegistrationActivities } from '../registration/activities';
import type { Services } from '../services';
import { withHeartbeats } from './heartbeat';
import { bindSagaIds } from './keys';

export { idempotencyKey, perCallKey } from './keys';

/** What the activities need: the services, and where operator alerts go. */
export type ActivityDeps = Pick<Services, 'inventory' | 'payments' | 'shipping' | 'users' | 'mail' | 'orderEvents' | 'operatorEmail'>;

/**
 * Every saga's activities, as the worker registers them. Every activity heartbeats while it runs, so a
 * dead worker's step is retried within the heartbeat timeout, and sees the saga id its workflow put in
 * its input, so its idempotency key names the saga, not the run.
 */
export function createActivities(deps: ActivityDeps) {
  return withHeartbeats(
    bindSagaIds({
      ...createOrderActivities(deps),
      ...createRegistrationActivities(deps),
      ...createOperatorActivities(deps),
    }),
  );
}

/** The activities' types, for `proxyActivities<Activities>()` in workflow code. */
export type Activities = ReturnType<typeof createActivities>;
