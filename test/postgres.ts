import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll } from 'vitest';
import { findPostgresBin } from '../tools/cluster/postgres';
import { createServices, type Services } from '../src/services';
import { freePort } from '../scripts/lib/ports';

export { findPostgresBin };

// Test databases. SQLite needs nothing but a temporary file. PostgreSQL is either the server named by
// TEST_DATABASE_URL (a fresh database is created in it per test file) or a throwaway cluster started
// from the PostgreSQL server binaries (Debian: `apt-get install -y postgresql`).

/** A database for one test file; `drop()` removes it. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** One engine the service tests run on. */
export interface TestEngine {
  name: 'SQLite' | 'PostgreSQL';
  /** Undefined when the engine is unavailable and `SKIP_POSTGRES=1` allows skipping it. */
  create: (() => Promise<TestDatabase>) | undefined;
}

/** Thrown when no PostgreSQL is available and skipping was not asked for. */
export class PostgresUnavailableError extends Error {
  override readonly name = 'PostgresUnavailableError';
  constructor() {
    super(
      'No PostgreSQL for the tests: install the server binaries (Debian/Ubuntu: apt-get install -y postgresql; ' +
        'or set PG_BIN to their directory), or set TEST_DATABASE_URL to a server where the tests may create databases, ' +
        'or set SKIP_POSTGRES=1 to run the SQLite half only.',
    );
  }
}

/** A fresh SQLite file in a temporary directory. */
export async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'saga-sqlite-'));
  return { url: `sqlite:${join(dir, 'saga.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}



/**
 * Starts a throwaway PostgreSQL cluster: initdb into a temporary directory, a free port on 127.0.0.1,
 * trust authentication, durability off (it is deleted afterwards). The server refuses to run as root,
 * so as root it runs as the `postgres` user.
 */
export async function startPostgresCluster(bin: string): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'saga-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    const result = spawnSync(cmd as string, argv as string[], { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) {
      const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
      throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}\n${serverLog}`);
    }
  };
  const port = await freePort();
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    run('pg_ctl', ['-D', data, '-l', log, '-o', options, '-w', '-t', '60', 'start']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    drop: async () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A fresh database on the server of `adminUrl`, dropped afterwards. */
export async function createDatabaseOn(adminUrl: string): Promise<TestDatabase> {
  const name = `saga_test_${randomUUID().replace(/-/g, '')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** How the tests get a PostgreSQL database here, or undefined when skipping is allowed; throws otherwise. */
export function postgresFactory(): (() => Promise<TestDatabase>) | undefined {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (adminUrl) return () => createDatabaseOn(adminUrl);
  const bin = findPostgresBin();
  if (bin) return () => startPostgresCluster(bin);
  if (process.env.SKIP_POSTGRES === '1') return undefined;
  throw new PostgresUnavailableError();
}

/** SQLite and PostgreSQL, for `describe.each`. */
export function testEngines(): TestEngine[] {
  return [
    { name: 'SQLite', create: createSqliteDatabase },
    { name: 'PostgreSQL', create: postgresFactory() },
  ];
}

/**
 * Opens the services on a fresh database of `engine` before the tests of the enclosing `describe` and
 * closes and drops it after them. Faults start off whatever `SAGA_FAULTS` says.
 */
export function useTestServices(engine: TestEngine): () => Services {
  let database: TestDatabase | undefined;
  let services: Services | undefined;
  beforeAll(async () => {
    if (!engine.create) return;
    database = await engine.create();
    services = await createServices({ databaseUrl: database.url, faults: {}, operatorEmail: 'ops@saga.test' });
  });
  afterAll(async () => {
    await services?.close();
    await database?.drop();
  });
  return () => {
    if (!services) throw new Error(`${engine.name} services are not open`);
    return services;
  };
}

/** Awaits a call that must fail with an `ApplicationFailure`, and returns that failure. */
export async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await call.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`Expected a failure, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof ApplicationFailure)) throw outcome.error;
  return outcome.error;
}
