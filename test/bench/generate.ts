// Set-based generation of bench data in PostgreSQL, shared by the benches that need a ledger of millions of rows
// (bench:transactions, bench:clearing): the numbering of cards, merchants and terminals, in SQL and in TypeScript
// alike; a loop of INSERT … SELECT generate_series in chunks with progress; a bulk load with a table's indexes and
// constraints dropped and then rebuilt exactly as the migrations made them; and the finishing touches (sequences
// moved past the rows, VACUUM ANALYZE).
import type pg from 'pg';

/** Card `i` (from 1): 16 digits. */
export const cardNo = (i: number): string => `8862${String(i).padStart(12, '0')}`;
/** Merchant `i` (from 1): 15 characters, as merchants_merchant_id_check wants. */
export const merchantId = (i: number): string => `8983100${String(i).padStart(8, '0')}`;
/** Terminal `i` (from 1): 8 characters, as terminals_terminal_id_check wants. */
export const terminalId = (i: number): string => `B${String(i).padStart(7, '0')}`;

/** The same numbering as SQL expressions of an integer expression `e`. */
export const sqlIds = {
  card: (e: string): string => `'8862' || lpad((${e})::text, 12, '0')`,
  merchant: (e: string): string => `'8983100' || lpad((${e})::text, 8, '0')`,
  terminal: (e: string): string => `'B' || lpad((${e})::text, 7, '0')`,
};

export type Log = (line: string) => void;
type Queryable = Pick<pg.Pool, 'query'>;

/** Calls `each(from, to)` over 1..total in chunks of `chunkRows`, logging each chunk's rate. */
export async function inChunks(total: number, chunkRows: number, label: string, log: Log,
  each: (from: number, to: number) => Promise<void>): Promise<void> {
  for (let from = 1; from <= total; from += chunkRows) {
    const to = Math.min(total, from + chunkRows - 1);
    const started = Date.now();
    await each(from, to);
    const s = (Date.now() - started) / 1000;
    log(`${label}: rows ${to.toLocaleString('en')} of ${total.toLocaleString('en')} (${s.toFixed(1)} s, ${Math.round((to - from + 1) / s).toLocaleString('en')} rows/s)`);
  }
}

interface Definition { table: string; name: string; sql: string }
export interface TableDefinitions {
  /** Primary keys, unique and exclusion constraints of the tables (each builds an index). */
  keys: Definition[];
  /** Foreign keys from or to the tables. */
  foreignKeys: Definition[];
  /** Indexes of the tables that no constraint owns. */
  indexes: Definition[];
}

/** The definitions of `tables`' keys, foreign keys (either way) and plain indexes, as PostgreSQL prints them. */
export async function tableDefinitions(db: Queryable, tables: string[]): Promise<TableDefinitions> {
  const { rows: constraints } = await db.query<{ table: string; name: string; type: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS table, c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid) AS def
     FROM pg_constraint c
     WHERE c.contype IN ('p', 'u', 'x', 'f')
       AND (c.conrelid = ANY ($1::regclass[]) OR (c.contype = 'f' AND c.confrelid = ANY ($1::regclass[])))
     ORDER BY c.conname`, [tables]);
  const { rows: indexes } = await db.query<{ table: string; name: string; def: string }>(
    `SELECT i.indrelid::regclass::text AS table, i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index i
     WHERE i.indrelid = ANY ($1::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype <> 'f')
     ORDER BY 2`, [tables]);
  const constraint = (r: { table: string; name: string; def: string }): Definition =>
    ({ table: r.table, name: r.name, sql: `ALTER TABLE ${r.table} ADD CONSTRAINT ${r.name} ${r.def}` });
  return {
    keys: constraints.filter((c) => c.type !== 'f').map(constraint),
    foreignKeys: constraints.filter((c) => c.type === 'f').map(constraint),
    indexes: indexes.map((r) => ({ table: r.table, name: r.name, sql: r.def })),
  };
}

/**
 * Loads `tables` with their indexes, keys and foreign keys dropped, then builds them again from the definitions
 * read before (so the schema is the one the migrations made, names and all): building an index once over sorted
 * input is several times cheaper than keeping it up to date row by row. `load` gets the tables empty and free of
 * every constraint but NOT NULL and CHECK; what it loads must satisfy the keys, which are checked as they are
 * rebuilt. The tables' own rebuilds run in parallel, one connection a table, when `pool` has the connections.
 */
export async function loadWithoutIndexes(pool: pg.Pool, tables: string[], log: Log, load: () => Promise<void>): Promise<void> {
  const defs = await tableDefinitions(pool, tables);
  for (const d of defs.foreignKeys) await pool.query(`ALTER TABLE ${d.table} DROP CONSTRAINT ${d.name}`);
  for (const d of defs.indexes) await pool.query(`DROP INDEX ${d.name}`);
  for (const d of defs.keys) await pool.query(`ALTER TABLE ${d.table} DROP CONSTRAINT ${d.name}`);
  await load();
  const started = Date.now();
  await Promise.all(tables.map(async (table) => {
    for (const d of [...defs.keys, ...defs.indexes].filter((x) => x.table === table)) await pool.query(d.sql);
  }));
  for (const d of defs.foreignKeys) await pool.query(d.sql);
  log(`indexes and keys of ${tables.join(', ')} rebuilt (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/**
 * Fills an empty `table` by `each(from, to)` in one transaction that first truncates it: on a server with
 * wal_level=minimal, rows put in a table emptied in the same transaction skip the WAL.
 */
export async function fillTable(pool: pg.Pool, table: string, total: number, chunkRows: number, log: Log,
  each: (c: Queryable, from: number, to: number) => Promise<void>): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query(`TRUNCATE ${table}`);
    await inChunks(total, chunkRows, table, log, (from, to) => each(c, from, to));
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

/** Moves each table's identity sequence past the ids written explicitly, and VACUUM ANALYZEs the tables. */
export async function finishGeneration(db: Queryable, o: { identities?: Array<[table: string, column: string, last: number]>; analyse: string[] }, log: Log): Promise<void> {
  for (const [table, column, last] of o.identities ?? []) {
    await db.query('SELECT setval(pg_get_serial_sequence($1, $2), $3)', [table, column, last]);
  }
  const started = Date.now();
  for (const table of o.analyse) await db.query(`VACUUM ANALYZE ${table}`);
  log(`VACUUM ANALYZE ${o.analyse.join(', ')} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
