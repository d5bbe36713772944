// The local cluster's PostgreSQL: Debian's server binaries (or PG_BIN) running a data folder of the
// cluster's own, on a port of its own, with password authentication over TCP on 127.0.0.1 only. The
// folder outlives the launcher, so workflows and the services' data survive a restart.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, parse } from 'node:path';

/** Thrown when PostgreSQL is missing or will not start; the message names what to do. */
export class LocalPostgresError extends Error {
  override readonly name = 'LocalPostgresError';
}

/** The folder of `initdb` and `pg_ctl`: `PG_BIN`, the newest `/usr/lib/postgresql/<n>/bin`, or the PATH. */
export function findPostgresBin(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.PG_BIN) return existsSync(join(env.PG_BIN, 'initdb')) ? env.PG_BIN : undefined;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? join(which.stdout.trim(), '..') : undefined;
}

/** Where and how the local PostgreSQL runs. */
export interface LocalPostgresOptions {
  /** Folder holding `data/`, the socket and `server.log`. */
  dir: string;
  port: number;
  /** Password of the `postgres` superuser, set when the data folder is created. */
  superuserPassword: string;
  /** Turns fsync and synchronous commit off: for throw-away test clusters only. @default false */
  fast?: boolean;
}

/** A started local PostgreSQL. */
export interface LocalPostgres {
  port: number;
  /** Superuser URL, on 127.0.0.1. */
  adminUrl: string;
  /** Whether this call created the data folder. */
  created: boolean;
  /** The folder holding the data: the asked one, always. */
  dir: string;
  /** Process id of the postmaster, from its pid file; undefined when it is not running. */
  pid(): number | undefined;
  /** Stops the server (fast shutdown: open transactions roll back, nothing committed is lost). */
  stop(): void;
}

/** The first existing folder above `dir` that the postgres user may not enter, if any. */
function unreachableAncestor(dir: string): string | undefined {
  const { root } = parse(dir);
  const parts = dir.slice(root.length).split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const folder = join(root, ...parts.slice(0, i));
    if (!existsSync(folder)) return undefined;
    if (spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', folder]).status !== 0) return folder;
  }
  return undefined;
}

/**
 * Throws {@link LocalPostgresError} when PostgreSQL could not reach `dir`. PostgreSQL refuses to run
 * as root: as root it runs as the `postgres` user, which must reach its folder. A folder it cannot
 * reach (a checkout in root's private home folder) is refused, never swapped for one elsewhere: the
 * data stays in the cluster's folder, so that removing that folder removes the cluster.
 */
export function assertReachableByPostgres(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const blocked = unreachableAncestor(dir);
  if (blocked) {
    throw new LocalPostgresError(
      `PostgreSQL runs as the postgres user (it refuses root), and that user cannot enter ${blocked}, so it cannot reach ${dir}. ` +
        `Choose a data folder it can reach (--data-dir /var/tmp/saga-cluster), or let it pass through: setfacl -m u:postgres:x ${blocked}`,
    );
  }
}

/** Creates the data folder on first use, then starts the server (or adopts one already running on it). */
export function startLocalPostgres(opts: LocalPostgresOptions): LocalPostgres {
  const bin = findPostgresBin();
  if (!bin) throw new LocalPostgresError('The cluster needs the PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN to their folder.');
  assertReachableByPostgres(opts.dir);
  const asRoot = process.getuid?.() === 0;
  const home = opts.dir;
  mkdirSync(home, { recursive: true });
  const data = join(home, 'data');
  const log = join(home, 'server.log');
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    return spawnSync(cmd as string, argv as string[], { encoding: 'utf8', cwd: home });
  };
  const must = (tool: string, args: string[]) => {
    const res = run(tool, args);
    if (res.status !== 0) throw new LocalPostgresError(`${tool} failed (${res.status}): ${(res.stderr || res.stdout).trim()} (see ${log})`);
  };

  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(home, uid, gid);
  }
  const created = !existsSync(join(data, 'PG_VERSION'));
  if (created) {
    rmSync(data, { recursive: true, force: true });
    const pwfile = join(home, 'initdb.pw');
    writeFileSync(pwfile, `${opts.superuserPassword}\n`, { mode: 0o600 });
    if (asRoot) chownSync(pwfile, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), 0);
    try {
      must('initdb', ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer', '-E', 'UTF8', '--no-instructions']);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  if (run('pg_ctl', ['-D', data, 'status']).status !== 0) {
    const settings = [`-p ${opts.port}`, `-k ${home}`, '-c listen_addresses=127.0.0.1', '-c max_connections=300'];
    if (opts.fast) settings.push('-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off');
    must('pg_ctl', ['-D', data, '-l', log, '-o', settings.join(' '), '-w', '-t', '60', 'start']);
  }
  return {
    port: opts.port,
    adminUrl: `postgres://postgres:${encodeURIComponent(opts.superuserPassword)}@127.0.0.1:${opts.port}/postgres`,
    created,
    dir: home,
    pid: () => {
      const file = join(data, 'postmaster.pid');
      const first = existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : NaN;
      return Number.isInteger(first) ? first : undefined;
    },
    stop: () => must('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
  };
}
