// The local cluster's PostgreSQL: Debian's server binaries (or PG_BIN) running a data folder of the
// cluster's own, on a port of its own, with password authentication over TCP on 127.0.0.1 only. The
// folder outlives the launcher, so workflows and the services' data survive a restart.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
  /** Stops the server (fast shutdown: open transactions roll back, nothing committed is lost). */
  stop(): void;
}

/** Creates the data folder on first use, then starts the server (or adopts one already running on it). */
export function startLocalPostgres(opts: LocalPostgresOptions): LocalPostgres {
  const bin = findPostgresBin();
  if (!bin) throw new LocalPostgresError('The cluster needs the PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN to their folder.');
  const data = join(opts.dir, 'data');
  const log = join(opts.dir, 'server.log');
  // PostgreSQL refuses to run as root: as root it runs as the `postgres` user, which must own its folder.
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    return spawnSync(cmd as string, argv as string[], { encoding: 'utf8', cwd: opts.dir });
  };
  const must = (tool: string, args: string[]) => {
    const res = run(tool, args);
    if (res.status !== 0) throw new LocalPostgresError(`${tool} failed (${res.status}): ${(res.stderr || res.stdout).trim()} (see ${log})`);
  };

  mkdirSync(opts.dir, { recursive: true });
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(opts.dir, uid, gid);
  }
  const created = !existsSync(join(data, 'PG_VERSION'));
  if (created) {
    rmSync(data, { recursive: true, force: true });
    const pwfile = join(opts.dir, 'initdb.pw');
    writeFileSync(pwfile, `${opts.superuserPassword}\n`, { mode: 0o600 });
    if (asRoot) chownSync(pwfile, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), 0);
    try {
      must('initdb', ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer', '-E', 'UTF8', '--no-instructions']);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  if (run('pg_ctl', ['-D', data, 'status']).status !== 0) {
    const settings = [`-p ${opts.port}`, `-k ${opts.dir}`, '-c listen_addresses=127.0.0.1', '-c max_connections=300'];
    if (opts.fast) settings.push('-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off');
    must('pg_ctl', ['-D', data, '-l', log, '-o', settings.join(' '), '-w', '-t', '60', 'start']);
  }
  return {
    port: opts.port,
    adminUrl: `postgres://postgres:${encodeURIComponent(opts.superuserPassword)}@127.0.0.1:${opts.port}/postgres`,
    created,
    stop: () => must('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
  };
}
