import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrierSchema, BarrierFailureType, compensationStep, forwardStep, type BarrierDatabase, type BarrierOutcome } from '@saga-temporal/barrier';
import { numberPlaceholders, postgresBarrierDatabase } from '@saga-temporal/barrier/postgres';
import { sqliteBarrierDatabase } from '@saga-temporal/barrier/sqlite';
import { failureOf, testEngines, type TestDatabase } from '../postgres';

// The barrier package's two adapters on the raw drivers, as a project without this app's database
// layer would use them: tables from the exported schema, transactions that commit, roll back and
// take turns. The barrier's own ordering rules are pinned in barrier/ordering.test.ts.

interface Opened {
  db: BarrierDatabase;
  count(sql: string): Promise<number>;
  close(): Promise<void>;
}

// `frozen` refuses every row through a trigger that makes the database end the transaction by itself:
// SQLite's RAISE(ROLLBACK) at the insert, and on PostgreSQL a deferred constraint trigger at COMMIT.
const sqliteFrozen = [
  'CREATE TABLE frozen (id TEXT PRIMARY KEY)',
  "CREATE TRIGGER frozen_guard BEFORE INSERT ON frozen BEGIN SELECT RAISE(ROLLBACK, 'frozen takes no rows'); END",
];
const postgresFrozen = [
  'CREATE TABLE frozen (id TEXT PRIMARY KEY)',
  "CREATE FUNCTION frozen_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'frozen takes no rows'; END $$",
  'CREATE CONSTRAINT TRIGGER frozen_guard AFTER INSERT ON frozen DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION frozen_guard()',
];

async function open(url: string, onOutcome: (outcome: BarrierOutcome) => void): Promise<Opened> {
  if (url.startsWith('sqlite:')) {
    const conn = new BetterSqlite3(url.slice('sqlite:'.length), { timeout: 5000 });
    for (const statement of [...barrierSchema, 'CREATE TABLE effects (id TEXT PRIMARY KEY)', ...sqliteFrozen]) conn.exec(statement);
    return {
      db: sqliteBarrierDatabase(conn, { onOutcome }),
      count: async (sql) => (conn.prepare(sql).get() as { n: number }).n,
      close: async () => void conn.close(),
    };
  }
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  for (const statement of [...barrierSchema, 'CREATE TABLE effects (id TEXT PRIMARY KEY)', ...postgresFrozen]) await pool.query(statement);
  return {
    db: postgresBarrierDatabase(pool, { onOutcome }),
    count: async (sql) => Number((await pool.query<{ n: string }>(sql)).rows[0]?.n),
    close: () => pool.end(),
  };
}

