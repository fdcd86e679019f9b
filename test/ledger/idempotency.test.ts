import t from 'tap';
import { audit } from '../../src/ledger/audit.js';
import { cardBalance, coffee, diamond, key, seededLedger, silver } from './helpers.js';

t.test('a retried purchase returns the stored approval and debits once', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  const first = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  const again = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  t.ok(first.ok && again.ok);
  if (!first.ok || !again.ok) return;
  t.equal(first.replayed, false);
  t.equal(again.replayed, true);
  t.equal(again.rrn, first.rrn, 'same RRN');
  t.equal(again.authCode, first.authCode);
  t.equal(again.balancePoints, first.balancePoints);
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - 500, 'one debit');
});

t.test('the same key with different content is declined as a duplicate and moves nothing', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  const other = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 2000 });
  t.same(other.ok ? null : other.decline, { kind: 'duplicate' });
  const otherCard = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 1000 });
  t.same(otherCard.ok ? null : otherCard.decline, { kind: 'duplicate' });
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - 500);
  t.equal(await cardBalance(ledger, silver), 500);
});

t.test('concurrent retries of one purchase debit once and all get the same RRN', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  const all = await Promise.all(Array.from({ length: 50 }, () => ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 777 })));
  const rrns = new Set(all.map((r) => (r.ok ? r.rrn : 'declined')));
  t.equal(rrns.size, 1);
  t.notOk(rrns.has('declined'));
  t.equal(all.filter((r) => r.ok && !r.replayed).length, 1, 'exactly one first answer');
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - 389);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a retried decline returns the same decline even after the balance changed', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  const low = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 2000 });
  t.equal(low.ok ? '' : low.decline.kind, 'insufficient-points');
  await ledger.credit({ cardNo: silver, points: 5000, idempotencyKey: 'bill-1' });
  const retry = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 2000 });
  t.equal(retry.ok ? '' : retry.decline.kind, 'insufficient-points', 'the stored answer, not a new decision');
  t.equal(await cardBalance(ledger, silver), 5500);
});

t.test('a retry of an approved purchase after the balance ran out still gets its approval (cache pre-check reads the key)', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  const first = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 1000 });
  t.ok(first.ok, 'spends all 500 points');
  t.same(await ledger.balance({ cardNo: silver, terminalId: k.terminalId }), { ok: true, balancePoints: 0 });
  const retry = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 1000 });
  t.ok(retry.ok && retry.replayed && first.ok && retry.rrn === first.rrn);
  const fresh = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 1000 });
  t.same(fresh.ok ? null : fresh.decline, { kind: 'insufficient-points', balancePoints: 0 });
});

t.test('a retransmission of a purchase the pre-check declined gets the same decline, even after the card can pay', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  t.ok((await ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 1000 })).ok, 'spends all 500 points');
  // A balance inquiry puts the whole card in the cache; the pre-check judges from it.
  t.same(await ledger.balance({ cardNo: silver, terminalId: k.terminalId }), { ok: true, balancePoints: 0 });
  const declined = ledger.precheck.declined;
  const first = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 400 });
  t.same(first.ok ? null : first.decline, { kind: 'insufficient-points', balancePoints: 0 });
  t.equal(ledger.precheck.declined, declined + 1, 'declined from the cache');
  t.ok((await ledger.credit({ cardNo: silver, points: 1000, idempotencyKey: 'topup-1' })).ok, 'then the card is credited');
  const retry = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 400 });
  t.same(retry.ok ? null : retry.decline, { kind: 'insufficient-points', balancePoints: 0 }, 'the retransmission: the same decline, not a debit');
  t.equal(await cardBalance(ledger, silver), 1000, 'nothing debited for it');
  const other = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 401 });
  t.same(other.ok ? null : other.decline, { kind: 'duplicate' }, 'the key with other content: a duplicate');
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a credit is applied once per idempotency key; the same key with other content is a duplicate', async (t) => {
  const { ledger } = await seededLedger(t);
  const a = await ledger.credit({ cardNo: silver, points: 300, idempotencyKey: 'bill-42', reason: 'monthly accrual' });
  const b = await ledger.credit({ cardNo: silver, points: 300, idempotencyKey: 'bill-42' });
  t.same(a, { ok: true, balancePoints: 800, replayed: false });
  t.same(b, { ok: true, balancePoints: 800, replayed: true });
  const c = await ledger.credit({ cardNo: silver, points: 301, idempotencyKey: 'bill-42' });
  t.same(c.ok ? null : c.decline, { kind: 'duplicate' });
  const unknown = await ledger.credit({ cardNo: '8869999999999999', points: 1, idempotencyKey: 'bill-43' });
  t.same(unknown.ok ? null : unknown.decline, { kind: 'unknown-card' });
  t.equal(await cardBalance(ledger, silver), 800);
  t.ok((await audit(ledger.pool)).ok);
});
