// The migrate step: the versioned migrations in migrations/ (plain SQL files, `-- Up Migration` /
// `-- Down Migration`, run by node-pg-migrate), then the SQL functions of src/ledger/sql/, one a file, in the same
// transaction under one advisory lock (src/ledger/sql/README.md says the rules).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate';
import pg from 'pg';

function existsDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/**
 * A folder of the repository, found upwards from this file so it works from src/ (tsx) and from dist/src/ (the
 * built CLI: tsc copies no .sql, so dist/ has neither folder and the search goes on to the repository's).
 */
function repoDir(relative: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, relative);
    if (path.basename(dir) !== 'src' && existsDir(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve(relative);
}

/** The repository's migrations folder. */
export function migrationsDir(): string {
  return repoDir('migrations');
}

/** The folder of the SQL functions, one a file: src/ledger/sql/<name>.sql. */
export function functionsDir(): string {
  return repoDir(path.join('src', 'ledger', 'sql'));
}

export interface MigrateOptions {
  quiet?: boolean;
  direction?: 'up' | 'down';
  /** How many migrations to apply (down: to undo). Default: all up, one down. */
  count?: number;
  /** Where the function files are (default functionsDir(); a test points it at a changed copy). */
  functionsDir?: string;
  log?: (line: string) => void;
}

/**
 * Runs pending migrations and, going up, applies the function files; returns the names of the migrations run.
 * Concurrent callers wait for each other (the advisory lock), so two switches starting at once both succeed.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  const log = options.quiet ? () => {} : (options.log ?? ((line: string) => process.stdout.write(`${line}\n`)));
  const direction = options.direction ?? 'up';
  // Our own client, ended and awaited here: node-pg-migrate closes one it made without waiting for the end, so
  // the connection could outlive the call (a test dropping its database WITH (FORCE) right after then got an
  // uncaught 57P01 on it).
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    try {
      // node-pg-migrate's lock value, so its own CLI is kept out too; taken waiting (its runner only tries, and
      // fails "Another migration is already running"), and held to the end of this transaction.
      await client.query('SELECT pg_advisory_xact_lock($1)', [PG_MIGRATE_LOCK_ID]);
      await adoptSquashedChain(client, log);
      const ran = await runMigrations(client, options, log, direction);
      if (direction === 'up') await applyFunctions(client, options.functionsDir ?? functionsDir(), log);
      await client.query('COMMIT');
      return ran;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    await client.end();
  }
}

/** The transaction is ours: node-pg-migrate's BEGIN and COMMIT are left out, so the functions join its work. */
function inOurTransaction(client: pg.Client): Pick<pg.Client, 'query'> {
  const own = /^\s*(BEGIN|COMMIT|ROLLBACK)\s*;?\s*$/i;
  return {
    query: ((text: unknown, values?: unknown) => (typeof text === 'string' && own.test(text)
      ? Promise.resolve({ rows: [], rowCount: null, command: '', oid: 0, fields: [] })
      : client.query(text as string, values as unknown[]))) as pg.Client['query'],
  };
}

async function runMigrations(client: pg.Client, options: MigrateOptions, log: (line: string) => void, direction: 'up' | 'down'): Promise<string[]> {
  const ran = await runner({
    dbClient: inOurTransaction(client) as pg.Client,
    dir: migrationsDir(),
    // Only files named as migrations (a timestamp, then _): SCHEMA.sql lives beside them.
    ignorePattern: '(?!\\d+_).*',
    migrationsTable: 'pgmigrations',
    direction,
    count: options.count ?? (direction === 'down' ? 1 : Infinity),
    singleTransaction: true,
    noLock: true,
    checkOrder: true,
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return ran.map((m) => m.name);
}

/**
 * A database made by the migration chain the baseline replaced (its last step applied) has the baseline's schema
 * (test/db/migrate.test.ts compares the two): it is recorded as having run the baseline instead of the chain.
 */
async function adoptSquashedChain(client: pg.Client, log: (line: string) => void): Promise<void> {
  const chainEnd = '1763801500000_terminal-proven-keys';
  if ((await client.query(`SELECT to_regclass('pgmigrations') AS t`)).rows[0].t === null) return;
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgmigrations WHERE name = $1`, [chainEnd]);
  if (rows[0]?.n !== 1) return;
  await client.query(`DELETE FROM pgmigrations WHERE name <= $1`, [chainEnd]);
  await client.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('1763800000000_baseline', now())`);
  log('> the migration chain before the baseline was applied here: recorded as 1763800000000_baseline');
}

/** The function files in the order they are applied (by name: the bodies are checked once all exist). */
export function functionFiles(dir: string = functionsDir()): Array<{ name: string; sql: string }> {
  return readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()
    .map((f) => ({ name: f.slice(0, -4), sql: readFileSync(path.join(dir, f), 'utf8') }));
}

/**
 * Applies every function file with CREATE OR REPLACE, so the files are the whole truth about the ps_* functions:
 * - a file whose function changed its result type or parameter names (which CREATE OR REPLACE refuses) has the
 *   function of its name dropped first, then made again;
 * - a ps_* function that no file defined in this run (a file removed, or an older argument list of one) is
 *   dropped;
 * - bodies are checked only once every function exists (a SQL function is checked against the functions it
 *   calls), by each language's validator.
 * A table, view or constraint that used a dropped function would stop the drop: tables do not call ps_* functions.
 */
async function applyFunctions(client: pg.Client, dir: string, log: (line: string) => void): Promise<void> {
  const files = functionFiles(dir);
  await client.query('SET LOCAL check_function_bodies = off');
  const ofName = `SELECT p.oid::regprocedure::text AS sig, p.oid, p.xmin::text AS xmin FROM pg_proc p
                  WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = $1`;
  const defined = new Set<string>();
  for (const f of files) {
    if (!new RegExp(`^\\s*CREATE OR REPLACE FUNCTION ${f.name}\\s*\\(`, 'm').test(f.sql)) {
      throw new Error(`${f.name}.sql must define the function ${f.name} (CREATE OR REPLACE FUNCTION ${f.name}(…))`);
    }
    const before = new Set((await client.query(ofName, [f.name])).rows.map((r) => `${r.oid}/${r.xmin}`));
    await client.query('SAVEPOINT fn');
    try {
      await client.query(f.sql);
    } catch (err) {
      if ((err as { code?: string }).code !== '42P13') throw err;   // invalid_function_definition: a changed signature
      await client.query('ROLLBACK TO SAVEPOINT fn');
      for (const r of (await client.query(ofName, [f.name])).rows) await client.query(`DROP FUNCTION ${r.sig}`);
      await client.query(f.sql);
      log(`> function ${f.name}: dropped and made again (its signature changed)`);
    }
    await client.query('RELEASE SAVEPOINT fn');
    // The row this file wrote is new, or the old one with a new xmin; any other of this name is an older signature.
    for (const r of (await client.query(ofName, [f.name])).rows) {
      if (before.has(`${r.oid}/${r.xmin}`)) await client.query(`DROP FUNCTION ${r.sig}`);
      else defined.add(r.sig);
    }
  }
  const stale = await client.query<{ sig: string }>(`SELECT p.oid::regprocedure::text AS sig FROM pg_proc p
    WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'ps\\_%' AND NOT (p.oid::regprocedure::text = ANY ($1))`,
  [[...defined]]);
  for (const r of stale.rows) {
    await client.query(`DROP FUNCTION ${r.sig}`);
    log(`> function ${r.sig}: dropped (no file defines it)`);
  }
  await client.query('SET LOCAL check_function_bodies = on');
  await client.query(`SELECT CASE l.lanname WHEN 'sql' THEN fmgr_sql_validator(p.oid)::text WHEN 'plpgsql' THEN plpgsql_validator(p.oid)::text END
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'ps\\_%'`);
}
