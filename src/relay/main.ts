// `npm run relay`: the outbox relay process. It reads SAGA_NATS_URL, SAGA_NATS_REPLICAS, DATABASE_URL
// and LOG_LEVEL (a bad value is a ConfigError, before any connection), publishes the order outcomes of
// the services' database to the ORDER_EVENTS stream until SIGTERM or SIGINT, then drains and exits 0.
import { ConfigError } from '../config';
import { ORDER_EVENTS_STREAM } from '../broker/order-events';
import { redactUrl } from '../services/db';
import { loadRelayConfig, RelayFault } from './config';
import { jsonLineLogger, startOutboxRelay } from './relay';

async function main(): Promise<void> {
  const config = loadRelayConfig(process.env);
  const logger = jsonLineLogger(config.logLevel);
  const relay = await startOutboxRelay({
    brokerConfig: config.broker,
    databaseUrl: config.databaseUrl,
    logger,
    // Tests only (SAGA_FAULTS_ENABLED=true): die as a crash would, after the acknowledgement and before the mark.
    ...(config.fault === RelayFault.crashAfterPublish ? { afterPublish: () => process.kill(process.pid, 'SIGKILL') } : {}),
  });
  console.log(`outbox relay ready (stream ${ORDER_EVENTS_STREAM}, broker ${config.broker.servers.join(',')}, database ${redactUrl(config.databaseUrl)})`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.log('info', 'Outbox relay stopping', { signal });
  await relay.stop();
  logger.log('info', 'Outbox relay stopped');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `Outbox relay failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
