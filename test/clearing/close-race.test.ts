// A close racing purchases dated into the month it closes: every purchase the ledger approves is in the closed
// results, every one after the watermark moved is declined, and the ledger still equals the close afterwards.
import t from 'tap';
import { closePeriod, runClearing } from '../../src/clearing/index.js';
import { audit } from '../../src/ledger/audit.js';
import { coffee, seededLedger, t1 } from '../ledger/helpers.js';
import { loadCardNo } from '../../src/ledger/seed.js';

const params = { timeZone: 'Asia/Shanghai', graceDays: 1, terminalFeeFen: 2000 };
const today = new Date('2026-12-06T10:00:00+08:00');

t.test('purchases dated into a month while it is closed: approved ones are in the close, later ones declined', async (t) => {
  const { ledger } = await seededLedger(t, { loadCards: 40 });
  let trace = 0;
  let stop = false;
  const outcomes: { ok: boolean; kind?: string }[] = [];
  // 40 cards, one buyer each, buying until the close has finished (and a little after).
  const buyers = Array.from({ length: 40 }, async (_, i) => {
    while (!stop) {
      const r = await ledger.purchase({
        key: { terminalId: t1, batchNo: '000001', trace: String(++trace).padStart(6, '0'), businessDate: '2026-10-31' },
        merchantId: coffee, cardNo: loadCardNo(i + 1), amountFen: 100,
      });
      outcomes.push(r.ok ? { ok: true } : { ok: false, kind: r.decline.kind });
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const closed = await closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today });
  const atClose = outcomes.length;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(buyers);
  const approved = outcomes.filter((o) => o.ok).length;
  const refused = outcomes.filter((o) => !o.ok);
  t.ok(approved > 0, `${approved} purchases approved before the watermark moved`);
  t.ok(refused.length > 0 && outcomes.length > atClose, `${refused.length} refused after it`);
  t.same([...new Set(refused.map((o) => o.kind))], ['period-closed'], 'every refusal says the period is closed');
  t.equal(closed.totals.purchaseCount, approved, 'every approved purchase is in the closed results');
  t.equal(closed.totals.purchasePoints, approved * 50);
  t.same((await audit(ledger.pool)).problems, [], 'and the ledger still equals the close');
  const again = await runClearing(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today });
  t.equal(again.sameAsClosed, true, 'a re-run after the race: byte-identical');
});

t.test('a close waits for a purchase that read the watermark before it moved, and includes it', async (t) => {
  const { ledger } = await seededLedger(t, { loadCards: 1 });
  // A purchase dated into October, booked in a transaction that is still open (it read the open watermark).
  const c = await ledger.pool.connect();
  await c.query('BEGIN');
  const { rows } = await c.query("SELECT ps_purchase($1, '000001', '900001', '2026-10-31', $2, $3, 100, NULL) AS r", [t1, coffee, loadCardNo(1)]);
  t.equal(rows[0].r.ok, true, 'approved, not yet committed');
  let done = false;
  const closing = closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today }).finally(() => { done = true; });
  await new Promise((r) => setTimeout(r, 500));
  t.equal(done, false, 'the close waits for it');
  await c.query('COMMIT');
  c.release();
  const closed = await closing;
  t.equal(closed.totals.purchaseCount, 1, 'and then includes it');
  t.same((await audit(ledger.pool)).problems, []);
});

t.test('a close that waits too long for an open transaction gives up, names it, and puts the watermark back', async (t) => {
  const { ledger } = await seededLedger(t);
  const c = await ledger.pool.connect();
  t.teardown(() => c.release());
  await c.query('BEGIN');
  await c.query('SELECT 1 FROM cards LIMIT 1');
  await t.rejects(closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today, waitMs: 300 }),
    { message: /a transaction open since .* \(pid \d+, .*\) is still running/ });
  await c.query('ROLLBACK');
  const { rows } = await ledger.pool.query('SELECT closed_through::text FROM clearing_watermark');
  t.same(rows, [{ closed_through: '-infinity' }]);
  const ok = await closePeriod(ledger.pool, { period: '2026-10', actor: 'test', options: params, now: today });
  t.equal(ok.closed, true, 'once it has ended, the close goes through');
});
