// Clearing's business rules, one hand-computed fixture each (src/clearing/README.md states them). Purchases are
// booked through the ledger as the switch books them, dated into October and November 2026 (ended months).
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t, { type Test } from 'tap';
import {
  averageFeeRate, closePeriod, ControlTotalError, feeFen, PeriodError, periodFiles, proRataFen, runClearing,
  type ClearingParams, type RunResult,
} from '../../src/clearing/index.js';
import { feeSql } from '../../src/clearing/compute.js';
import type { Ledger, TxnKey } from '../../src/ledger/index.js';
import { changeRates } from '../../src/ledger/merchant-rates.js';
import { audit } from '../../src/ledger/audit.js';
import { coffee, diamond, mart, seededLedger, t1, t3 } from '../ledger/helpers.js';

const params: ClearingParams = { timeZone: 'Asia/Shanghai', graceDays: 1, terminalFeeFen: 2000 };
const today = new Date('2026-12-06T10:00:00+08:00');

let trace = 0;
const keyOn = (date: string, terminalId = t1, batchNo = '000001'): TxnKey =>
  ({ terminalId, batchNo, trace: String(++trace).padStart(6, '0'), businessDate: date });

async function buy(ledger: Ledger, date: string, amountFen: number, o: { merchant?: string; terminal?: string } = {}) {
  const key = keyOn(date, o.terminal ?? (o.merchant === mart ? t3 : t1));
  const r = await ledger.purchase({ key, merchantId: o.merchant ?? coffee, cardNo: diamond, amountFen });
  if (!r.ok) throw new Error(`purchase declined: ${JSON.stringify(r.decline)}`);
  return { key, rrn: r.rrn, points: r.points };
}

type Row = Record<string, string>;
async function outDir(t: Test): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'ps-clearing-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return path.join(d, 'out');
}
async function csv(dir: string, name: string): Promise<Row[]> {
  return parse(await readFile(path.join(dir, name), 'utf8'), { columns: true }) as Row[];
}
async function clear(t: Test, ledger: Ledger, period: string, o: { now?: Date } = {}): Promise<{ r: RunResult; dir: string; merchants: Row[] }> {
  const dir = await outDir(t);
  const r = await runClearing(ledger.pool, { period, outDir: dir, actor: 'test', options: params, now: o.now ?? today });
  return { r, dir, merchants: await csv(dir, 'merchants.csv') };
}
const row = (rows: Row[], merchant: string) => rows.find((r) => r.merchant_id === merchant);

t.test('the rounding rules: half-up to the fen, negatives mirrored; SQL and TypeScript agree', async (t) => {
  t.equal(feeFen(250, 60), 2, '1.5 fen -> 2');
  t.equal(feeFen(249, 60), 1, '1.494 fen -> 1');
  t.equal(feeFen(-250, 60), -2, 'a negative gross mirrors');
  t.equal(feeFen(0, 60), 0);
  t.equal(proRataFen(2000, 12, 31), 774, '2000 × 12/31 = 774.19');
  t.equal(proRataFen(1000, 1, 8), 125);
  t.equal(proRataFen(100, 1, 8), 13, '12.5 -> 13');
  t.same(averageFeeRate(83, 10000), { rate: '0.83', aboveLimit: false });
  t.same(averageFeeRate(101, 10000), { rate: '1.01', aboveLimit: true });
  t.same(averageFeeRate(100, 10000), { rate: '1.00', aboveLimit: false }, 'exactly 1 % is not above it');
  t.same(averageFeeRate(0, 0), { rate: '0.00', aboveLimit: false });
  t.same(averageFeeRate(-6, -1000), { rate: '0.60', aboveLimit: false }, 'a negative month: the rate of the fee returned');
  const { ledger } = await seededLedger(t);
  const grosses = Array.from({ length: 400 }, (_, i) => (i - 200) * 37 + (i % 7));
  const bps = [0, 1, 30, 60, 80, 99, 100, 250, 9999, 10000];
  const { rows } = await ledger.pool.query<{ g: number; bp: number; fee: number }>(
    `SELECT g, bp, ${feeSql('g', 'bp')} AS fee FROM unnest($1::bigint[]) g CROSS JOIN unnest($2::int[]) bp`, [grosses, bps]);
  const wrong = rows.filter((r) => r.fee !== feeFen(r.g, r.bp));
  t.same(wrong, [], `${rows.length} fees computed the same in SQL and TypeScript`);
});

