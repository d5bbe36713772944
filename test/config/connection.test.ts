import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, connectionOptions, DEVELOPMENT_ID_SECRET, loadClientConfig, loadWorkerConfig } from '../../src/config';

const dir = mkdtempSync(join(tmpdir(), 'saga-config-'));
const pem = (name: string, label: string) => {
  const path = join(dir, name);
  writeFileSync(path, `-----BEGIN ${label}-----\n${name}\n-----END ${label}-----\n`);
  return path;
};
const CERT = pem('client.pem', 'CERTIFICATE');
const KEY = pem('client.key', 'PRIVATE KEY');
const CA = pem('ca.pem', 'CERTIFICATE');
const MISSING = join(dir, 'missing.pem');
const API_KEY = 'api-key-3f1c9a7e-very-secret';

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(env: Record<string, string>, load: (env: Record<string, string>) => unknown = loadClientConfig): readonly string[] {
  try {
    load({ NODE_ENV: 'test', ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

describe('client configuration: address and namespace', () => {
  it('connects to a local server in plain text by default', () => {
    const config = loadClientConfig({ NODE_ENV: 'test' });
    expect(config).toEqual({
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'sagas',
      tls: undefined,
      apiKey: undefined,
      uiUrl: 'http://localhost:8233',
      production: false,
      idSecret: DEVELOPMENT_ID_SECRET,
      idSecretIsDevelopmentDefault: true,
    });
    expect(connectionOptions(config)).toEqual({ address: 'localhost:7233' });
  });

  it('reads the address, namespace, task queue and Web UI URL from the environment', () => {
    const config = loadClientConfig({
      NODE_ENV: 'test',
      TEMPORAL_ADDRESS: 'sagas.a2b3c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'sagas.a2b3c',
      TEMPORAL_TASK_QUEUE: 'sagas-eu',
      TEMPORAL_UI_URL: 'https://cloud.temporal.io/',
    });
    expect(config).toMatchObject({ address: 'sagas.a2b3c.tmprl.cloud:7233', namespace: 'sagas.a2b3c', taskQueue: 'sagas-eu', uiUrl: 'https://cloud.temporal.io' });
  });

  it('accepts an IPv6 address with a port', () => {
    expect(loadClientConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: '[::1]:7233' }).address).toBe('[::1]:7233');
  });

  it('refuses an address without a port', () => {
    expect(problems({ TEMPORAL_ADDRESS: 'temporal.example.com' })).toEqual(['TEMPORAL_ADDRESS=temporal.example.com is not host:port']);
  });
});

describe('client configuration: TLS', () => {
  it('turns on server-verified TLS with TEMPORAL_TLS=true alone', () => {
    const config = loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS: 'true' });
    expect(config.tls).toEqual({});
    expect(connectionOptions(config)).toEqual({ address: 'localhost:7233', tls: {} });
  });

  it('turns TLS on by itself when a CA or a server name is given, and reads the CA file', () => {
    const config = loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CA_PATH: CA, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    expect(config.tls?.serverNameOverride).toBe('temporal.internal');
    expect(text(config.tls?.serverRootCACertificate)).toContain('ca.pem');
    expect(config.tls?.clientCertPair).toBeUndefined();
  });

  it('reads the client certificate and key for mTLS', () => {
    const config = loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CERT_PATH: CERT, TEMPORAL_TLS_KEY_PATH: KEY });
    expect(text(config.tls?.clientCertPair?.crt)).toContain('BEGIN CERTIFICATE');
    expect(text(config.tls?.clientCertPair?.key)).toContain('BEGIN PRIVATE KEY');
  });

  it('accepts the usual spellings of true and false', () => {
    for (const on of ['1', 'TRUE', 'yes', 'on']) expect(loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS: on }).tls).toEqual({});
    for (const off of ['0', 'false', 'No', 'off']) expect(loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS: off }).tls).toBeUndefined();
  });

  it('refuses a TEMPORAL_TLS value that is not a boolean', () => {
    expect(problems({ TEMPORAL_TLS: 'maybe' })).toEqual(['TEMPORAL_TLS=maybe is not a boolean (use true or false)']);
  });
});

