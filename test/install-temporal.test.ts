import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TemporalBinaryError, temporalCli, temporalTestServer } from '../src/temporal-binaries';

const script = resolve(__dirname, '..', 'scripts', 'install-temporal.mjs');
const run = (env: Record<string, string>) => spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('install-temporal', () => {
  it('is idempotent: a second run finds both servers installed and installs nothing', () => {
    const res = run({});
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('Temporal CLI 1.9.1 already installed');
    expect(res.stdout).toContain('Temporal test server 1.38.0 already installed');
    expect(res.stdout).not.toContain('installing');
  });

  it('refuses a TEMPORAL_CLI_PATH that points nowhere, naming the variable, without a stack trace', () => {
    const res = run({ TEMPORAL_CLI_PATH: '/nonexistent' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('TEMPORAL_CLI_PATH=/nonexistent is not an executable file');
    expect(res.stderr).not.toMatch(/\bat .*\.m?js:\d+/);
  });

  it('refuses a TEMPORAL_TEST_SERVER_PATH that points nowhere', () => {
    const res = run({ TEMPORAL_TEST_SERVER_PATH: '/nonexistent/test-server' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('TEMPORAL_TEST_SERVER_PATH');
  });
});

describe('temporal-binaries', () => {
  it('resolves the installed servers to existing paths', () => {
    expect(temporalCli()).toMatchObject({ type: 'existing-path', path: expect.stringMatching(/\.temporal\/cli\/temporal$/) });
    expect(temporalTestServer()).toMatchObject({ type: 'existing-path', path: expect.stringMatching(/temporal-test-server$/) });
  });

  it('throws a TemporalBinaryError naming an override that does not exist', () => {
    const saved = process.env.TEMPORAL_TEST_SERVER_PATH;
    process.env.TEMPORAL_TEST_SERVER_PATH = '/nonexistent/test-server';
    try {
      expect(() => temporalTestServer()).toThrow(TemporalBinaryError);
      expect(() => temporalTestServer()).toThrow(/TEMPORAL_TEST_SERVER_PATH=\/nonexistent\/test-server does not exist/);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_TEST_SERVER_PATH;
      else process.env.TEMPORAL_TEST_SERVER_PATH = saved;
    }
  });
});
