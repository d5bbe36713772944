// The idempotency barrier: a forward step and its compensation, each applied at most once per key,
// in whatever order and however often they are delivered. Driver-free; adapters are in
// `@saga-temporal/barrier/sqlite` and `@saga-temporal/barrier/postgres`.

export { BarrierOutcomes, cancelStep, compensationStep, confirmStep, countAttempt, forwardStep } from './barrier';
export { attemptsTable, barrierDecisionsTable, barriersTable, barrierSchema } from './schema';
export {
  BarrierFailureType,
  BarrierOutcomeKind,
  BarrierPhase,
  type BarrierDatabase,
  type BarrierDatabaseOptions,
  type BarrierOutcome,
  type BarrierSql,
  type BarrierValue,
} from './types';