t.test('a discounting merchant: every point is worth 2 fen to it, whatever its rate', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, '2026-10-05', 10_000, { merchant: mart });     // ¥100.00 at 45 points a yuan
  t.equal(p.points, 4500);
  const { merchants, r } = await clear(t, ledger, '2026-10');
  t.match(row(merchants, mart), {
    purchase_count: '1', purchase_points: '4500', net_points: '4500', gross_fen: '9000', fee_rates_bp: '80', fee_fen: '72', net_payable_fen: '8928',
  }, 'gross = 4500 × 2 fen = ¥90.00; fee 80 bp = 72 fen');
  t.equal(r.provisional, false, 'October has ended');
  t.equal(r.totals.issuerOwesFen, 9000);
});

t.test('a void in the same period nets out; the fee is on what is left', async (t) => {
  const { ledger } = await seededLedger(t);
  const a = await buy(ledger, '2026-10-07', 2000);                           // 1000 points
  await buy(ledger, '2026-10-07', 3000);                                     // 1500 points
  const v = await ledger.void({ key: keyOn('2026-10-07'), merchantId: coffee, cardNo: diamond, amountFen: 2000, original: { batchNo: a.key.batchNo, trace: a.key.trace } });
  t.ok(v.ok, 'voided');
  const { merchants } = await clear(t, ledger, '2026-10');
  t.match(row(merchants, coffee), {
    purchase_count: '2', purchase_points: '2500', void_count: '1', void_points: '1000', net_points: '1500', gross_fen: '3000', fee_fen: '18', net_payable_fen: '2982',
  });
});

t.test('a refund in a later period is netted in that period, and a negative net is owed by the merchant', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, '2026-10-10', 5000);                           // 2500 points
  const f = await ledger.refund({ key: keyOn('2026-11-03'), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { rrn: p.rrn } });
  t.ok(f.ok, 'refunded');
  const oct = await clear(t, ledger, '2026-10');
  t.match(row(oct.merchants, coffee), { purchase_points: '2500', refund_count: '0', net_points: '2500', gross_fen: '5000', fee_fen: '30', net_payable_fen: '4970' },
    'October keeps the purchase whole');
  const nov = await clear(t, ledger, '2026-11');
  t.match(row(nov.merchants, coffee), {
    purchase_count: '0', refund_count: '1', refund_points: '500', net_points: '-500', gross_fen: '-1000', fee_fen: '-6', net_payable_fen: '-994',
  }, 'November: 500 points back, -¥10.00 gross, the fee returned (-6 fen), ¥9.94 owed by the merchant');
  t.equal(nov.r.totals.netPayableFen, -994, 'never floored');
  t.equal(nov.r.totals.issuerOwesFen, -1000);
});

t.test('a reversal undoes its purchase in the period it is booked', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, '2026-10-12', 4000);                           // 2000 points
  const x = await ledger.reverse({ original: p.key, kind: 'purchase', cardNo: diamond, amountFen: 4000 });
  t.ok(x.ok && x.reversed, 'reversed');
  const { merchants, r } = await clear(t, ledger, '2026-10');
  t.match(row(merchants, coffee), { purchase_count: '1', purchase_points: '2000', reversal_count: '1', reversal_points: '2000', net_points: '0', gross_fen: '0', fee_fen: '0' });
  t.equal(r.control.authorisations.purchases, 1, 'the reversed purchase is counted among the authorisations too');
});

