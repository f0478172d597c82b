/**
 * The collector's storage: one SQL schema and one tiny adapter (query, transaction, close) over
 * either PGlite, PostgreSQL compiled to WebAssembly and persisted in a folder (the embedded
 * default), or a PostgreSQL server through `pg` (several stateless collectors over one database).
 * Every query the collector runs is plain PostgreSQL that both accept.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PGlite as PGliteDb } from '@electric-sql/pglite';

/** Runs one statement with positional parameters ($1, $2, …) and returns its rows. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** Options of a transaction. */
export interface TransactionOptions {
  /** A read-only transaction on one snapshot (REPEATABLE READ): every statement sees the same data. Default false. */
  snapshot?: boolean;
}

/** A database the collector owns until `close()`. */
export interface Db extends Queryable {
  /** Which engine runs the queries. */
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Waits for running statements, then closes the database (PGlite) or its connections (PostgreSQL). */
  close(): Promise<void>;
}

/**
 * The schema (report format v2). `id` is the report's random id: its primary key is the replay guard.
 * Dates only, no time of day: `received_at` is the UTC day the collector stored the report.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS reports (
  id text PRIMARY KEY,
  day date NOT NULL,
  epsilon double precision NOT NULL CHECK (epsilon > 0 AND epsilon <= 10),
  q text NOT NULL CHECK (length(q) BETWEEN 1 AND 204),
  y integer NOT NULL CHECK (y >= 0 AND y < 5),
  received_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_day_id ON reports (day, id);
`;

/** Key of the advisory lock that lets only one of several collectors starting together create the schema. */
const SCHEMA_LOCK = 4190_2026;

async function migrate(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    // Reports of format v1 (one hashed value of a padded list) cannot be read as answers to questions.
    const v1 = await tx.query(
      "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'reports' AND column_name = 'g'",
    );
    if (v1.length) throw new Error('the database holds reports of format v1, which this collector cannot read: give it an empty database');
    for (const statement of SCHEMA.split(';').filter((s) => s.trim())) await tx.query(statement);
  });
}

const BEGIN_SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

/** Whether a process with this pid is alive (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `lock` holding this process's pid, atomically (two collectors starting together cannot both
 * win). A lock whose process is gone is stale and taken over, as is one with this process's own pid: a
 * restarted container gives the new process the old one's pid.
 */
function takeLock(lock: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    let pid = 0;
    try {
      pid = Number(readFileSync(lock, 'utf8').trim());
    } catch {
      // Removed meanwhile: try again.
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(`in use by another collector (pid ${pid}); several instances share a PostgreSQL database instead`);
    }
    rmSync(lock, { force: true });
  }
}

/** PGlite folders this process has open. */
const openHere = new Set<string>();

/**
 * Opens (creating it on first use) the PGlite database in folder `dir`. PGlite is a single process
 * database: a lock file keeps a second collector from opening the same folder while the first runs;
 * the lock of a process that died (a crash, SIGKILL) is taken over, and PostgreSQL's own recovery
 * replays its write-ahead log.
 */
export async function openPglite(dir: string): Promise<Db> {
  const key = path.resolve(dir);
  if (openHere.has(key)) throw new Error('in use by another collector in this process');
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'attnflow-collect.lock');
  takeLock(lock);
  openHere.add(key);
  const { PGlite } = await import('@electric-sql/pglite');
  let pg: PGliteDb;
  try {
    pg = await PGlite.create({ dataDir: path.join(dir, 'pgdata') });
  } catch (error) {
    rmSync(lock, { force: true });
    openHere.delete(key);
    throw error;
  }
  const db: Db = {
    kind: 'pglite',
    async query<T>(sql: string, params?: unknown[]) {
      return (await pg.query<T>(sql, params)).rows;
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) {
      // PGlite runs one connection: a transaction holds it alone, so every transaction already sees one snapshot.
      return pg.transaction(async (tx) => {
        if (options?.snapshot) await tx.query('SET TRANSACTION READ ONLY');
        return fn({ query: async <R>(sql: string, params?: unknown[]) => (await tx.query<R>(sql, params)).rows });
      });
    },
    async close() {
      await pg.close();
      rmSync(lock, { force: true });
      openHere.delete(key);
    },
  };
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/** Opens a pool of connections to the PostgreSQL server at `url` (postgres://user:password@host:port/database). */
export async function openPostgres(url: string, poolSize = 10): Promise<Db> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection the server drops (a restart, a failover) must not take the process down.
  pool.on('error', () => {});
  const db: Db = {
    kind: 'postgres',
    async query<T>(sql: string, params?: unknown[]) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(options?.snapshot ? BEGIN_SNAPSHOT : 'BEGIN');
        const result = await fn({ query: async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[] });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: it leaves the pool.
        client.release(broken);
      }
    },
    async close() {
      await pool.end();
    },
  };
  try {
    await migrate(db);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return db;
}
