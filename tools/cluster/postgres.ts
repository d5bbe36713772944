// The local cluster's PostgreSQL: Debian's server binaries (or PG_BIN) running a data folder of the
// cluster's own, on a port of its own, with password authentication over TCP on 127.0.0.1 only. The
// folder outlives the launcher, so workflows and the services' data survive a restart.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';

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
  /** The folder holding the data (the asked one, unless the postgres user cannot reach it). */
  dir: string;
  /** Process id of the postmaster, from its pid file; undefined when it is not running. */
  pid(): number | undefined;
  /** Stops the server (fast shutdown: open transactions roll back, nothing committed is lost). */
  stop(): void;
}

/** Creates the data folder on first use, then starts the server (or adopts one already running on it). */
export function startLocalPostgres(opts: LocalPostgresOptions): LocalPostgres {
  const bin = findPostgresBin();
  if (!bin) throw new LocalPostgresError('The cluster needs the PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN to their folder.');
  // PostgreSQL refuses to run as root: as root it runs as the `postgres` user, which must own its
  // folder and reach it. A checkout in a private home folder (root's) is out of its reach: then the
  // data goes to a folder of the postgres user's home, named after the cluster folder.
  const asRoot = process.getuid?.() === 0;
  mkdirSync(opts.dir, { recursive: true });
  const reachable = !asRoot || spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dirname(opts.dir)]).status === 0;
  const home = reachable ? opts.dir : join('/var/lib/postgresql', `saga-cluster-${createHash('sha256').update(opts.dir).digest('hex').slice(0, 12)}`);
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
