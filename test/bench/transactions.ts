// `npm run bench:transactions`: finding transactions (GET /transactions, GET /transactions/{id}) on a ledger of
// BENCH_TRANSACTIONS_ROWS authorisations (default 10,000,000: over a year of business dates, 100,000 cards, 1,000
// merchants, 3,000 terminals; each with its ledger row; 2 % refunds). Generation is set-based SQL and not timed.
// Then each kind of search is asked BENCH_TRANSACTIONS_QUERIES times (default 300) through the admin API in this
// process (fastify's inject: the whole HTTP stack and key check, no socket), at random cards, merchants, terminals,
// RRNs and days, and its p50/p99 printed beside GET /health/live through the same stack (the floor) and a read by
// primary key (the least a search can cost). `-- --json FILE` writes the figures.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildAdminApp } from '../../src/admin/app.js';
import { ApiKeys } from '../../src/admin/keys.js';
import { adminResources } from '../../src/admin/resources.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { Kek, Ledger } from '../../src/ledger/index.js';
import { silentLogger } from '../../src/log.js';
import { SwitchMetrics } from '../../src/switch/metrics.js';
import { cardNo, finishGeneration, inChunks, merchantId, sqlIds, terminalId } from './generate.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';

const rows = Number(process.env.BENCH_TRANSACTIONS_ROWS ?? 10_000_000);
const queries = Number(process.env.BENCH_TRANSACTIONS_QUERIES ?? 300);
const cards = 100_000;
const merchants = 1_000;
const terminals = 3_000;
const days = 365;
const jsonFile = jsonFileOption('bench:transactions');

function log(s: string): void { process.stderr.write(`bench:transactions: ${s}\n`); }
const rnd = (n: number) => 1 + Math.floor(Math.random() * n);

async function generate(pool: Ledger['pool']): Promise<void> {
  log(`generating ${merchants} merchants, ${terminals} terminals, ${cards} cards`);
  await pool.query(`INSERT INTO merchants (merchant_id, name, points_per_yuan, fee_rate_bp)
    SELECT ${sqlIds.merchant('i')}, 'Bench ' || i, 50, 60 FROM generate_series(1, $1) i`, [merchants]);
  await pool.query(`INSERT INTO terminals (terminal_id, merchant_id, tmk_enc)
    SELECT ${sqlIds.terminal('i')}, ${sqlIds.merchant('1 + i % $2')}, '\\x00'::bytea FROM generate_series(1, $1) i`, [terminals, merchants]);
  await pool.query(`INSERT INTO cards (card_no, expiry, balance) SELECT ${sqlIds.card('i')}, '3012', 1000000000 FROM generate_series(1, $1) i`, [cards]);
  // Authorisations in date order (as a switch writes them), each with its ledger row: purchases, and a refund
  // of the row before in 2 of 100.
  await inChunks(rows, 1_000_000, 'authorisations', log, (from, to) => pool.query(`
      WITH a AS (
        INSERT INTO authorisations (auth_id, terminal_id, batch_no, trace, business_date, kind, card_no, merchant_id, amount_fen, points,
                                    points_per_yuan, state, response_code, response, rrn, auth_code, original_auth_id, balance_after)
        SELECT i, ${sqlIds.terminal('1 + i % $3')}, lpad((1 + i / 1000000)::text, 6, '0'), lpad((i % 1000000)::text, 6, '0'),
               date '2025-12-01' + ((i - 1) * $4 / $5)::int, CASE WHEN i % 50 = 0 THEN 'refund' ELSE 'purchase' END,
               ${sqlIds.card('1 + (i * 7919) % $6')}, ${sqlIds.merchant('1 + (i % $3) % $7')},
               100 + i % 10000, (100 + i % 10000) / 2, 50, 'approved', '00',
               CASE WHEN i % 50 = 0 THEN '{"ok": true}'::jsonb END, lpad(i::text, 12, '0'), lpad((i % 1000000)::text, 6, '0'),
               CASE WHEN i % 50 = 0 THEN i - 1 END, 1000
        FROM generate_series($1::bigint, $2::bigint) i
        RETURNING auth_id, card_no, merchant_id, points, kind, business_date
      )
      INSERT INTO ledger_txns (card_no, kind, auth_id, member_points, counter_kind, merchant_id, bucket, business_date)
      SELECT card_no, kind, auth_id, CASE WHEN kind = 'refund' THEN points ELSE -points END, 'merchant', merchant_id, ps_bucket(card_no), business_date FROM a`,
  [from, to, terminals, days, rows, cards, merchants]).then(() => {}));
  await finishGeneration(pool, { identities: [['authorisations', 'auth_id', rows]], analyse: ['authorisations', 'ledger_txns'] }, log);
}

function percentiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
  const r = (v: number) => Math.round(v * 100) / 100;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? 0) };
}

async function main(): Promise<number> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-bench-'));
  chmodSync(scratch, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), persistent: false });
  let ledger: Ledger | null = null;
  try {
    await migrate(pg.url, { quiet: true });
    ledger = await Ledger.open({ databaseUrl: pg.url, kek: new Kek(null), poolSize: 4 });
    await generate(ledger.pool);
    const { key } = await new ApiKeys(ledger.pool).create({ role: 'operator', name: 'bench' });
    const app = await buildAdminApp({
      log: silentLogger, metrics: new SwitchMetrics(), keys: new ApiKeys(ledger.pool), pool: ledger.pool, metricsPublic: true,
      health: () => ({ ready: true, database: 'embedded', databaseUp: async () => true, redis: 'none', redisUp: null, posPort: 0, connectionsOpen: 0 }),
      resources: adminResources(ledger, new Kek(null), { accrualPointsPerYuan: 1, clearingTimeZone: 'Asia/Shanghai', clearingGraceDays: 1, terminalMonthlyFeeFen: 2000 }),
    });
    const headers = { authorization: `Bearer ${key}` };
    const day = () => new Date(Date.parse('2025-12-01T00:00:00Z') + Math.floor(Math.random() * days) * 86_400_000).toISOString().slice(0, 10);
    const searches: Array<[string, () => string]> = [
      ['floor: GET /health/live', () => '/health/live'],
      ['by id (primary key)', () => `/transactions/${rnd(rows)}`],
      ['by card', () => `/transactions?cardNo=${cardNo(rnd(cards))}`],
      ['by card, one day', () => { const d = day(); return `/transactions?cardNo=${cardNo(rnd(cards))}&from=${d}&to=${d}`; }],
      ['by merchant', () => `/transactions?merchantId=${merchantId(rnd(merchants))}`],
      ['by merchant, refunds', () => `/transactions?merchantId=${merchantId(rnd(merchants))}&kind=refund`],
      ['by terminal', () => `/transactions?terminalId=${terminalId(rnd(terminals))}`],
      ['by RRN', () => `/transactions?rrn=${String(rnd(rows)).padStart(12, '0')}`],
      ['one day', () => { const d = day(); return `/transactions?from=${d}&to=${d}`; }],
      ['refunds, any', () => '/transactions?kind=refund'],
      ['newest, page 2', () => `/transactions?before=${rows - 50}`],
    ];
    const figures: Record<string, { p50: number; p99: number; max: number; found: number }> = {};
    for (const [name, url] of searches) {
      const ms: number[] = [];
      let found = 0;
      for (let i = 0; i < queries; i++) {
        const t = performance.now();
        const r = await app.inject({ method: 'GET', url: url(), headers });
        ms.push(performance.now() - t);
        if (r.statusCode !== 200) throw new Error(`${name}: ${r.statusCode} ${r.body.slice(0, 200)}`);
        const b = r.json() as { transactions?: unknown[] };
        found += b.transactions ? b.transactions.length : 1;
      }
      figures[name] = { ...percentiles(ms), found: Math.round(found / queries) };
      log(`${name}: p99 ${figures[name]!.p99} ms`);
    }
    await app.close();
    const out = [`bench:transactions — ${os.cpus().length} CPUs; ${rows.toLocaleString('en')} authorisations and their ledger rows; ${queries} requests a search, in process (inject)`, '',
      '  search                      p50 ms   p99 ms   max ms   rows a reply'];
    for (const [name, f] of Object.entries(figures)) out.push(`  ${name.padEnd(26)} ${String(f.p50).padStart(7)}  ${String(f.p99).padStart(7)}  ${String(f.max).padStart(7)}  ${String(f.found).padStart(6)}`);
    process.stdout.write(`${out.join('\n')}\n`);
    if (jsonFile) {
      const { ['floor: GET /health/live']: floor, ['by id (primary key)']: byId, ...rest } = figures;
      writeBenchJson(jsonFile, 'bench:transactions', { rows, queries, searches: rest }, { healthLive: floor, byPrimaryKey: byId });
    }
    return 0;
  } finally {
    await ledger?.close();
    await pg.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => { log(err instanceof Error ? err.stack ?? err.message : String(err)); process.exit(1); });
