// The carrier process's settings, read once at its entry point: the broker, the services' database (the
// same as the worker's, where the barrier keeps each command's result), the log level, and the faults a
// test may inject.
import { loadBrokerConfig, type BrokerConfig } from '../broker/config';
import { ConfigError, configProblems, readDatabaseUrl, readFaults } from '../config';
import { metricsAddress } from '../telemetry';
import { FAULTS_OPT_IN, type FaultConfig } from '../services/faults';

type Env = Record<string, string | undefined>;

/** The carrier's log levels, as `LOG_LEVEL` names them. */
export const carrierLogLevels = ['debug', 'info', 'warn', 'error'] as const;
export type CarrierLogLevel = (typeof carrierLogLevels)[number];

/** Everything the carrier process reads from its environment. */
export interface CarrierConfig {
  /** The broker (env `SAGA_NATS_URL`, `SAGA_NATS_REPLICAS`). */
  broker: BrokerConfig;
  /** The services' database, the worker's. @default "sqlite:.data/saga.db" (env `DATABASE_URL`) */
  databaseUrl: string;
  /** @default "info" (env `LOG_LEVEL`) */
  logLevel: CarrierLogLevel;
  /** Shipping faults (testing only), as the worker reads them (env `SAGA_FAULTS`, with `SAGA_FAULTS_ENABLED=true`). @default none */
  faults: FaultConfig | undefined;
  /**
   * Testing only: a file whose presence makes the carrier remove it and SIGKILL itself after it applied
   * a command and before it replied and acknowledged (env `SAGA_CARRIER_CRASH_AFTER_APPLY`, with
   * `SAGA_FAULTS_ENABLED=true`). @default none
   */
  crashAfterApplyFile: string | undefined;
  /** Where the carrier serves Prometheus metrics, `host:port`, as the worker (env `SAGA_METRICS_ADDRESS`). @default none */
  metricsAddress: string | undefined;
}

/** Reads the carrier's configuration; throws {@link ConfigError} listing every problem, before anything connects. */
export function loadCarrierConfig(env: Env = process.env): CarrierConfig {
  const { problems, read } = configProblems();
  const broker = read(() => loadBrokerConfig(env));
  const metrics = read(() => metricsAddress(env));
  const databaseUrl = readDatabaseUrl(env, problems);
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!(carrierLogLevels as readonly string[]).includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel} is not one of ${carrierLogLevels.join(', ')}`);
  const faults = readFaults(env, problems);
  const crashAfterApplyFile = env.SAGA_CARRIER_CRASH_AFTER_APPLY || undefined;
  if (crashAfterApplyFile && env[FAULTS_OPT_IN]?.trim().toLowerCase() !== 'true') {
    problems.push(`SAGA_CARRIER_CRASH_AFTER_APPLY is a test fault: it needs ${FAULTS_OPT_IN}=true`);
  }
  if (problems.length || !broker) throw new ConfigError(problems);
  return { broker, databaseUrl, logLevel: logLevel as CarrierLogLevel, faults, crashAfterApplyFile, metricsAddress: metrics };
}
