// Voids, refunds and reversals against their originals.
import t from 'tap';
import { audit } from '../../src/ledger/audit.js';
import type { Ledger, TxnKey } from '../../src/ledger/index.js';
import { cardBalance, coffee, diamond, key, seededLedger } from './helpers.js';

const start = 1_000_000;

async function buy(ledger: Ledger, amountFen: number, k: TxnKey = key()) {
  const r = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen });
  if (!r.ok) throw new Error(`purchase declined: ${r.decline.kind}`);
  return { ...r, key: k };
}

t.test('a void in the same batch gives the points back once; a second void is declined', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  const v = await ledger.void({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { batchNo: p.key.batchNo, trace: p.key.trace, rrn: p.rrn } });
  t.ok(v.ok && v.points === 500 && v.balancePoints === start);
  const again = await ledger.void({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { batchNo: p.key.batchNo, trace: p.key.trace } });
  t.same(again.ok ? null : again.decline, { kind: 'original-not-voidable', state: 'voided' });
  t.equal(await cardBalance(ledger, diamond), start);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a void must match the original amount (64) and be in the same batch', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  const wrong = await ledger.void({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 999, original: { batchNo: p.key.batchNo, trace: p.key.trace } });
  t.same(wrong.ok ? null : wrong.decline, { kind: 'original-amount-wrong' });
  const otherBatch = await ledger.void({ key: key(p.key.terminalId, '000002'), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { batchNo: p.key.batchNo, trace: p.key.trace } });
  t.same(otherBatch.ok ? null : otherBatch.decline, { kind: 'original-not-voidable', state: 'other-batch' });
  const missing = await ledger.void({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { batchNo: p.key.batchNo, trace: '999999' } });
  t.same(missing.ok ? null : missing.decline, { kind: 'original-not-found' });
  t.equal(await cardBalance(ledger, diamond), start - 500);
});

t.test('refunds, partial and full, never give back more than the original', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1001);                                   // 501 points (500.5 rounded up)
  t.equal(p.points, 501);
  const r1 = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 401, original: { rrn: p.rrn } });
  t.ok(r1.ok && r1.points === 201, 'partial: 200.5 rounded up');
  const over = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 601, original: { rrn: p.rrn } });
  t.same(over.ok ? null : over.decline, { kind: 'refund-exceeds-original', refundablePoints: 300 });
  const r2 = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 600, original: { rrn: p.rrn } });
  t.ok(r2.ok && r2.points === 300, 'the rest: exactly the points left');
  const r3 = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1, original: { rrn: p.rrn } });
  t.same(r3.ok ? null : r3.decline, { kind: 'original-not-refundable', state: 'refunded' });
  t.equal(await cardBalance(ledger, diamond), start);
  const none = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1, original: { rrn: '000000000000' } });
  t.same(none.ok ? null : none.decline, { kind: 'original-not-found' });
  // The original is found by the auth id its RRN is made of; an RRN that is not 12 digits finds nothing, and
  // neither does the right id written otherwise (the stored RRN must match too).
  for (const rrn of ['ABCDEFGHIJKL', `${p.rrn} `, String(Number(p.rrn)), `${p.rrn}0`]) {
    const odd = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1, original: { rrn } });
    t.same(odd.ok ? null : odd.decline, { kind: 'original-not-found' }, `RRN ${JSON.stringify(rrn)}`);
  }
  t.ok((await audit(ledger.pool)).ok);
});

t.test('authorisation ids stay below 10^12, where RRNs (made of them) would repeat', async (t) => {
  const { ledger } = await seededLedger(t);
  await ledger.pool.query(`SELECT setval('authorisations_auth_id_seq', 999999999999, true)`);
  const r = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.match(r.ok ? null : r.decline, { kind: 'system-error', detail: /authorisations_auth_id_rrn/ }, 'refused by the CHECK');
  t.equal(await cardBalance(ledger, diamond), start, 'nothing moved');
});

t.test('a refund of more than the original is declined and moves nothing', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  const over = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1001, original: { rrn: p.rrn } });
  t.same(over.ok ? null : over.decline, { kind: 'refund-exceeds-original', refundablePoints: 500 });
  t.equal(await cardBalance(ledger, diamond), start - 500);
});

