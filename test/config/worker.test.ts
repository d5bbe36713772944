import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli';
import { loadCodecConfig } from '../../src/codec';
import { DEVELOPMENT_ID_SECRET, loadClientConfig, loadWorkerConfig } from '../../src/config';
import { registrationWorkflowId } from '../../src/registration/start';
import { faultConfigFromEnv, FaultConfigError } from '../../src/services/faults';
import { configErrorProblems } from '../support/config-errors';

// What the worker and the client refuse to start with: faults switched on by accident, production
// without a secret for registration ids or without payload encryption, secrets typed rather than
// drawn; and how the database pool follows the activity concurrency.

const problems = configErrorProblems;

const FAULTS = '{"payments":{"transientErrorRate":0.5}}';

describe('SAGA_FAULTS needs an explicit opt-in', () => {
  it('refuses faults without SAGA_FAULTS_ENABLED=true, in the worker configuration and in the services', () => {
    expect(problems(() => loadWorkerConfig({ NODE_ENV: 'test', SAGA_FAULTS: FAULTS }))).toEqual([expect.stringContaining('SAGA_FAULTS_ENABLED is not "true"')]);
    expect(problems(() => loadWorkerConfig({ NODE_ENV: 'test', SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'yes please' }))).toHaveLength(1);
    expect(() => faultConfigFromEnv({ SAGA_FAULTS: FAULTS })).toThrow(FaultConfigError);
  });

  it('accepts faults with the opt-in, and a configuration that turns nothing on without it', () => {
    expect(loadWorkerConfig({ NODE_ENV: 'test', SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'true' }).faults).toEqual({ payments: { transientErrorRate: 0.5 } });
    expect(faultConfigFromEnv({ SAGA_FAULTS: FAULTS, SAGA_FAULTS_ENABLED: 'true' })).toEqual({ payments: { transientErrorRate: 0.5 } });
    expect(faultConfigFromEnv({ SAGA_FAULTS: '{}' })).toEqual({});
    expect(faultConfigFromEnv({ SAGA_FAULTS: '{"seed":3}' })).toEqual({ seed: 3 });
  });

  it('validates the whole fault configuration at start, not only its JSON', () => {
    expect(problems(() => loadWorkerConfig({ NODE_ENV: 'test', SAGA_FAULTS: '{"billing":{}}', SAGA_FAULTS_ENABLED: 'true' }))).toEqual([expect.stringContaining('billing')]);
  });
});

/** Every NODE_ENV that is not an explicit development or test setting, unset first. */
const PRODUCTION_SPELLINGS = [undefined, '', 'production', 'Production', 'prod', 'staging', 'Development', 'dev'];

describe('production is every process that does not declare development or test', () => {
  const codecKeys = `k1:${randomBytes(32).toString('base64')}`;

  it('refuses to start without SAGA_ID_SECRET unless NODE_ENV is exactly development or test', () => {
    for (const nodeEnv of PRODUCTION_SPELLINGS) {
      const env = nodeEnv === undefined ? {} : { NODE_ENV: nodeEnv };
      expect(problems(() => loadClientConfig(env)), String(nodeEnv)).toEqual([expect.stringContaining('SAGA_ID_SECRET is missing')]);
      expect(problems(() => loadWorkerConfig(env)), String(nodeEnv)).toEqual([expect.stringContaining('SAGA_ID_SECRET is missing')]);
    }
    for (const nodeEnv of ['development', 'test']) expect(loadClientConfig({ NODE_ENV: nodeEnv })).toMatchObject({ production: false, idSecretIsDevelopmentDefault: true });
  });

  it('refuses to start without payload encryption keys unless NODE_ENV is exactly development or test', async () => {
    for (const nodeEnv of PRODUCTION_SPELLINGS) {
      const env = nodeEnv === undefined ? {} : { NODE_ENV: nodeEnv };
      expect(problems(() => loadCodecConfig(env)), String(nodeEnv)).toEqual([expect.stringContaining('SAGA_CODEC_KEYS is missing: production')]);
    }
    expect(loadCodecConfig({ SAGA_CODEC_KEYS: codecKeys })).toMatchObject({ strict: true });

    let stderr = '';
    expect(await runCli(['list'], { stdout: () => undefined, stderr: (t) => void (stderr += t), env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } })).toBe(2);
    expect(stderr).toMatch(/SAGA_ID_SECRET is missing: production.*; SAGA_CODEC_KEYS is missing: production/);
    expect(loadCodecConfig({ NODE_ENV: 'development' })).toBeUndefined();
    expect(loadCodecConfig({ NODE_ENV: 'test' })).toBeUndefined();
  });

  it('turns encryption off in production only with SAGA_ENCRYPTION=off, and the client says so on every run', async () => {
    expect(loadCodecConfig({ SAGA_ENCRYPTION: 'off' })).toBeUndefined();
    expect(problems(() => loadCodecConfig({ SAGA_ENCRYPTION: 'of' }))).toContain('SAGA_ENCRYPTION must be on or off');
    expect(problems(() => loadCodecConfig({ NODE_ENV: 'test', SAGA_ENCRYPTION: 'on' }))).toEqual(['SAGA_ENCRYPTION=on needs SAGA_CODEC_KEYS']);
    expect(problems(() => loadCodecConfig({ SAGA_ENCRYPTION: 'off', SAGA_CODEC_KEYS: codecKeys }))).toEqual([expect.stringContaining('contradicts')]);

    let stderr = '';
    const env = { SAGA_ID_SECRET: randomBytes(32).toString('base64'), SAGA_ENCRYPTION: 'off', TEMPORAL_ADDRESS: '127.0.0.1:1' };
    await runCli(['list'], { stdout: () => undefined, stderr: (t) => void (stderr += t), env });
    expect(stderr).toContain('warning: PAYLOAD ENCRYPTION IS OFF (SAGA_ENCRYPTION=off)');
  });
});

