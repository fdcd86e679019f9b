// A month of switch traffic for bench:clearing, made with set-based SQL (generate_series, no row through Node): the
// merchants, terminals and cards, and `transactions` authorisations of one period with the ledger rows the switch
// would have written for them, so the clearing's control totals hold (each merchant's ledger side moves by what its
// authorisations say; counts match). Row i (from 1, in time order across the month, business dates in `timeZone`):
//  - i % 50 = 0: a void of row i-1 (same terminal, batch, card; the original 'voided');
//  - i % 100 = 25: a partial refund of half of row i-7 (the original 'partially_refunded');
//  - otherwise a purchase: i % 200 = 111 reversed (no row of its own: the original 'reversed' and a ledger row
//    'reversal' under the original's id, on its business date), i % 200 = 77 declined (no ledger row).
// Every terminal is some merchant's (3 each at 300,000 terminals for 100,000 merchants), and each sees every kind of
// row over the month. About 1 % of the terminals (a merchant's second or third, numbered 5 modulo 67) were enabled
// mid-month (terminal_status_history) and have no traffic: their rows go to the terminal before. A merchant
// numbered 42 modulo 100 changed its fee rate on the 16th (merchant_rates); one in ten gives a discount (45 points
// a yuan instead of 50). Fee rates are 30 to 100 basis points.
// Run alone, `tsx test/bench/clearing-data.ts --transactions N --data-dir DIR` generates into an embedded PostgreSQL
// at DIR (kept: bench:clearing --reuse finds it there when DIR is its own) and checks the totals.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate, migrationsDir } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { fillTable, finishGeneration, loadWithoutIndexes, sqlIds, type Log } from './generate.js';

export interface ClearingDataOptions {
  /** Authorisation rows (purchases, voids, refunds; reversals are states of purchases). */
  transactions: number;
  merchants: number;
  terminals: number;
  cards: number;
  /** 'YYYY-MM'. */
  period: string;
  timeZone: string;
  log: Log;
  /** Rows an INSERT (default 1,000,000). */
  chunkRows?: number;
}

type Queryable = Pick<pg.Pool, 'query'>;

/** The first day of `period` and the days in it. */
export function periodDays(period: string): { start: string; days: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(period);
  if (!m) throw new Error(`period ${period}: expected YYYY-MM`);
  const days = new Date(Date.UTC(Number(m[1]), Number(m[2]), 0)).getUTCDate();
  return { start: `${period}-01`, days };
}

/** Terminals with no traffic: enabled mid-month. */
const idleTerminal = (k: string, merchants: string) => `((${k}) > ${merchants} AND (${k}) % 67 = 5)`;
const rateChangeMerchant = (m: string) => `(${m}) % 100 = 42`;
const pointsPerYuan = (m: string) => `CASE WHEN (${m}) % 10 = 3 THEN 45 ELSE 50 END`;
const feeRateBp = (m: string) => `30 + ((${m}) * 37) % 71`;
const newFeeRateBp = (m: string) => `30 + ((${m}) * 37 + 20) % 71`;

/**
 * Row i of the month as a subquery, every column the two tables need. Parameters: $1 from, $2 to, $3 rows in all,
 * $4 terminals, $5 merchants, $6 cards, $7 the period's first day (local), $8 seconds between rows, $9 the time zone.
 */
