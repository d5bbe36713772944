import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli';
import { ConfigError, connectionOptions, loadClientConfig, withConnectionFlags } from '../../src/config';

// The connection flags the client shares with the `temporal` CLI, read over the variables and the
// profile; no server needed.

const dir = mkdtempSync(join(tmpdir(), 'saga-cli-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const API_KEY = 'api-key-6d0e2c1b-very-secret';

function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadClientConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('connection flags over the environment', () => {
  it('writes each flag over the variable it stands for, and leaves the others', () => {
    expect(
      withConnectionFlags(
        { TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'from-env', TEMPORAL_TASK_QUEUE: 'q' },
        { address: 'flag:7233', profile: 'prod', 'config-file': '/etc/temporal.toml', 'codec-endpoint': 'http://codec.test', 'codec-auth': 'Bearer t', json: true },
      ),
    ).toEqual({
      TEMPORAL_ADDRESS: 'flag:7233',
      TEMPORAL_NAMESPACE: 'from-env',
      TEMPORAL_TASK_QUEUE: 'q',
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_CONFIG_FILE: '/etc/temporal.toml',
      TEMPORAL_CODEC_ENDPOINT: 'http://codec.test',
      TEMPORAL_CODEC_AUTH: 'Bearer t',
    });
  });

  it('turns TLS on with --tls', () => {
    expect(loadClientConfig(withConnectionFlags({}, { tls: true })).tls).toEqual({});
    expect(loadClientConfig(withConnectionFlags({}, { tls: false })).tls).toBeUndefined();
  });

  it('sends --api-key as the API key, over TLS, ahead of TEMPORAL_API_KEY', () => {
    const config = loadClientConfig(withConnectionFlags({ TEMPORAL_API_KEY: 'from-env' }, { 'api-key': API_KEY }));
    expect(connectionOptions(config)).toEqual({ address: 'localhost:7233', tls: {}, apiKey: API_KEY });
  });

  it('reads the profile --profile names from the file --config-file names, under the other flags', () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(file, ['[profile.default]', 'address = "localhost:7233"', '[profile.prod]', 'address = "prod.tmprl.cloud:7233"', 'namespace = "sagas.prod"', ''].join('\n'));
    expect(loadClientConfig(withConnectionFlags({}, { 'config-file': file, profile: 'prod' }))).toMatchObject({ address: 'prod.tmprl.cloud:7233', namespace: 'sagas.prod' });
    expect(loadClientConfig(withConnectionFlags({}, { 'config-file': file, profile: 'prod', namespace: 'sagas.other' })).namespace).toBe('sagas.other');
    expect(problems(withConnectionFlags({}, { 'config-file': join(dir, 'missing.toml'), profile: 'prod' }))).toEqual([expect.stringContaining('the Temporal client profile cannot be read')]);
  });
});

describe('the flags on the command line', () => {
  async function cli(argv: string[], env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
    return { code, stdout, stderr };
  }

  it('lists them in every command help', async () => {
    const { stdout } = await cli(['status', '--help']);
    for (const flag of ['-o, --output <text|json|jsonl>', '--json', '--profile <name>', '--config-file <path>', '--tls', '--api-key <key>', '--codec-endpoint <url>', '--codec-auth <header value>', '-w, --workflow-id <id>', '-r, --run-id <id>', '--watch']) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).not.toMatch(/-w, --watch/);
  });

  it('refuses a codec endpoint next to local keys before connecting, without echoing either', async () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const { code, stderr } = await cli(['list', '--codec-endpoint', 'http://127.0.0.1:1', '--codec-auth', 'Bearer secret-token-value'], { TEMPORAL_ADDRESS: '127.0.0.1:1', SAGA_CODEC_KEYS: `k1:${key}` });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('SAGA_CODEC_KEYS and TEMPORAL_CODEC_ENDPOINT (--codec-endpoint) are both set');
    expect(stderr).not.toContain(key);
    expect(stderr).not.toContain('secret-token-value');
  });

  it('refuses a codec endpoint that is not an http URL, and credentials without an endpoint', async () => {
    expect((await cli(['list', '--codec-endpoint', 'ftp://codec.test'], { TEMPORAL_ADDRESS: '127.0.0.1:1' })).stderr).toContain('must be an http or https URL');
    expect((await cli(['list', '--codec-endpoint', 'not a url'], { TEMPORAL_ADDRESS: '127.0.0.1:1' })).stderr).toContain('is not a URL');
    const lone = await cli(['list'], { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_CODEC_AUTH: 'Bearer x' });
    expect(lone.code).toBe(2);
    expect(lone.stderr).toContain('TEMPORAL_CODEC_AUTH (--codec-auth) is set without TEMPORAL_CODEC_ENDPOINT');
  });
});
