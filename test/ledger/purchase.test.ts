import t from 'tap';
import { Ledger, type TxnKey } from '../../src/ledger/index.js';
import { cardBalance, coffee, diamond, gold, key, mart, seededLedger, silver, t1, t3 } from './helpers.js';

t.test('a purchase debits ceil(amountFen × rate / 100) points and returns the new balance', async (t) => {
  const { ledger } = await seededLedger(t);
  const r = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1234 });
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.points, 617, '12.34 yuan at 50 points/yuan = 617 points');
  t.equal(r.balancePoints, 1_000_000 - 617);
  t.equal(r.replayed, false);
  t.match(r.rrn, /^\d{12}$/);
  t.match(r.authCode, /^\d{6}$/);
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - 617);
  const m = await ledger.purchase({ key: key(t3), merchantId: mart, cardNo: diamond, amountFen: 3 });
  t.ok(m.ok && m.points === 2, '3 fen at 45 points/yuan = 1.35 points, rounded up to 2');
});

t.test('a purchase on a card with a PIN needs the right PIN', async (t) => {
  const { ledger } = await seededLedger(t);
  const none = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: gold, amountFen: 100 });
  t.same(none.ok ? null : none.decline, { kind: 'incorrect-pin' });
  const wrong = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: gold, amountFen: 100, pin: '654321' });
  t.same(wrong.ok ? null : wrong.decline, { kind: 'incorrect-pin' });
  const right = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: gold, amountFen: 100, pin: '123456' });
  t.ok(right.ok);
});

t.test('each card condition declines with its own reason', async (t) => {
  const { ledger } = await seededLedger(t);
  const cases: Array<[string, string]> = [
    ['8860000000000003', 'card-lost'], ['8860000000000004', 'card-frozen'], ['8860000000000005', 'card-expired'],
    ['8860000000000006', 'not-enrolled'], ['8869999999999999', 'unknown-card'],
  ];
  for (const [cardNo, kind] of cases) {
    const r = await ledger.purchase({ key: key(), merchantId: coffee, cardNo, amountFen: 100 });
    t.equal(r.ok ? 'approved' : r.decline.kind, kind, `card ${cardNo.slice(-1)} -> ${kind}`);
  }
  const low = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 1001 });
  t.same(low.ok ? null : low.decline, { kind: 'insufficient-points', balancePoints: 500 });
  t.equal(await cardBalance(ledger, silver), 500);
  const wrongMerchant = await ledger.purchase({ key: key(t1), merchantId: mart, cardNo: diamond, amountFen: 100 });
  t.equal(wrongMerchant.ok ? 'approved' : wrongMerchant.decline.kind, 'invalid-merchant');
  const noTerminal = await ledger.purchase({ key: key('99999999'), merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.equal(noTerminal.ok ? 'approved' : noTerminal.decline.kind, 'terminal-not-permitted');
  const zero = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 0 });
  t.equal(zero.ok ? 'approved' : zero.decline.kind, 'invalid-amount');
});

t.test('the balance inquiry answers the card balance and declines a lost card', async (t) => {
  const { ledger } = await seededLedger(t);
  const b = await ledger.balance({ cardNo: silver, terminalId: t1 });
  t.same(b, { ok: true, balancePoints: 500 });
  await ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 100 });
  t.same(await ledger.balance({ cardNo: silver, terminalId: t1 }), { ok: true, balancePoints: 450 }, 'the cache follows the debit');
  const lost = await ledger.balance({ cardNo: '8860000000000003', terminalId: t1 });
  t.same(lost.ok ? null : lost.decline, { kind: 'card-lost' });
});

t.test('sign-on stores working keys encrypted and terminal() returns them in clear; sign-off drops them', async (t) => {
  const { ledger } = await seededLedger(t);
  const before = await ledger.terminal(t1);
  t.equal(before?.tmk.toString('hex').toUpperCase(), '0123456789ABCDEFFEDCBA9876543210');
  t.equal(before?.keys, null);
  const keys = { pik: Buffer.alloc(16, 1), mak: Buffer.alloc(16, 2), tdk: Buffer.alloc(16, 3) };
  t.same(await ledger.signOn(t1, keys), { batchNo: '000001', keys });
  const after = await ledger.terminal(t1);
  t.ok(after?.signedOn);
  t.same(after?.keys, keys);
  // No MAC has verified under them yet: a second sign-on (the terminal's retry, or anyone's) gets them again.
  const other = { pik: Buffer.alloc(16, 4), mak: Buffer.alloc(16, 5), tdk: Buffer.alloc(16, 6) };
  t.same(await ledger.signOn(t1, other), { batchNo: '000001', keys }, 'unproven keys are issued again, not replaced');
  const single = { pik: Buffer.alloc(8, 7), mak: Buffer.alloc(8, 8), tdk: Buffer.alloc(16, 9) };
  t.same(await ledger.signOn(t1, single), { batchNo: '000001', keys: single }, 'unless the sign-on asks for keys of another length');
  t.ok(after?.keysId);
  await ledger.keysProven(t1, (await ledger.terminal(t1))!.keysId!);
  t.same(await ledger.signOn(t1, other), { batchNo: '000001', keys: other }, 'once a MAC has verified under them, a sign-on brings new keys');
  t.same((await ledger.terminal(t1))?.provenKeys, single, 'and the proven ones are kept beside them');
  const twice = await Promise.all([0, 1].map((i) => ledger.signOn(t1, { pik: Buffer.alloc(16, 10 + i), mak: Buffer.alloc(16, 12 + i), tdk: Buffer.alloc(16, 14 + i) })));
  t.same(twice[0]!.keys, other, 'still unproven: the same keys again');
  await ledger.keysProven(t1, (await ledger.terminal(t1))!.keysId!);
  const race = await Promise.all([0, 1].map((i) => ledger.signOn(t1, { pik: Buffer.alloc(16, 20 + i), mak: Buffer.alloc(16, 22 + i), tdk: Buffer.alloc(16, 24 + i) })));
  t.same(race[0]!.keys, race[1]!.keys, 'two sign-ons at once settle on one set of keys');
  t.same((await ledger.terminal(t1))?.keys, race[0]!.keys, 'the stored one');
  const { rows } = await ledger.pool.query('SELECT mak_enc FROM terminals WHERE terminal_id = $1', [t1]);
  t.notOk((rows[0].mak_enc as Buffer).includes(keys.mak), 'the MAK is not stored in clear');
  await ledger.signOff(t1);
  t.equal((await ledger.terminal(t1))?.keys, null);
});

