// End to end: the terminal simulator drives purchases, voids, refunds and a reversal through a real switch at two
// merchants with different points rates and fees (Demo Coffee: 50 points a yuan, 60 bp; Discount Mart: 45, 80 bp);
// then the month is cleared, and the merchant CSV equals what the terminals' own receipts add up to. The report
// page the run wrote shows the same numbers (opened in headless Chromium).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { Terminal, type TxnResult } from '../../simulators/terminal.js';
import { feeFen, runClearing } from '../../src/clearing/index.js';
import { loadCardNo } from '../../src/ledger/seed.js';
import { answerSwallowingProxy, startSwitch } from '../simulators/support.js';
import { checkReportAgainstCsv } from './support/page.js';

const coffee = { id: '898310048160001', terminal: '10000001', card: '8860000000000007', bp: 60 };
const mart = { id: '898310048160002', terminal: '20000001', card: loadCardNo(1), bp: 80 };

interface Tally { purchases: number; voids: number; refunds: number; reversals: number; purchasePoints: number; voidPoints: number; refundPoints: number; reversalPoints: number }
const tally = (): Tally => ({ purchases: 0, voids: 0, refunds: 0, reversals: 0, purchasePoints: 0, voidPoints: 0, refundPoints: 0, reversalPoints: 0 });

/** What a receipt says happened, added to its merchant's tally. */
function add(m: Tally, r: TxnResult): void {
  if (r.kind === 'purchase' && r.approved) { m.purchases++; m.purchasePoints += r.pointsDebited!; }
  if (r.kind === 'void' && r.approved) { m.voids++; m.voidPoints += r.pointsCredited!; }
  if (r.kind === 'refund' && r.approved) { m.refunds++; m.refundPoints += r.pointsCredited!; }
}

t.test('the month the simulator drove clears to what its receipts add up to', async (t) => {
  const { port, app } = await startSwitch(t, { loadCards: 1 });
  let dropNext = false;
  const proxy = await answerSwallowingProxy(t, port, (mti) => {
    if (mti === '0210' && dropNext) { dropNext = false; return true; }
    return false;
  });
  const terms = {
    coffee: new Terminal({ host: '127.0.0.1', port: proxy.port, terminalId: coffee.terminal, timeoutMs: 1500 }),
    mart: new Terminal({ host: '127.0.0.1', port, terminalId: mart.terminal }),
  };
  t.teardown(async () => { await terms.coffee.close(); await terms.mart.close(); });
  const seen = { coffee: tally(), mart: tally() };
  for (const [name, m] of [['coffee', coffee], ['mart', mart]] as const) {
    const term = terms[name];
    await term.signOn();
    const b = await term.transact({ type: 'balance', cardNo: m.card });       // the receipts' points are balance changes
    t.equal(b.responseCode, '00');
    const buys: TxnResult[] = [];
    for (const fen of [1000, 2001, 333, 12_345, 250]) {
      const r = await term.transact({ type: 'purchase', cardNo: m.card, amountFen: fen });
      t.ok(r.approved, `${name}: purchase of ${fen} fen approved`);
      add(seen[name], r);
      buys.push(r);
    }
    const v = await term.transact({ type: 'void', trace: buys[1]!.trace });
    t.ok(v.approved, `${name}: void approved`);
    add(seen[name], v);
    const f = await term.transact({ type: 'refund', rrn: buys[3]!.rrn!, amountFen: 4321 });
    t.ok(f.approved, `${name}: partial refund approved`);
    add(seen[name], f);
  }
  // Coffee: a purchase whose answer is lost; the terminal reverses it, and its points come back.
  const before = await terms.coffee.transact({ type: 'balance', cardNo: coffee.card });
  dropNext = true;
  const lost = await terms.coffee.transact({ type: 'purchase', cardNo: coffee.card, amountFen: 700 });
  t.equal(lost.outcome, 'timeout');
  t.equal(lost.reversal?.responseCode, '00', 'the reversal is approved');
  const after = await terms.coffee.transact({ type: 'balance', cardNo: coffee.card });
  t.equal(after.balancePoints, before.balancePoints, 'the balance is as before: the debit and its reversal cancel');
  seen.coffee.reversals = 1;

  // Clear every month the requests were dated in (one, unless the test ran across a month's end).
  const { rows: periods } = await app.ledger.pool.query<{ p: string }>("SELECT DISTINCT to_char(business_date, 'YYYY-MM') AS p FROM authorisations ORDER BY 1");
  const rows: Record<string, string>[] = [];
  let dir = '';
  for (const { p } of periods) {
    dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'ps-e2e-')), p);
    t.teardown(() => rm(path.dirname(dir), { recursive: true, force: true }));
    const r = await runClearing(app.ledger.pool, { period: p, outDir: dir, actor: 'test', options: { timeZone: 'Asia/Shanghai', graceDays: 1, terminalFeeFen: 2000 } });
    t.ok(r.files.length > 0);
    rows.push(...(parse(await readFile(path.join(dir, 'merchants.csv'), 'utf8'), { columns: true }) as Record<string, string>[]));
  }
  for (const [name, m] of [['coffee', coffee], ['mart', mart]] as const) {
    const s = seen[name];
    const mine = rows.filter((r) => r.merchant_id === m.id);
    const sum = (k: string) => mine.reduce((a, r) => a + Number(r[k]), 0);
    const net = s.purchasePoints - s.voidPoints - s.refundPoints;
    const gross = net * 2;
    // The lost purchase is in the ledger as a purchase and its reversal: counted in both, netting to nothing.
    t.equal(sum('purchase_count'), s.purchases + s.reversals, `${name}: purchases`);
    t.equal(sum('void_count'), s.voids, `${name}: voids`);
    t.equal(sum('void_points'), s.voidPoints, `${name}: void points`);
    t.equal(sum('refund_count'), s.refunds, `${name}: refunds`);
    t.equal(sum('refund_points'), s.refundPoints, `${name}: refund points`);
    t.equal(sum('reversal_count'), s.reversals, `${name}: reversals`);
    t.equal(sum('purchase_points') - sum('reversal_points'), s.purchasePoints, `${name}: purchase points less reversed ones`);
    t.equal(sum('net_points'), net, `${name}: net points = the receipts' debits less their credits`);
    t.equal(sum('gross_fen'), gross, `${name}: gross = net × 2 fen`);
    if (mine.length === 1) {
      t.equal(Number(mine[0]!.fee_fen), feeFen(gross, m.bp), `${name}: fee at ${m.bp} bp, half-up`);
      t.equal(Number(mine[0]!.net_payable_fen), gross - feeFen(gross, m.bp), `${name}: paid = gross - fee`);
    }
  }
  t.ok(seen.coffee.purchasePoints !== seen.mart.purchasePoints, 'the two rates gave different points for the same amounts');
  await checkReportAgainstCsv(t, dir);
});
