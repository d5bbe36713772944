import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';

// Workers log every failed activity at WARN, and the tests fail activities on purpose all the time:
// keep the output to real errors. Set TEST_LOG_LEVEL=INFO (or DEBUG) to see everything.
const level = (process.env.TEST_LOG_LEVEL ?? 'ERROR').toUpperCase() as 'ERROR';
Runtime.install({
  logger: new DefaultLogger(level),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} } },
});
