import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli';
import { loadRemoteCodecConfig, RemoteCodecError, RemotePayloadCodec } from '../../src/codec';
import { ConfigError, connectionOptions, loadClientConfig, withConnectionFlags } from '../../src/config';

// The connection flags the client shares with the `temporal` CLI, read over the variables and the
// profile; no server needed.

const dir = mkdtempSync(join(tmpdir(), 'saga-cli-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const API_KEY = 'api-key-6d0e2c1b-very-secret';

function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadClientConfig({ NODE_ENV: 'test', ...env });
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
        { address: 'flag:7233', profile: 'prod', 'config-file': '/etc/temporal.toml', 'codec-endpoint': 'https://codec.test', 'codec-auth-file': '/run/secrets/codec-token', json: true },
      ),
    ).toEqual({
      TEMPORAL_ADDRESS: 'flag:7233',
      TEMPORAL_NAMESPACE: 'from-env',
      TEMPORAL_TASK_QUEUE: 'q',
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_CONFIG_FILE: '/etc/temporal.toml',
      TEMPORAL_CODEC_ENDPOINT: 'https://codec.test',
      TEMPORAL_CODEC_AUTH_FILE: '/run/secrets/codec-token',
    });
  });

  it('turns TLS on with --tls', () => {
    expect(loadClientConfig(withConnectionFlags({ NODE_ENV: 'test' }, { tls: true })).tls).toEqual({});
    expect(loadClientConfig(withConnectionFlags({ NODE_ENV: 'test' }, { tls: false })).tls).toBeUndefined();
  });

  it('sends --api-key as the API key, over TLS, ahead of TEMPORAL_API_KEY', () => {
    const config = loadClientConfig(withConnectionFlags({ NODE_ENV: 'test', TEMPORAL_API_KEY: 'from-env' }, { 'api-key': API_KEY }));
    expect(connectionOptions(config)).toEqual({ address: 'localhost:7233', tls: {}, apiKey: API_KEY });
  });

  it('reads the profile --profile names from the file --config-file names, under the other flags', () => {
    const file = join(dir, 'temporal.toml');
    writeFileSync(file, ['[profile.default]', 'address = "localhost:7233"', '[profile.prod]', 'address = "prod.tmprl.cloud:7233"', 'namespace = "sagas.prod"', ''].join('\n'));
    expect(loadClientConfig(withConnectionFlags({ NODE_ENV: 'test' }, { 'config-file': file, profile: 'prod' }))).toMatchObject({ address: 'prod.tmprl.cloud:7233', namespace: 'sagas.prod' });
    expect(loadClientConfig(withConnectionFlags({ NODE_ENV: 'test' }, { 'config-file': file, profile: 'prod', namespace: 'sagas.other' })).namespace).toBe('sagas.other');
    expect(problems(withConnectionFlags({ NODE_ENV: 'test' }, { 'config-file': join(dir, 'missing.toml'), profile: 'prod' }))).toEqual([expect.stringContaining('missing.toml (--config-file, TEMPORAL_CONFIG_FILE) does not exist')]);
  });

  it('refuses a --config-file that does not exist, with no profile named too, exit code 2 and nothing sent', async () => {
    let stderr = '';
    const code = await runCli(['list', '--config-file', join(dir, 'nowhere.toml'), '--address', '127.0.0.1:1'], { stdout: () => undefined, stderr: (t) => void (stderr += t), env: { NODE_ENV: 'test' } });
    expect(stderr).toMatch(/Invalid configuration: the Temporal client config file .*nowhere\.toml .*does not exist/);
    expect(code).toBe(2);
  });
});

describe('the flags on the command line', () => {
  async function cli(argv: string[], env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { NODE_ENV: 'test', ...env } });
    return { code, stdout, stderr };
  }

  it('lists them in every command help', async () => {
    const { stdout } = await cli(['status', '--help']);
    for (const flag of ['-o, --output <text|json|jsonl>', '--json', '--profile <name>', '--config-file <path>', '--tls', '--api-key <key>', '--codec-endpoint <url>', '--codec-auth-file <path>', '-w, --workflow-id <id>', '-r, --run-id <id>', '--watch']) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).not.toMatch(/-w, --watch/);
  });

  it('refuses a codec endpoint next to local keys before connecting, without echoing either', async () => {
    const key = randomBytes(32).toString('base64');
    const { code, stderr } = await cli(['list', '--codec-endpoint', 'http://127.0.0.1:1'], { TEMPORAL_ADDRESS: '127.0.0.1:1', SAGA_CODEC_KEYS: `k1:${key}`, TEMPORAL_CODEC_AUTH: 'Bearer secret-token-value' });
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
    expect(lone.stderr).toContain('TEMPORAL_CODEC_AUTH or TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) is set without TEMPORAL_CODEC_ENDPOINT');
  });
});