t.test('a frozen card is declined from the cache without a debit attempt, its decline stored; unfrozen it pays again', async (t) => {
  const { ledger } = await seededLedger(t);
  t.ok(ledger.cacheAvailable, 'Redis is up (the pre-check needs it)');
  t.ok(await ledger.setCardStatus(diamond, 'frozen'));
  const count = async (table: string) => (await ledger.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
  const [auths, txns, declined] = [await count('authorisations'), await count('ledger_txns'), ledger.precheck.declined];
  const k = key();
  const r = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.same(r.ok ? null : r.decline, { kind: 'card-frozen' });
  t.equal(ledger.precheck.declined, declined + 1, 'by the pre-check');
  t.equal(await count('authorisations'), auths + 1, 'its decline stored under its key');
  t.equal(await count('ledger_txns'), txns, 'and nothing posted');
  await ledger.setCardStatus(diamond, 'active');
  const again = await ledger.purchase({ key: k, merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.same(again.ok ? null : again.decline, { kind: 'card-frozen' }, 'a retransmission after the unfreeze is answered as the first');
  t.ok((await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 })).ok, 'a new purchase pays');
});

t.test('a merchant changed outside the ledger is re-read after forgetMerchant', async (t) => {
  const { ledger } = await seededLedger(t);
  t.equal((await ledger.merchant(coffee))?.pointsPerYuan, 50);
  await ledger.pool.query('UPDATE merchants SET points_per_yuan = 40, version = version + 1 WHERE merchant_id = $1', [coffee]);
  await ledger.forgetMerchant(coffee);
  t.equal((await ledger.merchant(coffee))?.pointsPerYuan, 40);
  const r = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.ok(r.ok && r.points === 40);
});

t.test('a card approved here skips the cache pre-check; frozen by another process it is declined by Postgres once, then by the pre-check, each decline stored', async (t) => {
  const { env, ledger } = await seededLedger(t);
  const other = await Ledger.open({ databaseUrl: env.databaseUrl, redisUrl: env.redisUrl, redisPrefix: env.redisPrefix });
  t.teardown(() => other.close());
  const stored = async (k: TxnKey) => (await ledger.pool.query(
    'SELECT state FROM authorisations WHERE terminal_id = $1 AND batch_no = $2 AND trace = $3 AND business_date = $4',
    [k.terminalId, k.batchNo, k.trace, k.businessDate])).rows.map((r) => r.state as string);
  t.ok((await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 })).ok, 'approved');
  const p0 = { ...ledger.precheck };
  t.ok((await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 })).ok, 'approved again');
  t.equal(ledger.precheck.skipped, p0.skipped + 1, 'without asking the cache');
  t.equal(ledger.precheck.redis, p0.redis);
  t.ok(await other.setCardStatus(diamond, 'frozen'), 'frozen by another process');
  const k1 = key();
  const first = await ledger.purchase({ key: k1, merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.equal(first.ok ? 'approved' : first.decline.kind, 'card-frozen', 'Postgres declines it');
  t.same(await stored(k1), ['declined'], 'and stores the decline');
  t.equal(ledger.precheck.skipped, p0.skipped + 2, 'that one still skipped the cache');
  const k2 = key();
  const second = await ledger.purchase({ key: k2, merchantId: coffee, cardNo: diamond, amountFen: 100 });
  t.equal(second.ok ? 'approved' : second.decline.kind, 'card-frozen', 'the next is declined too');
  t.equal(ledger.precheck.declined, p0.declined + 1, 'by the cache pre-check');
  t.same(await stored(k2), ['declined'], 'its decline stored too, without a debit attempt');
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - 100, 'two debits of 50 points, nothing else');
});
