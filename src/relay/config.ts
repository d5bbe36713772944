// The outbox relay's configuration, read once from its environment by `src/relay/main.ts`.
import { loadBrokerConfig, type BrokerConfig } from '../broker/config';
import { ConfigError, configProblems, readDatabaseUrl } from '../config';
import { FAULTS_OPT_IN } from '../services/faults';

type Env = Record<string, string | undefined>;

/** The relay's log levels, least to most severe. */
export const relayLogLevels = ['debug', 'info', 'warn', 'error'] as const;
export type RelayLogLevel = (typeof relayLogLevels)[number];

/**
 * The one fault tests can inject into the relay: `crash-after-publish` SIGKILLs the process after the
 * broker acknowledged a row and before the row is marked published.
 */
export const RelayFault = { crashAfterPublish: 'crash-after-publish' } as const;
export type RelayFault = (typeof RelayFault)[keyof typeof RelayFault];

/** What `npm run relay` runs with. */
export interface RelayConfig {
  /** The broker (env `SAGA_NATS_URL`, `SAGA_NATS_REPLICAS`). */
  broker: BrokerConfig;
  /** The services' database holding the outbox. @default DEFAULT_DATABASE_URL, "sqlite:.data/saga.db" (env `DATABASE_URL`) */
  databaseUrl: string;
  /** @default "info" (env `LOG_LEVEL`) */
  logLevel: RelayLogLevel;
  /** A fault to inject, for tests only (env `SAGA_RELAY_FAULT`, refused unless `SAGA_FAULTS_ENABLED=true`). @default none */
  fault?: RelayFault;
}

/** Reads the relay's configuration; throws {@link ConfigError} listing every problem. */
export function loadRelayConfig(env: Env = process.env): RelayConfig {
  const { problems, read } = configProblems();
  const broker = read(() => loadBrokerConfig(env));
  const databaseUrl = readDatabaseUrl(env, problems);
  const logLevel = (env.LOG_LEVEL || 'info').toLowerCase();
  if (!(relayLogLevels as readonly string[]).includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel} is not one of ${relayLogLevels.join(', ')}`);
  const rawFault = env.SAGA_RELAY_FAULT?.trim() || undefined;
  if (rawFault !== undefined) {
    if (!(Object.values(RelayFault) as string[]).includes(rawFault)) problems.push(`SAGA_RELAY_FAULT must be ${Object.values(RelayFault).join(' or ')} (got ${rawFault})`);
    else if (env[FAULTS_OPT_IN]?.trim().toLowerCase() !== 'true') problems.push(`SAGA_RELAY_FAULT is set, but ${FAULTS_OPT_IN} is not "true": fault injection is for testing and must be switched on explicitly`);
  }
  if (problems.length || !broker) throw new ConfigError(problems);
  return { broker, databaseUrl, logLevel: logLevel as RelayLogLevel, ...(rawFault ? { fault: rawFault as RelayFault } : {}) };
}
