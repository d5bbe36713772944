import { describe, expect, it } from 'vitest';
import { loadCarrierConfig } from '../../src/carrier/config';
import { commandMessageId, isReplySubject } from '../../src/carrier/protocol';
import { configErrorProblems } from '../support/config-errors';

describe('the carrier settings', () => {
  it('needs only the broker: the worker\'s default database, log level info, no faults', () => {
    expect(loadCarrierConfig({ SAGA_NATS_URL: 'nats://127.0.0.1:4222' })).toEqual({
      broker: { servers: ['nats://127.0.0.1:4222'], replicas: 1 },
      databaseUrl: 'sqlite:.data/saga.db',
      logLevel: 'info',
      faults: undefined,
      crashAfterApplyFile: undefined,
    });
  });

  it('reads the cluster, the database and the log level', () => {
    const config = loadCarrierConfig({ SAGA_NATS_URL: 'nats://a:4222,nats://b:4222,nats://c:4222', SAGA_NATS_REPLICAS: '3', DATABASE_URL: 'postgres://u:p@db/saga', LOG_LEVEL: 'DEBUG' });
    expect(config).toMatchObject({ broker: { servers: ['nats://a:4222', 'nats://b:4222', 'nats://c:4222'], replicas: 3 }, databaseUrl: 'postgres://u:p@db/saga', logLevel: 'debug' });
  });

  it('lists every problem at once: no broker, a foreign database, an unknown log level', () => {
    const problems = configErrorProblems(() => loadCarrierConfig({ DATABASE_URL: 'mysql://u:secret@db/x', LOG_LEVEL: 'loud' }));
    expect(problems).toEqual([
      'SAGA_NATS_URL is required: the broker (nats://host:port, comma-separated for a cluster)',
      'DATABASE_URL must start with sqlite: or postgres:// (got mysql://***@db/x)',
      'LOG_LEVEL=loud is not one of debug, info, warn, error',
    ]);
  });

  it('takes the crash fault only with SAGA_FAULTS_ENABLED=true', () => {
    const env = { SAGA_NATS_URL: 'nats://127.0.0.1:4222', SAGA_CARRIER_CRASH_AFTER_APPLY: '/tmp/crash' };
    expect(configErrorProblems(() => loadCarrierConfig(env))).toEqual(['SAGA_CARRIER_CRASH_AFTER_APPLY is a test fault: it needs SAGA_FAULTS_ENABLED=true']);
    expect(loadCarrierConfig({ ...env, SAGA_FAULTS_ENABLED: 'true' }).crashAfterApplyFile).toBe('/tmp/crash');
  });
});

describe('the carrier protocol', () => {
  it('names a publish by kind, key and attempt: a retried step is a new message, a repeated publish of one attempt is not', () => {
    expect(commandMessageId('create', 'order-o1/run-1/createShipment', 1)).toBe('create/order-o1/run-1/createShipment/1');
    expect(commandMessageId('create', 'k', 2)).not.toBe(commandMessageId('create', 'k', 1));
    expect(commandMessageId('cancel', 'k', 1)).not.toBe(commandMessageId('create', 'k', 1));
  });

  it('replies only inside the replies stream', () => {
    expect(isReplySubject('carrier.replies.task')).toBe(true);
    expect(isReplySubject('carrier.replies.request.abc')).toBe(true);
    for (const subject of ['', 'carrier.commands.create', 'carrier.replies.', 'carrier.replies.>', 'carrier.replies.*', 'other.carrier.replies.x']) expect(isReplySubject(subject)).toBe(false);
  });
});
