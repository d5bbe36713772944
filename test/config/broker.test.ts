import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '../../src/broker/config';
import { loadWorkerConfig } from '../../src/config';
import { configErrorProblems } from '../support/config-errors';

describe('the broker settings', () => {
  it('one node by default: SAGA_NATS_REPLICAS unset is 1 copy of each stream', () => {
    expect(loadBrokerConfig({ SAGA_NATS_URL: 'nats://127.0.0.1:4222' })).toEqual({ servers: ['nats://127.0.0.1:4222'], replicas: 1 });
  });

  it('a cluster: every node, trimmed, and 3 copies', () => {
    const config = loadBrokerConfig({ SAGA_NATS_URL: 'nats://n1:4222, nats://n2:4222 ,tls://n3:4223', SAGA_NATS_REPLICAS: '3' });
    expect(config).toEqual({ servers: ['nats://n1:4222', 'nats://n2:4222', 'tls://n3:4223'], replicas: 3 });
    expect(loadBrokerConfig({ SAGA_NATS_URL: 'nats://n1:4222', SAGA_NATS_REPLICAS: '5' }).replicas).toBe(5);
  });

  it('refuses a missing broker, a URL without a port or of another scheme, and an even or zero replica count, all at once', () => {
    expect(configErrorProblems(() => loadBrokerConfig({}))).toEqual(['SAGA_NATS_URL is required: the broker (nats://host:port, comma-separated for a cluster)']);
    const problems = configErrorProblems(() => loadBrokerConfig({ SAGA_NATS_URL: 'nats://n1,http://n2:80,', SAGA_NATS_REPLICAS: '2' }));
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/SAGA_NATS_URL must be nats:\/\/host:port .*got nats:\/\/n1/);
    expect(problems[1]).toMatch(/got http:\/\/n2:80/);
    expect(problems[2]).toMatch(/got an empty entry/);
    expect(problems[3]).toBe('SAGA_NATS_REPLICAS must be 1, 3 or 5 (got 2)');
    for (const bad of ['0', '4', 'three', '-1']) expect(configErrorProblems(() => loadBrokerConfig({ SAGA_NATS_URL: 'nats://n1:4222', SAGA_NATS_REPLICAS: bad }))).toHaveLength(1);
  });

  it('hides a password in a refused URL', () => {
    const [problem] = configErrorProblems(() => loadBrokerConfig({ SAGA_NATS_URL: 'http://user:hunter2@n1:4222' }));
    expect(problem).not.toContain('hunter2');
  });

  it('the worker calls the carrier in process unless SAGA_NATS_URL names a broker, and refuses a bad one', () => {
    const base = { NODE_ENV: 'test' };
    expect(loadWorkerConfig(base).natsServers).toBeUndefined();
    expect(loadWorkerConfig({ ...base, SAGA_NATS_URL: '' }).natsServers).toBeUndefined();
    expect(loadWorkerConfig({ ...base, SAGA_NATS_URL: 'nats://127.0.0.1:4222' }).natsServers).toEqual(['nats://127.0.0.1:4222']);
    expect(configErrorProblems(() => loadWorkerConfig({ ...base, SAGA_NATS_URL: 'nats://127.0.0.1' }))).toHaveLength(1);
  });
});
