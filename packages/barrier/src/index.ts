// The idempotency barrier: a forward step and its compensation, each applied at most once per key,
// in whatever order and however often they are delivered. Driver-free; adapters are in
// `@saga-temporal/barrier/sqlite` and `@saga-temporal/barrier/postgres`.

export { cancelStep, compensationStep, confirmStep, countAttempt, forwardStep } from './barrier';
export { attemptsTable, barrierDecisionsTable, barriersTable, barrierSchema } from './schema';
export { BarrierFailureType, type BarrierDatabase, type BarrierSql, type BarrierValue } from './types';