t.test('the fee at exactly half a fen rounds up, once per merchant and rate', async (t) => {
  const { ledger } = await seededLedger(t);
  await buy(ledger, '2026-10-14', 250);                                      // 125 points, gross 250 fen, 60 bp = 1.5 fen
  const one = await clear(t, ledger, '2026-10');
  t.match(row(one.merchants, coffee), { gross_fen: '250', fee_fen: '2', net_payable_fen: '248' }, '1.5 fen -> 2');
  await buy(ledger, '2026-10-15', 250);
  const two = await clear(t, ledger, '2026-10');
  t.match(row(two.merchants, coffee), { gross_fen: '500', fee_fen: '3' }, 'two such purchases: 3.0 fen once, not 2 + 2');
});

t.test('a fee rate changed mid-month: each business date at the rate in force on it, one line per rate', async (t) => {
  const { ledger } = await seededLedger(t);
  await buy(ledger, '2026-10-10', 10_000);                                   // 5000 points, gross 10000 at 60 bp = 60
  await changeRates(ledger.pool, coffee, { effectiveFrom: '2026-10-16', feeRateBp: 100 }, '2026-12-06');
  await buy(ledger, '2026-10-20', 5000);                                     // 2500 points, gross 5000 at 100 bp = 50
  const { merchants, dir } = await clear(t, ledger, '2026-10');
  t.match(row(merchants, coffee), { gross_fen: '15000', fee_rates_bp: '60;100', fee_fen: '110', net_payable_fen: '14890' });
  const lines = (await csv(dir, 'merchant-fees.csv')).filter((l) => l.merchant_id === coffee);
  t.match(lines, [
    { fee_rate_bp: '60', first_date: '2026-10-10', last_date: '2026-10-10', net_points: '5000', gross_fen: '10000', fee_fen: '60' },
    { fee_rate_bp: '100', first_date: '2026-10-20', last_date: '2026-10-20', net_points: '2500', gross_fen: '5000', fee_fen: '50' },
  ]);
});

t.test('terminal usage fees: pro rata by the days enabled, a terminal enabled on the 20th pays 12 of 31', async (t) => {
  const { ledger } = await seededLedger(t);
  const pool = ledger.pool;
  // 10000001 has been enabled since September; 10000002 was made in September suspended and enabled on 20 October.
  await pool.query("UPDATE terminals SET created_at = '2026-09-01T00:00:00+08:00' WHERE terminal_id IN ('10000001', '10000002')");
  await pool.query(`INSERT INTO terminal_status_history (terminal_id, effective_at, status) VALUES
    ('10000002', '2026-09-01T00:00:00+08:00', 'suspended'), ('10000002', '2026-10-20T15:30:00+08:00', 'active')`);
  const { dir, r } = await clear(t, ledger, '2026-10');
  const terms = await csv(dir, 'terminals.csv');
  t.match(terms, [
    { terminal_id: '10000001', days_enabled: '31', days_in_period: '31', monthly_fee_fen: '2000', fee_fen: '2000' },
    { terminal_id: '10000002', days_enabled: '12', fee_fen: '774' },
  ], 'enabled from the 20th (15:30): the 20th counts; 2000 × 12 / 31 = 774.19 -> 774');
  t.equal(terms.length, 2, 'terminals made in December are not in October');
  t.equal(r.totals.terminalFeeFen, 2774);
  t.equal(r.totals.issuerOwesFen, 2774, 'no redemptions: the issuer owes the terminal fees');
  t.equal(r.totals.acquirerRevenueFen, 2774);
  // A provisional run counts the days so far: on 6 December, 6 of 31.
  const dec = await clear(t, ledger, '2026-12');
  t.equal(dec.r.provisional, true);
  t.match(await csv(dec.dir, 'terminals.csv'), [
    { terminal_id: '10000001', days_enabled: '6', fee_fen: '387' },
    { terminal_id: '10000002', days_enabled: '6', fee_fen: '387' },
  ], 'a provisional month: the days so far (2000 × 6 / 31 = 387.1 -> 387)');
});