const monthRows = `
  SELECT i, r.kind, r.o, r.at::date AS business_date, r.at AT TIME ZONE $9 AS created_at,
         ${sqlIds.terminal('t.k')} AS terminal_id, ${sqlIds.card('t.card')} AS card_no, ${sqlIds.merchant('m.m')} AS merchant_id,
         -- unique on the terminal: row o of the month is the (o / terminals)th of its terminal's (k0, as o % terminals
         -- is shifted by it); kind and move keep a void, a refund and a moved row apart from the purchases
         lpad(((CASE r.kind WHEN 'purchase' THEN 0 WHEN 'void' THEN 2 ELSE 4 END + t.moved) * 100000 + r.o / $4)::text, 6, '0') AS trace,
         m.ppy, f.declined, f.voided, f.refunded, f.reversed,
         CASE WHEN r.kind = 'refund' THEN t.amount_o / 2 ELSE t.amount_o END AS amount_fen,
         CASE WHEN f.declined THEN 0 WHEN r.kind = 'refund' THEN ps_points(t.amount_o / 2, m.ppy) ELSE ps_points(t.amount_o, m.ppy) END AS points,
         CASE WHEN f.refunded THEN t.amount_o / 2 ELSE 0 END AS refunded_fen,
         CASE WHEN f.refunded THEN ps_points(t.amount_o / 2, m.ppy) ELSE 0 END AS refunded_points
  FROM generate_series($1::bigint, $2::bigint) i
  CROSS JOIN LATERAL (SELECT CASE WHEN i % 50 = 0 THEN 'void' WHEN i % 100 = 25 THEN 'refund' ELSE 'purchase' END AS kind,
                             CASE WHEN i % 50 = 0 THEN i - 1 WHEN i % 100 = 25 THEN i - 7 ELSE i END AS o,
                             $7::timestamp + (i - 1) * $8::float8 * interval '1 second' AS at) r
  CROSS JOIN LATERAL (SELECT 1 + (r.o % $4 + 7919 * (r.o / $4)) % $4 AS k) k0
  CROSS JOIN LATERAL (SELECT k0.k - (${idleTerminal('k0.k', '$5')})::int AS k, (${idleTerminal('k0.k', '$5')})::int AS moved,
                             1 + (r.o * 7919) % $6 AS card, 100 + (r.o * 7919) % 49901 AS amount_o) t
  CROSS JOIN LATERAL (SELECT 1 + (t.k - 1) % $5 AS m, ${pointsPerYuan('1 + (t.k - 1) % $5')} AS ppy) m
  CROSS JOIN LATERAL (SELECT r.kind = 'purchase' AND i % 200 = 77 AS declined,
                             r.kind = 'purchase' AND i % 50 = 49 AND i + 1 <= $3 AS voided,
                             r.kind = 'purchase' AND i % 100 = 18 AND i + 7 <= $3 AS refunded,
                             r.kind = 'purchase' AND i % 200 = 111 AS reversed) f`;

