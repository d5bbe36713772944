import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { migrate } from './migrations';

/** A value bound to a `?` placeholder. Booleans are stored as 0/1, timestamps as ISO 8601 text. */
export type SqlValue = string | number | bigint | null;

/**
 * Runs portable SQL: `?` placeholders, `ON CONFLICT`, no engine-specific functions. The same
 * statement text serves SQLite and PostgreSQL.
 */
export interface Queryable {
  /** Every row the statement returns. */
  all<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row the statement returns, if any. */
  get<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement and resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** The storage of every service: one SQLite file or one PostgreSQL database. */
export interface Db extends Queryable {
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. On PostgreSQL
   * a deadlock or serialization failure re-runs `fn` (a few times), so `fn` must only touch the database.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Waits for running statements, then closes the connection(s). */
  close(): Promise<void>;
}

/** Thrown when a database URL is neither `sqlite:<file>` nor `postgres://…`. */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
  constructor(readonly url: string) {
    super(`Unsupported database URL ${redactUrl(url)}: use sqlite:<file>, sqlite::memory: or postgres://user:password@host:port/database`);
  }
}

/** The database the worker uses when `DATABASE_URL` is unset. */
export const DEFAULT_DATABASE_URL = 'sqlite:.data/saga.db';

/** The URL with its user and password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Whether `err` is a unique or primary-key violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** How long SQLite waits for another process's write lock, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /** Size of the PostgreSQL connection pool. @default 10 */
  poolSize?: number;
  /**
   * How long to wait for a PostgreSQL connection, new or from the pool, in ms; a call that waits
   * longer fails (and its activity retries) instead of hanging. @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * Longest PostgreSQL statement, in ms: the server cancels it (`statement_timeout`), and the client
   * gives up on a server that stopped answering a little later. @default 30000
   */
  statementTimeoutMs?: number;
  /** Where pool errors (a connection lost while idle) are reported. @default a JSON line on stderr */
  onPoolError?: (err: Error) => void;
}

/**
 * Opens `sqlite:<file>` (relative to the working directory; `sqlite::memory:` for a private
 * in-memory database) or `postgres://…`, and brings its schema up to date.
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Db> {
  let db: Db;
  if (url.startsWith('sqlite:')) {
    db = openSqlite(url.slice('sqlite:'.length), options.busyTimeoutMs ?? 5000);
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    db = openPostgres(url, options);
  } else {
    throw new DatabaseUrlError(url);
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

function openSqlite(path: string, busyTimeoutMs: number): Db {
  if (!path) throw new DatabaseUrlError('sqlite:');
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const conn = new BetterSqlite3(file, { timeout: busyTimeoutMs });
  conn.pragma('journal_mode = WAL');
  // FULL: a step Temporal recorded as done must survive a power failure. NORMAL in WAL mode may lose
  // the last commits, and the barrier row that makes a retried step a no-op would go with them.
  conn.pragma('synchronous = FULL');
  conn.pragma('foreign_keys = ON');
  return new SqliteDb(conn);
}

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/**
 * better-sqlite3 is synchronous and has one connection, while transactions here span `await`s: every
 * statement and transaction takes its turn in one in-process queue, so no caller ever sees another's
 * uncommitted writes. Other processes are kept out by `BEGIN IMMEDIATE` and the busy timeout.
 */
class SqliteDb implements Db {
  readonly engine = 'sqlite' as const;
  private turn: Promise<unknown> = Promise.resolve();
  private readonly statements = new Map<string, Statement>();
  private readonly direct: Queryable;

  constructor(private readonly conn: BetterSqlite3.Database) {
    this.direct = {
      all: async <T extends object>(sql: string, params: readonly SqlValue[] = []) => this.prepare(sql).all(...params) as T[],
      get: async <T extends object>(sql: string, params: readonly SqlValue[] = []) => this.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []) => this.prepare(sql).run(...params).changes,
    };
  }

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.conn.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn);
    this.turn = result.catch(() => undefined);
    return result;
  }

  all<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.exclusive(() => this.direct.all<T>(sql, params));
  }

  get<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.exclusive(() => this.direct.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.exclusive(() => this.direct.run(sql, params));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.conn.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.direct);
        this.conn.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.conn.inTransaction) this.conn.exec('ROLLBACK');
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      if (this.conn.open) this.conn.close();
    });
  }
}

// int8 (COUNT, BIGINT columns) and numeric (SUM of BIGINT) arrive as strings by default; every such
// value here is an amount of cents or units far below 2^53.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const numberTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as pg.CustomTypesConfig;

/** SQLSTATEs after which a transaction can simply be run again: serialization failure, deadlock. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
const TRANSACTION_ATTEMPTS = 5;

function openPostgres(url: string, options: OpenDatabaseOptions): Db {
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    types: numberTypes,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // The server cancels a statement that runs too long and ends a session left idle inside a
    // transaction (its locks would block every other step); the client gives up on a server that
    // does not answer at all.
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: 2 * statementTimeoutMs,
    query_timeout: statementTimeoutMs + 5_000,
  });
  // An idle client losing its connection (server restart) must not crash the process; it is logged,
  // and the next query reports the problem to its caller.
  const onPoolError = options.onPoolError ?? logPoolError;
  pool.on('error', (err) => onPoolError(err));
  return new PostgresDb(pool);
}

function logPoolError(err: Error): void {
  const code = (err as { code?: unknown }).code;
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'PostgreSQL pool error', error: { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) } })}\n`,
  );
}

const placeholderCache = new Map<string, string>();

/** Rewrites `?` placeholders to `$1, $2, …`, leaving quoted literals alone. */
export function toPostgresPlaceholders(sql: string): string {
  let translated = placeholderCache.get(sql);
  if (translated !== undefined) return translated;
  let n = 0;
  let quoted = false;
  translated = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    translated += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  placeholderCache.set(sql, translated);
  return translated;
}

function postgresQueryable(client: pg.Pool | pg.PoolClient): Queryable {
  const query = (sql: string, params: readonly SqlValue[] = []) => client.query(toPostgresPlaceholders(sql), params as unknown[]);
  return {
    all: async <T extends object>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
    get: async <T extends object>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rowCount ?? 0,
  };
}

class PostgresDb implements Db {
  readonly engine = 'postgres' as const;
  private readonly direct: Queryable;

  constructor(private readonly pool: pg.Pool) {
    this.direct = postgresQueryable(pool);
  }

  all<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }

  get<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.direct.run(sql, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        // Explicit, whatever the server's default: the barrier relies on READ COMMITTED, where a
        // statement that waited on another transaction's row lock sees that row once it commits.
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(postgresQueryable(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        const code = (err as { code?: unknown }).code;
        if (attempt >= TRANSACTION_ATTEMPTS || typeof code !== 'string' || !RETRYABLE_SQLSTATES.has(code)) throw err;
      } finally {
        client.release(broken);
      }
      // Jittered so that two transactions that just deadlocked do not collide again in step.
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