describe('secrets must be drawn at random', () => {
  const typed = {
    'a repeated character': 'a'.repeat(32),
    'a repeated short pattern': 'abcd'.repeat(8),
    'a repeated longer pattern': 'Tr0ub4dor&3-'.repeat(3),
    'too few distinct characters': 'abcabcabcaabbccabcabcbacbacbaccba',
  };

  for (const [what, secret] of Object.entries(typed)) {
    it(`refuses ${what} as SAGA_ID_SECRET or as a key of SAGA_CODEC_KEYS, naming the variable and never the value`, () => {
      const idProblems = problems(() => loadClientConfig({ NODE_ENV: 'test', SAGA_ID_SECRET: secret }));
      expect(idProblems).toEqual([expect.stringMatching(/^SAGA_ID_SECRET (is a pattern|has only)/)]);
      expect(idProblems.join('\n')).not.toContain(secret.slice(0, 12));
      const key = Buffer.from(secret.padEnd(32, secret).slice(0, 32)).toString('base64');
      const keyProblems = problems(() => loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: `k1:${key}` }));
      expect(keyProblems).toEqual([expect.stringMatching(/^SAGA_CODEC_KEYS: key "k1" (is a pattern|has only)/)]);
      expect(keyProblems.join('\n')).not.toContain(key.slice(0, 12));
    });
  }

  it('refuses 32 zero bytes as a codec key', () => {
    expect(problems(() => loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: `k1:${Buffer.alloc(32).toString('base64')}` }))).toEqual([
      'SAGA_CODEC_KEYS: key "k1" is a pattern of 1 bytes repeated: draw a random one (openssl rand -base64 32)',
    ]);
  });

  it('accepts what openssl rand draws', () => {
    for (let i = 0; i < 200; i++) {
      expect(loadClientConfig({ NODE_ENV: 'test', SAGA_ID_SECRET: randomBytes(32).toString('base64') }).idSecretIsDevelopmentDefault).toBe(false);
      expect(loadClientConfig({ NODE_ENV: 'test', SAGA_ID_SECRET: randomBytes(16).toString('hex') }).idSecretIsDevelopmentDefault).toBe(false);
      expect(loadCodecConfig({ NODE_ENV: 'test', SAGA_CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}` })).toBeDefined();
    }
  });
});

describe('SAGA_ID_SECRET keys the registration workflow ids', () => {
  const secret = 'k8Jq2vX9mR4tL7wZ1nB5cF3hD6gS0pYe';

  it('is required in production and must be at least 32 characters', () => {
    expect(problems(() => loadClientConfig({}))).toEqual([expect.stringContaining('SAGA_ID_SECRET is missing')]);
    expect(problems(() => loadWorkerConfig({ NODE_ENV: 'production' }))).toEqual([expect.stringContaining('SAGA_ID_SECRET is missing')]);
    expect(problems(() => loadClientConfig({ SAGA_ID_SECRET: 'x7Kp2mQ9vL4tR8wZ1nB5cF3hD6gS0pY' }))).toEqual(['SAGA_ID_SECRET is shorter than 32 characters']);
    expect(loadClientConfig({ SAGA_ID_SECRET: secret })).toMatchObject({ production: true, idSecret: secret, idSecretIsDevelopmentDefault: false });
  });

  it('falls back to the public development key in development and tests, and says so', () => {
    expect(loadClientConfig({ NODE_ENV: 'development' })).toMatchObject({ idSecret: DEVELOPMENT_ID_SECRET, idSecretIsDevelopmentDefault: true });
    expect(loadClientConfig({ NODE_ENV: 'test' })).toMatchObject({ idSecret: DEVELOPMENT_ID_SECRET, idSecretIsDevelopmentDefault: true });
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
    expect(loadWorkerConfig({ NODE_ENV: 'test', WORKER_MAX_ACTIVITIES: '8' })).toMatchObject({ databasePoolSize: 8, databaseConnectTimeoutMs: 5_000, databaseStatementTimeoutMs: 30_000 });
    expect(loadWorkerConfig({ NODE_ENV: 'test' })).toMatchObject({ maxConcurrentActivities: 200, databasePoolSize: 20 });
    expect(
      loadWorkerConfig({ NODE_ENV: 'test', DATABASE_POOL_SIZE: '50', DATABASE_CONNECT_TIMEOUT_MS: '2000', DATABASE_STATEMENT_TIMEOUT_MS: '10000' }),
    ).toMatchObject({ databasePoolSize: 50, databaseConnectTimeoutMs: 2_000, databaseStatementTimeoutMs: 10_000 });
    expect(problems(() => loadWorkerConfig({ NODE_ENV: 'test', DATABASE_POOL_SIZE: '0' }))).toEqual(['DATABASE_POOL_SIZE=0 is not a positive integer']);
  });
});