t.test('an empty period clears to zero, and may be closed', async (t) => {
  const { ledger } = await seededLedger(t);
  const { r, merchants, dir } = await clear(t, ledger, '2026-09');
  t.equal(merchants.length, 0);
  t.match(r.totals, { merchants: 0, grossFen: 0, feeFen: 0, netPayableFen: 0, terminals: 0, issuerOwesFen: 0, averageFeeRate: '0.00' });
  t.equal((await readFile(path.join(dir, 'merchants.csv'), 'utf8')).split('\n')[0], 'period,merchant_id,merchant_name,purchase_count,purchase_points,void_count,void_points,refund_count,refund_points,reversal_count,reversal_points,net_points,gross_fen,fee_rates_bp,fee_fen,net_payable_fen');
  const closed = await closePeriod(ledger.pool, { period: '2026-09', actor: 'test', options: params, now: today });
  t.equal(closed.closed, true);
  t.equal(closed.totals.grossFen, 0);
});

t.test('a closed period: re-run gives byte-identical files, and the files command writes them again', async (t) => {
  const { ledger } = await seededLedger(t);
  await buy(ledger, '2026-10-03', 1234);
  await buy(ledger, '2026-10-04', 5000, { merchant: mart });
  const dir = await outDir(t);
  const c = await closePeriod(ledger.pool, { period: '2026-10', outDir: dir, actor: 'test', options: params, now: today });
  t.equal(c.provisional, false);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  t.same(manifest.files.map((f: { name: string }) => f.name).sort(),
    ['merchant-fees.csv', 'merchants.csv', 'report.html', 'summary.csv', 'summary.json', 'terminals.csv']);
  // A rename after the close changes nothing in the closed files.
  await ledger.pool.query("UPDATE merchants SET name = 'Renamed Coffee' WHERE merchant_id = $1", [coffee]);
  const again = await clear(t, ledger, '2026-10');
  t.equal(again.r.sameAsClosed, true, 'the re-run says its hashes equal the close');
  t.same(again.r.files, c.files, 'the same SHA-256 for every file');
  t.equal(await readFile(path.join(again.dir, 'merchants.csv'), 'utf8'), await readFile(path.join(dir, 'merchants.csv'), 'utf8'));
  const files = await periodFiles(ledger.pool, '2026-10', await outDir(t));
  t.equal(files.sameAsClosed, true);
  await t.rejects(closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today }),
    { name: 'PeriodError', kind: 'closed', message: /already closed/ }, 'closing twice is refused');
  await t.rejects(closePeriod(ledger.pool, { period: '2026-12', actor: 'test', options: params, now: today }),
    { kind: 'not-ended', message: /may be closed from 2027-01-02/ });
  await t.rejects(runClearing(ledger.pool, { period: '2027-01', actor: 'test', options: params, now: today }), { message: /has not started yet/ });
  await t.rejects(runClearing(ledger.pool, { period: '2026-13', actor: 'test', options: params, now: today }), { message: /a period is a month written YYYY-MM/ });
  const dec = await clear(t, ledger, '2026-12');
  t.equal(dec.r.provisional, true, 'December has not ended: provisional');
  t.match(await readFile(path.join(dec.dir, 'summary.csv'), 'utf8'), /provisional,true/);
});

