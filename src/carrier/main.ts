// `npm run carrier`: the carrier process. Reads SAGA_NATS_URL, SAGA_NATS_REPLICAS, DATABASE_URL and
// LOG_LEVEL, SAGA_METRICS_ADDRESS and OTEL_* (a configuration error is printed before anything connects), prints `carrier ready (…)`
// once it consumes commands, and drains on SIGTERM or SIGINT, exiting 0.
import { existsSync, rmSync } from 'node:fs';
import { ConfigError } from '../config';
import { redactUrl } from '../services/db';
import { faultsAreOn } from '../services/faults';
import { startCarrier, type CarrierHooks } from './carrier';
import { loadCarrierConfig } from './config';
import { carrierTelemetry } from './metrics';

/** The hook of `SAGA_CARRIER_CRASH_AFTER_APPLY`: while the file exists, the next applied command kills the process before its reply. */
function crashOnceHook(file: string): CarrierHooks {
  return {
    afterApply() {
      if (!existsSync(file)) return;
      rmSync(file, { force: true });
      process.kill(process.pid, 'SIGKILL');
    },
  };
}

/** Runs the carrier until SIGTERM or SIGINT. */
export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  const config = loadCarrierConfig(env);
  if ((config.faults && faultsAreOn(config.faults)) || config.crashAfterApplyFile) {
    console.error('FAULT INJECTION IS ON (SAGA_FAULTS, SAGA_CARRIER_CRASH_AFTER_APPLY): the carrier fails on purpose; never run this in production');
  }
  const telemetry = carrierTelemetry(config.metricsAddress, env);
  const carrier = await startCarrier({
    brokerConfig: config.broker,
    databaseUrl: config.databaseUrl,
    logLevel: config.logLevel,
    ...(config.faults ? { faults: config.faults } : {}),
    ...(config.crashAfterApplyFile ? { hooks: crashOnceHook(config.crashAfterApplyFile) } : {}),
    ...(telemetry.meter ? { meter: telemetry.meter } : {}),
    ...(telemetry.tracing ? { tracer: telemetry.tracing.tracer } : {}),
  });
  console.log(`carrier ready (broker ${config.broker.servers.join(',')}, replicas ${config.broker.replicas}, database ${redactUrl(config.databaseUrl)}${config.metricsAddress ? `, metrics http://${config.metricsAddress}/metrics` : ''})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await carrier.stop();
  await telemetry.tracing?.shutdown();
  console.log('carrier stopped');
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof ConfigError ? err.message : `Carrier failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