describe.each(testEngines())('the barrier package on $name', (engine) => {
  let database: TestDatabase | undefined;
  let opened: Opened | undefined;
  const db = () => opened!.db;
  const outcomes: BarrierOutcome[] = [];
  beforeAll(async () => {
    if (!engine.create) return;
    database = await engine.create();
    opened = await open(database.url, (outcome) => void outcomes.push(outcome));
  });
  afterAll(async () => {
    await opened?.close();
    await database?.drop();
  });

  describe.skipIf(!engine.create)('adapter', () => {
    it('commits the barrier row and the business change together, and answers a repeat with the first result', async () => {
      const apply = (tx: Parameters<Parameters<BarrierDatabase['transaction']>[0]>[0]) => async () => {
        await tx.run('INSERT INTO effects (id) VALUES (?)', ['commit-1']);
        return { charged: 42 };
      };
      expect(await db().transaction((tx) => forwardStep(tx, 'pay', 'commit-1', apply(tx)))).toEqual({ charged: 42 });
      expect(await db().transaction((tx) => forwardStep(tx, 'pay', 'commit-1', apply(tx)))).toEqual({ charged: 42 });
      expect(await opened!.count("SELECT COUNT(*) AS n FROM effects WHERE id = 'commit-1'")).toBe(1);
    });

    it('rolls back the barrier row with a business change that throws, so the retry applies the step', async () => {
      const failing = db().transaction((tx) =>
        forwardStep(tx, 'pay', 'rollback-1', async () => {
          await tx.run('INSERT INTO effects (id) VALUES (?)', ['rollback-1']);
          throw new Error('card network down');
        }),
      );
      await expect(failing).rejects.toThrow('card network down');
      expect(await opened!.count("SELECT COUNT(*) AS n FROM barriers WHERE idem_key = 'rollback-1'")).toBe(0);
      expect(await db().transaction((tx) => forwardStep(tx, 'pay', 'rollback-1', async () => 'applied'))).toBe('applied');
    });

    it('refuses a forward step that arrives after its compensation, with the StepAlreadyCompensated failure', async () => {
      expect(await db().transaction((tx) => compensationStep(tx, 'pay', 'late-1', 'nothing', async () => 'refunded'))).toBe('nothing');
      const refusal = await failureOf(db().transaction((tx) => forwardStep(tx, 'pay', 'late-1', async () => 'charged')));
      expect(refusal).toMatchObject({ type: BarrierFailureType.StepAlreadyCompensated, nonRetryable: true, details: [{ service: 'pay', key: 'late-1' }] });
    });

    it('hands the caller the error with which the database ended the transaction by itself, and takes the next one', async () => {
      outcomes.length = 0;
      const failing = db().transaction((tx) =>
        forwardStep(tx, 'pay', 'frozen-1', async () => {
          await tx.run('INSERT INTO frozen (id) VALUES (?)', ['frozen-1']);
          return 'charged';
        }),
      );
      await expect(failing).rejects.toThrow('frozen takes no rows');
      expect(await opened!.count("SELECT COUNT(*) AS n FROM barriers WHERE idem_key = 'frozen-1'")).toBe(0);
      // Nothing committed, nothing reported; the next transaction runs as usual.
      expect(outcomes).toEqual([]);
      expect(await db().transaction((tx) => forwardStep(tx, 'pay', 'frozen-1', async () => 'charged'))).toBe('charged');
      expect(outcomes).toEqual([{ service: 'pay', phase: 'forward', outcome: 'applied' }]);
    });

    // Only SQLite ends a transaction by itself inside its body; PostgreSQL's trigger fires at COMMIT.
    if (engine.name === 'SQLite')
      it('reports a refusal that comes after SQLite ended the transaction by itself, with the refusal as the error', async () => {
        await db().transaction((tx) => compensationStep(tx, 'pay', 'late-frozen-1', 'nothing', async () => 'refunded'));
        outcomes.length = 0;
        const refused = db().transaction(async (tx) => {
          // A best-effort row the body does without when it is refused: here the trigger also ended the transaction.
          await tx.run('INSERT INTO frozen (id) VALUES (?)', ['audit-late-frozen-1']).catch(() => 0);
          return forwardStep(tx, 'pay', 'late-frozen-1', async () => 'charged');
        });
        expect(await failureOf(refused)).toMatchObject({ type: 'StepAlreadyCompensated' });
        expect(outcomes).toEqual([{ service: 'pay', phase: 'forward', outcome: 'refused_late' }]);
      });

    it('applies a step once when eight deliveries of it race', async () => {
      let applied = 0;
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          db().transaction((tx) =>
            forwardStep(tx, 'stock', 'race-1', async () => {
              await tx.run('INSERT INTO effects (id) VALUES (?)', ['race-1']);
              return ++applied;
            }),
          ),
        ),
      );
      expect(applied).toBe(1);
      expect(new Set(results)).toEqual(new Set([1]));
      expect(await opened!.count("SELECT COUNT(*) AS n FROM effects WHERE id = 'race-1'")).toBe(1);
    });
  });
});

describe('numberPlaceholders', () => {
  it("numbers each ? in order and leaves a ? inside a quoted literal alone", () => {
    expect(numberPlaceholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?")).toBe("SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2");
  });
});
