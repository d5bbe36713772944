import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterBinaryMissingError, clusterBinaries, TemporalBinaryError, temporalCli, temporalTestServer } from '../../tools/temporal-binaries';

const script = resolve(__dirname, '..', '..', 'scripts', 'install-temporal.mjs');
/** Read, not imported: importing the script would run it. */
const SERVER_VERSION = /export const SERVER_VERSION = '([^']+)'/.exec(readFileSync(script, 'utf8'))?.[1];
const run = (env: Record<string, string>) => spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('install-temporal', () => {
  it('is idempotent: a second run finds both servers installed and installs nothing', () => {
    const res = run({});
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('Temporal CLI 1.9.1 already installed');
    expect(res.stdout).toMatch(/Temporal test server 1\.38\.0\+launcher\.\d+ already installed/);
    expect(res.stdout).not.toContain('archived');
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

describe('install-temporal --cluster', () => {
  it('finds the server, its schema tool and schema and the Web UI server installed, and builds nothing', () => {
    const res = spawnSync(process.execPath, [script, '--cluster'], { encoding: 'utf8' });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain(`the Temporal server ${SERVER_VERSION} already installed`);
    expect(res.stdout).toContain('the Temporal Web UI server 2.54.1 already installed');
    expect(res.stdout).toContain('NATS server 2.15.3 already installed');
    expect(res.stdout).not.toContain('installing');
    const paths = JSON.parse(readFileSync(resolve(__dirname, '..', '..', '.temporal', 'paths.json'), 'utf8')) as Record<string, { path: string }>;
    expect(Object.keys(paths).sort()).toEqual(['cli', 'nats', 'schema', 'server', 'sqlTool', 'testServer', 'ui']);
    expect(spawnSync(paths.nats?.path ?? '', ['--version'], { encoding: 'utf8' }).stdout).toContain('v2.15.3');
    expect(existsSync(join(paths.schema?.path ?? '', 'visibility', 'versioned'))).toBe(true);
  });

  it('on a machine without Go, says in one line what is missing and how to provide it, before fetching anything', () => {
    const clean = mkdtempSync(join(tmpdir(), 'install-temporal-'));
    try {
      const res = spawnSync(process.execPath, [script, '--cluster'], {
        encoding: 'utf8',
        env: { ...process.env, TEMPORAL_INSTALL_DIR: clean, PATH: ['/usr/bin', '/bin'].filter((d) => !existsSync(join(d, 'go'))).join(':') },
      });
      expect(res.status).toBe(1);
      expect(res.stderr.trim().split('\n')).toEqual([
        `[install-temporal] Building the Temporal server ${SERVER_VERSION} needs Go 1.25 or newer on the PATH (Debian: golang-go), or set TEMPORAL_SERVER_PATH to use your own.`,
      ]);
      expect(res.stdout).not.toContain('Temporal CLI');
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
  });

  it('without the PostgreSQL server binaries, names them and PG_BIN', () => {
    const res = spawnSync(process.execPath, [script, '--cluster'], { encoding: 'utf8', env: { ...process.env, PG_BIN: '/nonexistent' } });
    expect(res.status).toBe(1);
    expect(res.stderr.trim()).toBe('[install-temporal] The cluster needs the PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN to their folder.');
  });

  it('is not run by npm run cluster -- --help, which prints the help at once', () => {
    const res = spawnSync('npm', ['run', '--silent', 'cluster', '--', '--help'], {
      cwd: resolve(__dirname, '..', '..'),
      encoding: 'utf8',
      // An installer run would fail on this path: the help must come without one.
      env: { ...process.env, TEMPORAL_SERVER_PATH: '/nonexistent/temporal-server' },
    });
    expect(res.stderr).not.toContain('install-temporal');
    expect(res.stdout).toContain('Usage: npm run cluster -- [options]');
    expect(res.status).toBe(0);
  });

  it('refuses a TEMPORAL_SERVER_PATH that points nowhere', () => {
    const res = spawnSync(process.execPath, [script, '--cluster'], { encoding: 'utf8', env: { ...process.env, TEMPORAL_SERVER_PATH: '/nonexistent/temporal-server' } });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('TEMPORAL_SERVER_PATH=/nonexistent/temporal-server is not an executable file');
  });
});

describe('clusterBinaries', () => {
  it('resolves the installed server, schema tool, schema and Web UI server', () => {
    const bins = clusterBinaries();
    expect(bins.server).toMatch(/\.temporal\/server\/temporal-server$/);
    expect(bins.sqlTool).toMatch(/\.temporal\/server\/temporal-sql-tool$/);
    expect(bins.uiServer).toMatch(/\.temporal\/ui-server\/temporal-ui-server$/);
    expect(existsSync(join(bins.schemaDir, 'temporal', 'versioned'))).toBe(true);
  });

  it('throws a ClusterBinaryMissingError naming the install command and the override when the schema is missing', () => {
    const saved = process.env.TEMPORAL_SCHEMA_DIR;
    process.env.TEMPORAL_SCHEMA_DIR = '/nonexistent/schema';
    try {
      expect(() => clusterBinaries()).toThrow(ClusterBinaryMissingError);
      expect(() => clusterBinaries()).toThrow(/npm run install-temporal -- --cluster.*TEMPORAL_SCHEMA_DIR/);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_SCHEMA_DIR;
      else process.env.TEMPORAL_SCHEMA_DIR = saved;
    }
  });
});
