// The carrier as the chaos run starts it: the real carrier (`startCarrier`, configured from the same
// environment as `npm run carrier`) with one fault hook, so the dead-letter path is taken on purpose.
// A booking for a poison order (its id ends in POISON_SUFFIX) fails at every delivery as a broken
// database would; after the fifth the carrier dead-letters it and the order's saga compensates.
// Run as a child process (`node --import tsx scripts/lib/chaos/poison-carrier.ts`); prints the same
// `carrier ready (…)` line as the carrier.
import { startCarrier } from '../../../src/carrier/carrier';
import { loadCarrierConfig } from '../../../src/carrier/config';
import { REDELIVERY_LINE } from './broker-invariants';
import { POISON_SUFFIX } from './workload';

async function run(): Promise<void> {
  const config = loadCarrierConfig(process.env);
  const carrier = await startCarrier({
    brokerConfig: config.broker,
    databaseUrl: config.databaseUrl,
    logLevel: config.logLevel,
    hooks: {
      beforeApply(command, delivery) {
        // Counted by the run (ChaosBroker.redeliveries): the kills and the poison orders show up here.
        if (delivery > 1) console.log(`${REDELIVERY_LINE} ${delivery} of ${command.kind} ${command.key}`);
        if (command.kind === 'create' && command.orderId.endsWith(POISON_SUFFIX)) throw new Error(`poison fixture ${command.orderId}: fails at every delivery (this was delivery ${delivery})`);
      },
    },
  });
  console.log(`carrier ready (chaos, poison orders end in ${POISON_SUFFIX})`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await carrier.stop();
}

run().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`Chaos carrier failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
