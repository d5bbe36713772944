import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_ID_SECRET, loadClientConfig, loadWorkerConfig } from '../../src/config';
import { registrationWorkflowId } from '../../src/registration/start';
import { faultConfigFromEnv, FaultConfigError } from '../../src/services/faults';

// What the worker and the client refuse to start with: faults switched on by accident, production
// without a secret for registration ids; and how the database pool follows the activity concurrency.

function problems(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const FAULTS = '{"payments":{"transientErrorRate":0.5}}';

describe('SAGA_FAULTS needs an explicit opt-in', () => {
  it('refuses faults without SAGA_FAULTS_ENABLED=true, in the worker configuration and in the services', () => {
    expect(problems(() => loadWorkerConfig({ SAGA_FAULTS: FAULTS }))).toEqual([expect.stringContaining('SAGA_FAULTS_ENABLED is not "true"')]);
    expect(problems(() => loadWorkerConfig({ SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'yes please' }))).toHaveLength(1);
    expect(() => faultConfigFromEnv({ SAGA_FAULTS: FAULTS })).toThrow(FaultConfigError);
  });

  it('accepts faults with the opt-in, and a configuration that turns nothing on without it', () => {
    expect(loadWorkerConfig({ SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'true' }).faults).toEqual({ payments: { transientErrorRate: 0.5 } });
    expect(faultConfigFromEnv({ SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'true' })).toEqual({ payments: { transientErrorRate: 0.5 } });
    expect(faultConfigFromEnv({ SAGA_FAULTS: '{}' })).toEqual({});
    expect(faultConfigFromEnv({ SAGA_FAULTS: '{"seed":3}' })).toEqual({ seed: 3 });
  });

  it('validates the whole fault configuration at start, not only its JSON', () => {
    expect(problems(() => loadWorkerConfig({ SAGA_FAULTS: '{"billing":{}}', SAGA_FAULTS_ENABLED: 'true' }))).toEqual([expect.stringContaining('billing')]);
  });
});

describe('SAGA_ID_SECRET keys the registration workflow ids', () => {
  const secret = 'k8Jq2vX9mR4tL7wZ1nB5cF3hD6gS0pYe';

  it('is required in production and must be long enough', () => {
    expect(problems(() => loadClientConfig({ NODE_ENV: 'production' }))).toEqual([expect.stringContaining('SAGA_ID_SECRET is missing')]);
    expect(problems(() => loadWorkerConfig({ NODE_ENV: 'production' }))).toEqual([expect.stringContaining('SAGA_ID_SECRET is missing')]);
    expect(problems(() => loadClientConfig({ SAGA_ID_SECRET: 'short' }))).toEqual(['SAGA_ID_SECRET is shorter than 32 characters']);
    expect(loadClientConfig({ NODE_ENV: 'production', SAGA_ID_SECRET: secret })).toMatchObject({ idSecret: secret, idSecretIsDevelopmentDefault: false });
  });

  it('falls back to the public development key, and says so', () => {
    expect(loadClientConfig({})).toMatchObject({ idSecret: DEVELOPMENT_ID_SECRET, idSecretIsDevelopmentDefault: true });
  });

  it('makes ids nobody can recompute from an address without the secret', () => {
    const email = 'ada@example.com';
    const id = registrationWorkflowId(email, secret);
    expect(id).toMatch(/^registration-[0-9a-f]{16}$/);
    expect(id).not.toBe(registrationWorkflowId(email));
    expect(id).not.toBe(registrationWorkflowId(email, `${secret}x`));
    expect(registrationWorkflowId(' ADA@Example.COM ', secret)).toBe(id);
  });
});

describe('the PostgreSQL pool follows the activity concurrency', () => {
  it('defaults to the activity concurrency, at most 20, and takes DATABASE_POOL_SIZE and the timeouts', () => {
    expect(loadWorkerConfig({ WORKER_MAX_ACTIVITIES: '8' })).toMatchObject({ databasePoolSize: 8, databaseConnectTimeoutMs: 5_000, databaseStatementTimeoutMs: 30_000 });
    expect(loadWorkerConfig({})).toMatchObject({ maxConcurrentActivities: 200, databasePoolSize: 20 });
    expect(
      loadWorkerConfig({ DATABASE_POOL_SIZE: '50', DATABASE_CONNECT_TIMEOUT_MS: '2000', DATABASE_STATEMENT_TIMEOUT_MS: '10000' }),
    ).toMatchObject({ databasePoolSize: 50, databaseConnectTimeoutMs: 2_000, databaseStatementTimeoutMs: 10_000 });
    expect(problems(() => loadWorkerConfig({ DATABASE_POOL_SIZE: '0' }))).toEqual(['DATABASE_POOL_SIZE=0 is not a positive integer']);
  });
});