t.test('a void of a refunded (or partly refunded) purchase is declined', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 200, original: { rrn: p.rrn } });
  const v = await ledger.void({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { batchNo: p.key.batchNo, trace: p.key.trace } });
  t.same(v.ok ? null : v.decline, { kind: 'original-not-voidable', state: 'partially_refunded' });
  t.equal(await cardBalance(ledger, diamond), start - 400);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a reversal undoes a purchase exactly once', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  const r1 = await ledger.reverse({ original: p.key, kind: 'purchase', cardNo: diamond, amountFen: 1000 });
  const r2 = await ledger.reverse({ original: p.key, kind: 'purchase', cardNo: diamond, amountFen: 1000 });
  t.same(r1, { ok: true, reversed: true });
  t.same(r2, { ok: true, reversed: false }, 'approved, nothing left to reverse');
  t.equal(await cardBalance(ledger, diamond), start);
  const retry = await ledger.purchase({ key: p.key, merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  t.ok(retry.ok && retry.replayed, 'a retry of the reversed original gets its stored answer, and moves nothing');
  t.equal(await cardBalance(ledger, diamond), start);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a reversal that arrives before its original leaves the balance as it was', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  const r = await ledger.reverse({ original: k, kind: 'purchase', cardNo: diamond, amountFen: 1000 });
  t.same(r, { ok: true, reversed: false });
  const late = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  t.same(late.ok ? null : late.decline, { kind: 'reversed-before-arrival' });
  t.equal(await cardBalance(ledger, diamond), start);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a reversal racing its original: the card ends as if neither happened', async (t) => {
  const { ledger } = await seededLedger(t);
  for (let i = 0; i < 100; i++) {
    const k = key();
    const reverse = () => ledger.reverse({ original: k, kind: 'purchase', cardNo: diamond, amountFen: 1000 });
    const purchase = () => ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 1000 });
    // Alternate which one is sent first, so both orders meet in Postgres.
    const p = i % 2 === 0 ? (await Promise.all([reverse(), purchase()]))[1] : (await Promise.all([purchase(), reverse()]))[0];
    t.ok(p.ok || p.decline.kind === 'reversed-before-arrival', `race ${i}: approved then reversed, or declined`);
  }
  t.equal(await cardBalance(ledger, diamond), start);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('a reversal after a void moves nothing more; reversing the void takes its points back once', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  const vk = key();
  const v = await ledger.void({ key: vk, merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { batchNo: p.key.batchNo, trace: p.key.trace } });
  t.ok(v.ok);
  const rp = await ledger.reverse({ original: p.key, kind: 'purchase', cardNo: diamond, amountFen: 1000 });
  t.same(rp, { ok: true, reversed: false }, 'the purchase is already voided');
  t.equal(await cardBalance(ledger, diamond), start);
  const rv = await ledger.reverse({ original: vk, kind: 'void', cardNo: diamond, amountFen: 1000 });
  t.same(rv, { ok: true, reversed: true });
  t.equal(await cardBalance(ledger, diamond), start - 500, 'the void is undone: the purchase stands');
  const rv2 = await ledger.reverse({ original: vk, kind: 'void', cardNo: diamond, amountFen: 1000 });
  t.same(rv2, { ok: true, reversed: false });
  t.equal(await cardBalance(ledger, diamond), start - 500);
  t.ok((await audit(ledger.pool)).ok);
});

t.test('reversing a refund takes the refunded points back and reopens the original', async (t) => {
  const { ledger } = await seededLedger(t);
  const p = await buy(ledger, 1000);
  const rk = key();
  await ledger.refund({ key: rk, merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { rrn: p.rrn } });
  t.equal(await cardBalance(ledger, diamond), start);
  t.same(await ledger.reverse({ original: rk, kind: 'refund', cardNo: diamond, amountFen: 1000 }), { ok: true, reversed: true });
  t.equal(await cardBalance(ledger, diamond), start - 500);
  const again = await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000, original: { rrn: p.rrn } });
  t.ok(again.ok, 'refundable again');
  t.ok((await audit(ledger.pool)).ok);
});

t.test('batch close totals count standing purchases and refunds of the batch and open the next batch', async (t) => {
  const { ledger } = await seededLedger(t);
  const p1 = await buy(ledger, 1000);
  await buy(ledger, 2000);
  const p3 = await buy(ledger, 500);
  await ledger.void({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 500, original: { batchNo: p3.key.batchNo, trace: p3.key.trace } });
  await ledger.refund({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 300, original: { rrn: p1.rrn } });
  const s = await ledger.closeBatch({ terminalId: p1.key.terminalId, batchNo: '000001', terminal: { debitFen: 3000, debitCount: 2, creditFen: 300, creditCount: 1 } });
  t.same(s, { balanced: true, switchTotals: { debitFen: 3000, debitCount: 2, creditFen: 300, creditCount: 1 }, nextBatchNo: '000002' });
  const term = await ledger.terminal(p1.key.terminalId);
  t.equal(term?.batchNo, '000002', 'the terminal (and its cache entry) moved to the next batch');
  const s2 = await ledger.closeBatch({ terminalId: p1.key.terminalId, batchNo: '000002', terminal: { debitFen: 1, debitCount: 1, creditFen: 0, creditCount: 0 } });
  t.equal(s2.balanced, false);
});