t.test('after a close: a purchase dated into it is declined, a late void of its purchase is booked into the open month', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, '2026-10-30', 2000);                            // 1000 points
  const closed = await closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today });
  t.equal(closed.totals.purchasePoints, 1000);
  const late = await ledger.purchase({ key: keyOn('2026-10-31'), merchantId: coffee, cardNo: diamond, amountFen: 500 });
  t.match(late, { ok: false, decline: { kind: 'period-closed' } }, 'a purchase dated into a closed period is refused');
  const v = await ledger.void({ key: keyOn('2026-10-31'), merchantId: coffee, cardNo: diamond, amountFen: 2000, original: { batchNo: p.key.batchNo, trace: p.key.trace } });
  t.ok(v.ok, 'the terminal still gets its answer');
  const again = await clear(t, ledger, '2026-10');
  t.equal(again.r.sameAsClosed, true, 'October is unchanged');
  const nov = await clear(t, ledger, '2026-11');
  t.match(row(nov.merchants, coffee), { purchase_count: '0', void_count: '1', void_points: '1000', net_points: '-1000', gross_fen: '-2000' },
    'the void is netted in November, the first open month');
  const { rows } = await ledger.pool.query("SELECT business_date::text, cleared_on::text FROM authorisations WHERE kind = 'void'");
  t.same(rows, [{ business_date: '2026-10-31', cleared_on: '2026-11-01' }], 'the authorisation says where it was booked');
  t.same((await audit(ledger.pool)).problems, [], 'the audit passes: the ledger still equals the close');
  // A row of the closed month changed behind the ledger's back: the audit names the period and the merchant.
  await ledger.pool.query("UPDATE ledger_txns SET member_points = member_points - 5 WHERE kind = 'purchase' AND business_date = '2026-10-30'");
  t.same((await audit(ledger.pool)).problems.filter((p) => p.check === 'a closed clearing period still equals the ledger'), [{ check: 'a closed clearing period still equals the ledger', subject: `period 2026-10, merchant ${coffee}`, expected: '1000 net points (at its close)', actual: '1005' }]);
});

t.test('periods close in order', async (t) => {
  const { ledger } = await seededLedger(t);
  await buy(ledger, '2026-10-30', 2000);
  await t.rejects(closePeriod(ledger.pool, { period: '2026-11', actor: 'test', options: params, now: today }),
    { kind: 'order', message: /2026-10 is not closed/ });
  await closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today });
  const nov = await closePeriod(ledger.pool, { period: '2026-11', actor: 'test', options: params, now: today });
  t.equal(nov.closed, true);
  await t.rejects(closePeriod(ledger.pool, { period: '2026-09', actor: 'test', options: params, now: today }), { kind: 'order', message: /no longer be closed/ });
});

t.test('a control total that disagrees stops the run, names the merchant and the difference, and writes nothing', async (t) => {
  const { ledger } = await seededLedger(t);
  await buy(ledger, '2026-10-08', 3000);
  await buy(ledger, '2026-10-08', 1000, { merchant: mart });
  // Tamper: one authorisation says more points than its ledger row moved.
  await ledger.pool.query("UPDATE authorisations SET points = points + 7 WHERE merchant_id = $1 AND kind = 'purchase'", [mart]);
  const dir = await outDir(t);
  const err = await runClearing(ledger.pool, { period: '2026-10', outDir: dir, actor: 'test', options: params, now: today }).catch((e: unknown) => e);
  t.ok(err instanceof ControlTotalError, 'a ControlTotalError');
  t.ok(err instanceof PeriodError);
  t.match((err as Error).message, new RegExp(`merchant ${mart}: purchase points \\(authorisations\\): ledger 457, clearing 450 \\(difference -7\\)`));
  t.notOk(existsSync(dir), 'no output directory');
  t.same(readdirSafe(path.dirname(dir)), [], 'no temporary directory left beside it');
  const { rows } = await ledger.pool.query('SELECT count(*)::int AS n FROM clearing_runs');
  t.equal(rows[0].n, 0, 'no run recorded');
  await t.rejects(closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today }), ControlTotalError);
  const { rows: w } = await ledger.pool.query('SELECT closed_through::text FROM clearing_watermark');
  t.same(w, [{ closed_through: '-infinity' }], 'a close that failed puts the watermark back');
  // And the ledger side: a ledger row changed under the authorisations.
  await ledger.pool.query("UPDATE authorisations SET points = points - 7 WHERE merchant_id = $1 AND kind = 'purchase'", [mart]);
  await ledger.pool.query("UPDATE ledger_txns SET member_points = member_points - 1 WHERE merchant_id = $1", [coffee]);
  await t.rejects(runClearing(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today }),
    { message: new RegExp(`merchant ${coffee}: purchase points`) });
});

function readdirSafe(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}