describe('client configuration: partial TLS is refused, naming what is missing', () => {
  it('refuses a certificate without its key', () => {
    expect(problems({ TEMPORAL_TLS_CERT_PATH: CERT })).toEqual(['TEMPORAL_TLS_CERT_PATH is set but TEMPORAL_TLS_KEY_PATH is missing: mTLS needs both']);
  });

  it('refuses a key without its certificate', () => {
    expect(problems({ TEMPORAL_TLS_KEY_PATH: KEY })).toEqual(['TEMPORAL_TLS_KEY_PATH is set but TEMPORAL_TLS_CERT_PATH is missing: mTLS needs both']);
  });

  it('names the variable and the path of a file that cannot be read', () => {
    expect(problems({ TEMPORAL_TLS_CERT_PATH: MISSING, TEMPORAL_TLS_KEY_PATH: KEY })).toEqual([`TEMPORAL_TLS_CERT_PATH=${MISSING} cannot be read (ENOENT)`]);
    expect(problems({ TEMPORAL_TLS_CA_PATH: dir })).toEqual([`TEMPORAL_TLS_CA_PATH=${dir} cannot be read (EISDIR)`]);
  });

  it('refuses TEMPORAL_TLS=false next to TLS settings', () => {
    expect(problems({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA_PATH: CA })).toEqual([
      'TEMPORAL_TLS=false contradicts the TLS certificate, CA, server name or API key settings',
    ]);
  });

  it('lists every problem at once', () => {
    expect(problems({ TEMPORAL_ADDRESS: 'nowhere', TEMPORAL_TLS: 'sometimes', TEMPORAL_TLS_KEY_PATH: MISSING })).toEqual([
      'TEMPORAL_ADDRESS=nowhere is not host:port',
      'TEMPORAL_TLS=sometimes is not a boolean (use true or false)',
      'TEMPORAL_TLS_KEY_PATH is set but TEMPORAL_TLS_CERT_PATH is missing: mTLS needs both',
      `TEMPORAL_TLS_KEY_PATH=${MISSING} cannot be read (ENOENT)`,
    ]);
  });

  it('puts every problem in the error message', () => {
    expect(() => loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CERT_PATH: CERT, TEMPORAL_ADDRESS: 'x' })).toThrow(
      /Invalid configuration:\n {2}- TEMPORAL_ADDRESS=x is not host:port\n {2}- TEMPORAL_TLS_CERT_PATH is set but TEMPORAL_TLS_KEY_PATH is missing/,
    );
  });
});