async function referenceData(pool: pg.Pool, o: ClearingDataOptions, start: string): Promise<void> {
  const started = Date.now();
  await pool.query(`INSERT INTO merchants (merchant_id, name, points_per_yuan, fee_rate_bp, created_at)
    SELECT ${sqlIds.merchant('m')}, 'Bench merchant ' || m, ${pointsPerYuan('m')},
           CASE WHEN ${rateChangeMerchant('m')} THEN ${newFeeRateBp('m')} ELSE ${feeRateBp('m')} END, ($2::date - 300)::timestamp AT TIME ZONE $3
    FROM generate_series(1, $1) m`, [o.merchants, start, o.timeZone]);
  // As src/ledger/merchant-rates.ts records a change: the rates before it since always, then the new one.
  await pool.query(`INSERT INTO merchant_rates (merchant_id, effective_from, points_per_yuan, fee_rate_bp)
    SELECT ${sqlIds.merchant('m')}, e.f, ${pointsPerYuan('m')}, CASE WHEN e.f = '-infinity' THEN ${feeRateBp('m')} ELSE ${newFeeRateBp('m')} END
    FROM generate_series(1, $1) m CROSS JOIN (VALUES ('-infinity'::date), ($2::date + 15)) e(f)
    WHERE ${rateChangeMerchant('m')}`, [o.merchants, start]);
  await pool.query(`INSERT INTO terminals (terminal_id, merchant_id, tmk_enc, created_at)
    SELECT ${sqlIds.terminal('k')}, ${sqlIds.merchant('1 + (k - 1) % $2')}, '\\x00112233445566778899aabbccddeeff'::bytea,
           (CASE WHEN ${idleTerminal('k', '$2')} THEN $3::date - 30 ELSE $3::date - 300 END)::timestamp AT TIME ZONE $4
    FROM generate_series(1, $1) k`, [o.terminals, o.merchants, start, o.timeZone]);
  // As src/admin/terminals.ts records a change of status: the one it had since it was made, then the new one.
  await pool.query(`INSERT INTO terminal_status_history (terminal_id, effective_at, status)
    SELECT ${sqlIds.terminal('k')}, e.at, e.status
    FROM generate_series(1, $1) k
    CROSS JOIN LATERAL (VALUES (($2::date - 30)::timestamp AT TIME ZONE $3, 'suspended'),
                               ((($2::date + 11 + k % 7)::timestamp + interval '9 hours') AT TIME ZONE $3, 'active')) e(at, status)
    WHERE ${idleTerminal('k', '$4')}`, [o.terminals, start, o.timeZone, o.merchants]);
  await pool.query(`INSERT INTO cards (card_no, expiry, balance) SELECT ${sqlIds.card('c')}, '3012', 1000000000 FROM generate_series(1, $1) c`, [o.cards]);
  for (const t of ['merchants', 'merchant_rates', 'terminals', 'terminal_status_history', 'cards']) await pool.query(`ANALYZE ${t}`);
  o.log(`${o.merchants.toLocaleString('en')} merchants, ${o.terminals.toLocaleString('en')} terminals, ${o.cards.toLocaleString('en')} cards (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/**
 * Generates the month into an empty, migrated database. `pool` needs 2 connections to fill the two big tables at
 * once. Fastest on a server with wal_level=minimal (the rows then skip the WAL).
 */
export async function generateClearingData(pool: pg.Pool, o: ClearingDataOptions): Promise<void> {
  const { start, days } = periodDays(o.period);
  // Terminal traces are made unique by the row's place in its terminal's sequence, below 100,000.
  if (o.transactions / o.terminals >= 100_000) throw new Error('more than 100,000 rows a terminal: give more terminals');
  if (o.terminals < o.merchants) throw new Error('every merchant needs a terminal: give at least as many terminals as merchants');
  await referenceData(pool, o, start);
  const params = (from: number, to: number) => [from, to, o.transactions, o.terminals, o.merchants, o.cards, start, (days * 86_400) / o.transactions, o.timeZone];
  const chunk = o.chunkRows ?? 1_000_000;
  await loadWithoutIndexes(pool, ['authorisations', 'ledger_txns'], o.log, () => Promise.all([
    fillTable(pool, 'authorisations', o.transactions, chunk, o.log, (c, from, to) => c.query(`
      INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id, amount_fen, points,
                                  points_per_yuan, state, response_code, response, rrn, auth_code, original_auth_id, refunded_fen,
                                  refunded_points, created_at, balance_after)
      SELECT i, terminal_id, '000001', trace, business_date, kind, card_no, merchant_id, amount_fen, points, ppy,
             CASE WHEN declined THEN 'declined' WHEN voided THEN 'voided' WHEN refunded THEN 'partially_refunded'
                  WHEN reversed THEN 'reversed' ELSE 'approved' END,
             CASE WHEN declined THEN '51' ELSE '00' END,
             CASE WHEN declined THEN '{"ok": false, "decline": {"kind": "insufficient-points", "balancePoints": 0}}'::jsonb
                  WHEN kind <> 'purchase' THEN '{"ok": true}'::jsonb END,
             CASE WHEN NOT declined THEN ps_rrn(i) END, CASE WHEN NOT declined THEN ps_auth_code(i) END,
             CASE WHEN kind <> 'purchase' THEN o END, refunded_fen, refunded_points, created_at,
             CASE WHEN NOT declined THEN 1000000 END
      FROM (${monthRows}) r`, params(from, to)).then(() => {})),
    // A purchase's debit, a void's or refund's credit, and after a reversed purchase its reversal, 30 s later.
    fillTable(pool, 'ledger_txns', o.transactions, chunk, o.log, (c, from, to) => c.query(`
      INSERT INTO ledger_txns (card_no, kind, auth_id, created_at, member_points, counter_kind, merchant_id, bucket, business_date)
      SELECT card_no, CASE WHEN s = 2 THEN 'reversal' ELSE kind END, i, created_at + (s - 1) * interval '30 seconds',
             CASE WHEN kind = 'purchase' AND s = 1 THEN -points ELSE points END, 'merchant', merchant_id, ps_bucket(card_no), business_date
      FROM (${monthRows}) r CROSS JOIN generate_series(1, CASE WHEN reversed THEN 2 ELSE 1 END) s
      WHERE NOT declined`, params(from, to)).then(() => {})),
  ]).then(() => {}));
  await finishGeneration(pool, { identities: [['authorisations', 'auth_id', o.transactions]], analyse: ['authorisations', 'ledger_txns'] }, o.log);
}

export interface ClearingDataTotals {
  merchants: number;
  purchaseCount: number;
  purchasePoints: number;
  voidCount: number;
  voidPoints: number;
  refundCount: number;
  refundPoints: number;
  reversalCount: number;
  reversalPoints: number;
  netPoints: number;
  /** (merchant, business date) groups where the ledger and the authorisations disagree. */
  mismatches: number;
}

/**
 * What the clearing will check, checked on the data: each merchant's ledger side, business date by business date,
 * moves by what its authorisations say, in points and in counts of each kind (a reversal on its original's date). Returns the month's
 * totals, the figures a clearing run must reproduce (its points are the members' side: purchases negative).
 */
export async function checkClearingData(db: Queryable): Promise<ClearingDataTotals> {
  const by = 'merchant_id, business_date';
  const { rows } = await db.query(`
    WITH l AS (
      SELECT ${by}, sum(member_points) AS points,
             count(*) FILTER (WHERE kind = 'purchase') AS purchases, count(*) FILTER (WHERE kind = 'void') AS voids,
             count(*) FILTER (WHERE kind = 'refund') AS refunds, count(*) FILTER (WHERE kind = 'reversal') AS reversals,
             sum(-member_points) FILTER (WHERE kind = 'purchase') AS purchase_points, sum(member_points) FILTER (WHERE kind = 'void') AS void_points,
             sum(member_points) FILTER (WHERE kind = 'refund') AS refund_points, sum(member_points) FILTER (WHERE kind = 'reversal') AS reversal_points
      FROM ledger_txns WHERE counter_kind = 'merchant' GROUP BY ${by}
    ), a AS (
      SELECT ${by},
             sum(CASE WHEN kind = 'purchase' THEN -points + CASE WHEN state = 'reversed' THEN points - refunded_points ELSE 0 END ELSE points END) AS points,
             count(*) FILTER (WHERE kind = 'purchase') AS purchases, count(*) FILTER (WHERE kind = 'void') AS voids,
             count(*) FILTER (WHERE kind = 'refund') AS refunds, count(*) FILTER (WHERE state = 'reversed') AS reversals
      FROM authorisations WHERE state NOT IN ('declined', 'reversal_marker') GROUP BY ${by}
    )
    SELECT count(DISTINCT l.merchant_id)::int AS merchants,
           count(*) FILTER (WHERE (l.points, l.purchases, l.voids, l.refunds, l.reversals) IS DISTINCT FROM (a.points, a.purchases, a.voids, a.refunds, a.reversals))::int AS mismatches,
           sum(l.purchases)::bigint AS purchase_count, sum(l.purchase_points)::bigint AS purchase_points,
           sum(l.voids)::bigint AS void_count, coalesce(sum(l.void_points), 0)::bigint AS void_points,
           sum(l.refunds)::bigint AS refund_count, coalesce(sum(l.refund_points), 0)::bigint AS refund_points,
           sum(l.reversals)::bigint AS reversal_count, coalesce(sum(l.reversal_points), 0)::bigint AS reversal_points,
           sum(l.points)::bigint AS net_points
    FROM l FULL JOIN a USING (${by})`);
  const r = rows[0] as Record<string, string | number>;
  const n = (k: string) => Number(r[k] ?? 0);
  return {
    merchants: n('merchants'), mismatches: n('mismatches'),
    purchaseCount: n('purchase_count'), purchasePoints: n('purchase_points'), voidCount: n('void_count'), voidPoints: n('void_points'),
    refundCount: n('refund_count'), refundPoints: n('refund_points'), reversalCount: n('reversal_count'), reversalPoints: n('reversal_points'),
    netPoints: n('net_points'),
  };
}

/** What a data directory was generated with, and what came of it: bench-data.json beside its PostgreSQL. */
export interface GeneratedData {
  options: Omit<ClearingDataOptions, 'log' | 'chunkRows'>;
  /** The migrations it was made by: a database made before a new one is made again. */
  migrations: string[];
  seconds: number;
  totals: ClearingDataTotals;
}

/** Settings for generating only: the rows skip the WAL, nothing is flushed, indexes are built with memory to spare. */
const generationSettings = {
  fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', wal_level: 'minimal', max_wal_senders: '0',
  maintenance_work_mem: '1GB', max_parallel_maintenance_workers: '2', autovacuum: 'off', checkpoint_timeout: '30min',
};

const manifest = (dataDir: string) => path.join(dataDir, 'bench-data.json');
const migrationNames = () => readdirSync(migrationsDir()).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();

/** The data generated in `dataDir` before with the same options and migrations, or null. */
export function generatedBefore(dataDir: string, options: GeneratedData['options']): GeneratedData | null {
  if (!existsSync(manifest(dataDir))) return null;
  const made = JSON.parse(readFileSync(manifest(dataDir), 'utf8')) as GeneratedData;
  const keys = Object.keys(options) as Array<keyof GeneratedData['options']>;
  const same = keys.length === Object.keys(made.options).length && keys.every((k) => made.options[k] === options[k])
    && JSON.stringify(made.migrations) === JSON.stringify(migrationNames());
  return same ? made : null;
}

/**
 * Makes `dataDir` anew: an embedded PostgreSQL at dataDir/pg, migrated, the month generated and checked, the server
 * stopped (its shutdown checkpoint writes every page), and bench-data.json written last. Throws when the check fails.
 */
export async function generateDatabase(dataDir: string, o: ClearingDataOptions): Promise<GeneratedData> {
  rmSync(dataDir, { recursive: true, force: true });
  const started = Date.now();
  const server = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), persistent: true, settings: generationSettings });
  let pool: pg.Pool | null = null;
  let stopped = false;
  try {
    await migrate(server.url, { quiet: true });
    pool = createPool(server.url, { poolSize: 2, applicationName: 'bench:clearing generate' });
    await generateClearingData(pool, o);
    const checkStarted = Date.now();
    const totals = await checkClearingData(pool);
    o.log(`checked: ledger and authorisations agree for every merchant${totals.mismatches ? ' — NOT' : ''} (${((Date.now() - checkStarted) / 1000).toFixed(1)} s)`);
    if (totals.mismatches !== 0) throw new Error(`the generated data is inconsistent: ${totals.mismatches} merchant groups differ between the ledger and the authorisations`);
    const { log: _log, chunkRows: _chunk, ...options } = o;
    const made: GeneratedData = { options, migrations: migrationNames(), seconds: Math.round((Date.now() - started) / 100) / 10, totals };
    await pool.end();
    pool = null;
    await server.stop();
    stopped = true;
    writeFileSync(manifest(dataDir), `${JSON.stringify(made, null, 2)}\n`);
    return made;
  } finally {
    await pool?.end();
    if (!stopped) await server.stop().catch(() => {});
  }
}

/** The command line's `--name value`, as a positive integer, or `fallback`. */
export function intArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]?.replaceAll('_', ''));
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} needs a positive whole number`);
  return v;
}

export const clearingDataDefaults = { transactions: 10_000_000, merchants: 100_000, terminals: 300_000, cards: 1_000_000, period: '2026-10', timeZone: 'Asia/Shanghai' };

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const log = (s: string) => process.stderr.write(`clearing-data: ${s}\n`);
  const dirAt = args.indexOf('--data-dir');
  const dataDir = dirAt >= 0 ? args[dirAt + 1] : undefined;
  if (!dataDir) throw new Error('--data-dir DIR: where to keep the generated database');
  const d = clearingDataDefaults;
  const made = await generateDatabase(path.resolve(dataDir), {
    ...d, log,
    transactions: intArg(args, '--transactions', d.transactions), merchants: intArg(args, '--merchants', d.merchants),
    terminals: intArg(args, '--terminals', d.terminals), cards: intArg(args, '--cards', d.cards),
  });
  process.stdout.write(`${JSON.stringify(made, null, 2)}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().then((code) => process.exit(code), (err) => { process.stderr.write(`clearing-data: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1); });
}