describe('the codec server token', () => {
  const TOKEN = randomBytes(32).toString('base64url');

  async function cli(argv: string[], env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: '127.0.0.1:1', ...env } });
    return { code, stdout, stderr };
  }

  it('is refused on the command line, where the process list shows it, and never echoed, quoted or not', async () => {
    for (const argv of [
      ['list', '--codec-endpoint', 'http://127.0.0.1:1', '--codec-auth', `Bearer ${TOKEN}`],
      ['list', '--codec-endpoint', 'http://127.0.0.1:1', '--codec-auth', 'Bearer', TOKEN],
      ['status', 'order-1', '--codec-auth=Bearer', TOKEN, '-o', 'json'],
    ]) {
      const { code, stdout, stderr } = await cli(argv);
      expect(code).toBe(2);
      expect(stderr).toContain('--codec-auth would show the codec server token to everyone who can list processes');
      expect(`${stdout}${stderr}`).not.toContain(TOKEN);
    }
  });

  it('is read from a file named by --codec-auth-file or TEMPORAL_CODEC_AUTH_FILE, a bare token getting the Bearer scheme', () => {
    const bare = join(dir, 'codec-token');
    writeFileSync(bare, `${TOKEN}\n`, { mode: 0o600 });
    const header = join(dir, 'codec-auth');
    writeFileSync(header, `Bearer ${TOKEN}`, { mode: 0o600 });
    const endpoint = 'https://codec.example.com';
    expect(loadRemoteCodecConfig(withConnectionFlags({ TEMPORAL_CODEC_ENDPOINT: endpoint }, { 'codec-auth-file': bare }), 'default')).toMatchObject({ auth: `Bearer ${TOKEN}` });
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: endpoint, TEMPORAL_CODEC_AUTH_FILE: header }, 'default')).toMatchObject({ auth: `Bearer ${TOKEN}` });
    expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: endpoint, TEMPORAL_CODEC_AUTH: `Bearer ${TOKEN}` }, 'default')).toMatchObject({ auth: `Bearer ${TOKEN}` });
  });

  it('refuses a token file that cannot be read, and a token given twice, naming the path but not the content', () => {
    const file = join(dir, 'codec-token-2');
    writeFileSync(file, TOKEN);
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: 'https://codec.example.com', ...env }, 'default');
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problemsOf({ TEMPORAL_CODEC_AUTH_FILE: join(dir, 'none') })).toEqual([`TEMPORAL_CODEC_AUTH_FILE (--codec-auth-file) ${join(dir, 'none')} cannot be read (ENOENT)`]);
    expect(problemsOf({ TEMPORAL_CODEC_AUTH_FILE: file, TEMPORAL_CODEC_AUTH: `Bearer ${TOKEN}` })).toEqual([expect.stringContaining('are both set')]);
    expect(JSON.stringify(problemsOf({ TEMPORAL_CODEC_AUTH_FILE: file, TEMPORAL_CODEC_AUTH: `Bearer ${TOKEN}` }))).not.toContain(TOKEN);
  });

  it('travels over plain http only to this machine', async () => {
    for (const local of ['http://localhost:8888', 'http://127.0.0.1:8888', 'http://[::1]:8888', 'https://codec.example.com']) {
      expect(loadRemoteCodecConfig({ TEMPORAL_CODEC_ENDPOINT: local, TEMPORAL_CODEC_AUTH: `Bearer ${TOKEN}` }, 'default')).toMatchObject({ endpoint: local });
    }
    for (const remote of ['http://codec.example.com', 'http://10.0.0.5:8888', 'http://[2001:db8::1]:8888', 'http://127.0.0.1.nip.io']) {
      const { code, stderr } = await cli(['list', '--codec-endpoint', remote], { TEMPORAL_CODEC_AUTH: `Bearer ${TOKEN}` });
      expect(code, remote).toBe(2);
      expect(stderr).toContain('must use https to reach');
      expect(stderr).not.toContain(TOKEN);
    }
  });

  it('is not sent on to where a redirect points', async () => {
    const seen: (string | undefined)[] = [];
    const target = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"payloads":[]}');
    });
    const redirecting = createServer((req, res) => res.writeHead(307, { Location: `http://127.0.0.1:${(target.address() as AddressInfo).port}${req.url}` }).end());
    await Promise.all([target, redirecting].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    try {
      const codec = new RemotePayloadCodec({ endpoint: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`, auth: `Bearer ${TOKEN}`, namespace: 'default' });
      const refusal = await codec.check().catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(RemoteCodecError);
      expect(refusal).toMatchObject({ kind: 'refused', status: 307, message: expect.stringContaining('redirect (307), which is not followed') });
      expect(seen).toEqual([]);
    } finally {
      await Promise.all([target, redirecting].map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });
});
