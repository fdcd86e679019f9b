// PostgreSQL's write-ahead log as the benches see it: how much a run wrote, and how many WAL segment files
// PostgreSQL had to create (zero-fill and fsync, 16 MB each) during it.
//
// A segment is created when no older one is there to reuse. While it is created every commit waits: at the
// switch's peak a new segment every few seconds stalled its commits for tens of milliseconds each time, which
// alone put a run's p99 over 25 ms. A Postgres that has been running reuses (recycles) the segments its
// checkpoints leave behind and creates none; a fresh data directory, as every bench starts with, has none to
// reuse until its first checkpoint cycle. `prepareWal` gives the bench that steady state before it measures.
import pg from 'pg';

export interface WalMark { lsn: string; created: number | null; at: number }
export interface WalUse {
  /** WAL written, MB. */
  mb: number;
  /** WAL segment files created (PostgreSQL 18 and later, from pg_stat_io; null before). */
  created: number | null;
}

async function major(c: pg.Client): Promise<number> {
  return Math.floor(Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v) / 10000);
}

/** Where the WAL is now, and how many segments PostgreSQL has created since its statistics began. */
export async function walMark(c: pg.Client): Promise<WalMark> {
  const init = (await major(c)) >= 18
    ? "(SELECT sum(writes)::bigint FROM pg_stat_io WHERE object = 'wal' AND context = 'init')"
    : 'NULL::bigint';
  // The insert position: what has been written into the WAL, flushed or not yet.
  const r = (await c.query<{ lsn: string; created: string | null }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn, ${init} AS created FROM pg_stat_clear_snapshot()`)).rows[0]!;
  return { lsn: r.lsn, created: r.created === null ? null : Number(r.created), at: Date.now() };
}

export async function walUse(c: pg.Client, before: WalMark): Promise<WalUse> {
  const after = await walMark(c);
  const bytes = Number((await c.query<{ d: string }>('SELECT pg_wal_lsn_diff($1, $2)::bigint AS d', [after.lsn, before.lsn])).rows[0]!.d);
  return { mb: Math.round(bytes / 1e5) / 10, created: after.created === null || before.created === null ? null : after.created - before.created };
}

/** Writes `mb` MB of WAL and nothing else: logical-decoding messages of 1 MB, not kept in any table. */
export async function writeWal(c: pg.Client, mb: number): Promise<void> {
  for (let i = 0; i < mb; i++) await c.query("SELECT pg_logical_emit_message(false, 'pointswitch-bench-wal', repeat('x', 1000000))");
}

/**
 * Brings a fresh database's WAL to the steady state of a running one: writes `mb` MB of WAL (logical-decoding
 * messages: WAL records only, no table pages) and checkpoints, so that the segments written are kept for reuse
 * (PostgreSQL keeps up to about max_wal_size of them after a checkpoint). Returns how many segments then lie
 * ahead of the one being written, ready to be reused.
 */
export async function prepareWal(c: pg.Client, mb: number): Promise<{ segmentsAhead: number; ms: number }> {
  const started = Date.now();
  await writeWal(c, mb);
  await c.query('CHECKPOINT');
  const r = await c.query<{ ahead: string }>("SELECT count(*) AS ahead FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn())");
  return { segmentsAhead: Number(r.rows[0]!.ahead), ms: Date.now() - started };
}

/** `prepareWal` on its own connection, told in one log line (the benches that keep no client of their own). */
export async function warmWal(url: string, mb: number, log: (s: string) => void): Promise<void> {
  if (!(mb > 0)) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const ready = await prepareWal(c, mb);
    log(`WAL warm-up: ${mb} MB written and a checkpoint; ${ready.segmentsAhead} segments ready for reuse (${(ready.ms / 1000).toFixed(1)} s)`);
  } finally {
    await c.end();
  }
}

export function formatWal(w: WalUse): string {
  return `WAL ${w.mb} MB${w.created === null ? '' : `, ${w.created} segment${w.created === 1 ? '' : 's'} created`}`;
}