describe('client configuration: API key', () => {
  it('sends the API key over TLS, which it turns on by itself', () => {
    const config = loadClientConfig({ NODE_ENV: 'test', TEMPORAL_API_KEY: API_KEY, TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'sagas.a2b3c' });
    expect(config.apiKey).toBe(API_KEY);
    expect(config.tls).toEqual({});
    expect(connectionOptions(config)).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', tls: {}, apiKey: API_KEY });
  });

  it('refuses an API key with TEMPORAL_TLS=false, without printing the key', () => {
    let message = '';
    try {
      loadClientConfig({ NODE_ENV: 'test', TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'false' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('TEMPORAL_TLS=false contradicts');
    expect(message).not.toContain(API_KEY);
  });

  it('never prints the API key or a TLS key in an error: next to TEMPORAL_TLS=false, in a malformed temporal.toml, beside an unreadable file', () => {
    const keyPem = pem('secret.key', 'PRIVATE KEY');
    const toml = join(dir, 'broken.toml');
    writeFileSync(toml, ['[profile.default]', 'address = "prod.tmprl.cloud:7233"', `api_key = "${API_KEY}`, ''].join('\n'));
    const messages = [
      { TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'false' },
      { TEMPORAL_CONFIG_FILE: toml },
      { TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS_KEY_PATH: keyPem, TEMPORAL_TLS_CERT_PATH: MISSING },
      { TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS_CERT_PATH: keyPem },
    ].map((env) => {
      try {
        loadClientConfig({ NODE_ENV: 'test', ...env });
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`expected a ConfigError for ${Object.keys(env).join(', ')}`);
    });
    expect(messages[1]).toBe(`Invalid configuration:\n  - the Temporal client profile cannot be read: ${toml} is not valid TOML (line 3)`);
    for (const message of messages) {
      expect(message).not.toContain(API_KEY);
      expect(message).not.toContain('api-key-3f1c');
      expect(message).not.toContain('BEGIN PRIVATE KEY');
    }
  });

  it('combines an API key with mTLS', () => {
    const options = connectionOptions(loadClientConfig({ NODE_ENV: 'test', TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS_CERT_PATH: CERT, TEMPORAL_TLS_KEY_PATH: KEY }));
    expect(options.apiKey).toBe(API_KEY);
    expect(options.tls?.clientCertPair).toBeDefined();
  });
});

describe('worker configuration', () => {
  it('applies the same connection rules as the client', () => {
    expect(problems({ TEMPORAL_TLS_CERT_PATH: CERT }, loadWorkerConfig)).toEqual([
      'TEMPORAL_TLS_CERT_PATH is set but TEMPORAL_TLS_KEY_PATH is missing: mTLS needs both',
    ]);
    const config = loadWorkerConfig({ NODE_ENV: 'test', TEMPORAL_NAMESPACE: 'sagas-prod', TEMPORAL_TLS_CERT_PATH: CERT, TEMPORAL_TLS_KEY_PATH: KEY });
    expect(config.namespace).toBe('sagas-prod');
    expect(config.tls?.clientCertPair).toBeDefined();
  });

  it('hides the database password when it refuses a database URL', () => {
    const [problem] = problems({ DATABASE_URL: 'mysql://saga:hunter2@db:3306/saga' }, loadWorkerConfig);
    expect(problem).toContain('mysql://***@db:3306/saga');
    expect(problem).not.toContain('hunter2');
  });
});

describe('client configuration: the temporal CLI names and profiles', () => {
  it('reads the standard TLS file variables, which win over the older names', () => {
    const config = loadClientConfig({ NODE_ENV: 'test', TEMPORAL_TLS_CLIENT_CERT_PATH: CERT, TEMPORAL_TLS_CLIENT_KEY_PATH: KEY, TEMPORAL_TLS_SERVER_CA_CERT_PATH: CA, TEMPORAL_TLS_CA_PATH: MISSING });
    expect(text(config.tls?.clientCertPair?.crt)).toContain('client.pem');
    expect(text(config.tls?.clientCertPair?.key)).toContain('client.key');
    expect(text(config.tls?.serverRootCACertificate)).toContain('ca.pem');
  });

  it('names the standard variable when its certificate lacks a key', () => {
    expect(problems({ TEMPORAL_TLS_CLIENT_CERT_PATH: CERT })).toEqual(['TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is missing: mTLS needs both']);
  });

  it('takes the connection from the profile named by TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE, under the variables', () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.default]',
        'address = "localhost:7233"',
        '[profile.prod]',
        'address = "prod.tmprl.cloud:7233"',
        'namespace = "sagas.prod"',
        'api_key = "profile-key"',
        '[profile.prod.tls]',
        `server_ca_cert_path = "${CA}"`,
        '',
      ].join('\n'),
    );
    const config = loadClientConfig({ NODE_ENV: 'test', TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'sagas.override' });
    expect(config).toMatchObject({ address: 'prod.tmprl.cloud:7233', namespace: 'sagas.override', apiKey: 'profile-key' });
    expect(text(config.tls?.serverRootCACertificate)).toContain('ca.pem');
  });

  it('refuses a profile that the file does not have', () => {
    const file = join(dir, 'only-default.toml');
    writeFileSync(file, '[profile.default]\naddress = "localhost:7233"\n');
    expect(problems({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' })).toEqual([expect.stringContaining("Profile 'staging' not found")]);
  });
});
