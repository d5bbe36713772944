import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openDatabase, type Db } from '../../src/services';
import { createSqliteDatabase, postgresFactory, type TestDatabase } from '../postgres';

// The database settings the services rely on for durability and for not hanging: SQLite syncs every
// commit; PostgreSQL times out a connection, a statement or a server that stopped answering (so an
// activity fails and retries instead of hanging the worker), logs pool errors, and runs the barrier
// under READ COMMITTED whatever the server's default.

/** A TCP proxy in front of `target` that can stop forwarding, like a server that hangs or a network that drops packets. */
async function freezableProxy(target: { host: string; port: number }): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk) => frozen || upstream.write(chunk));
    upstream.on('data', (chunk) => frozen || client.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => {
      frozen = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('SQLite', () => {
  it('syncs every commit to disk (synchronous=FULL), so a step Temporal recorded as done survives a power failure', async () => {
    const database = await createSqliteDatabase();
    const db = await openDatabase(database.url);
    try {
      expect(await db.get<{ synchronous: number }>('PRAGMA synchronous')).toEqual({ synchronous: 2 });
    } finally {
      await db.close();
      await database.drop();
    }
  });
});

const createPostgres = postgresFactory();

describe.skipIf(!createPostgres)('PostgreSQL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createPostgres!();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('fails to connect to a server that accepts connections but never answers, instead of hanging', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `postgres://saga:secret@127.0.0.1:${(silent.address() as { port: number }).port}/saga`;
      await expect(openDatabase(url, { connectTimeoutMs: 500 })).rejects.toThrow(/timeout/i);
    } finally {
      silent.close();
    }
  }, 20_000);

  it('fails a call when the server stops answering mid-way, so the activity retries instead of hanging', async () => {
    const url = new URL(database.url);
    const proxy = await freezableProxy({ host: url.hostname, port: Number(url.port) });
    url.port = String(proxy.port);
    const db = await openDatabase(url.toString(), { statementTimeoutMs: 300 });
    try {
      expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 });
      proxy.freeze();
      const failure = await db.transaction((tx) => tx.get('SELECT 1 AS one')).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(/timeout/i);
      // A plain error, not a non-retryable business failure: the activity's retry policy applies.
      expect((failure as { nonRetryable?: boolean }).nonRetryable).toBeUndefined();
    } finally {
      await proxy.close();
      await db.close().catch(() => undefined);
    }
  }, 30_000);

  it('cancels a statement that runs longer than the statement timeout', async () => {
    const db = await openDatabase(database.url, { statementTimeoutMs: 200 });
    try {
      await expect(db.get('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
    } finally {
      await db.close();
    }
  });

  it('reports a pool error, such as an idle connection the server ended, to its logger', async () => {
    const errors: Error[] = [];
    const db = await openDatabase(database.url, { onPoolError: (err) => errors.push(err) });
    try {
      const [{ pid }] = (await db.all<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      } finally {
        await admin.end();
      }
      for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(errors.map((e) => e.message).join('\n')).toMatch(/terminat/i);
    } finally {
      await db.close();
    }
  });

  it('runs transactions under READ COMMITTED even when the server defaults to SERIALIZABLE', async () => {
    const url = new URL(database.url);
    url.searchParams.set('options', '-c default_transaction_isolation=serializable');
    const db: Db = await openDatabase(url.toString());
    try {
      expect(await db.get('SHOW transaction_isolation')).toEqual({ transaction_isolation: 'serializable' });
      expect(await db.transaction((tx) => tx.get('SHOW transaction_isolation'))).toEqual({ transaction_isolation: 'read committed' });
    } finally {
      await db.close();
    }
  });
});
