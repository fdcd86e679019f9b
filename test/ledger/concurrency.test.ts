// Thousands of concurrent purchases on a few cards: never an overdraft, and the approved debits are exactly
// the balance change — through the batcher, the plain path, and two ledgers (two switch processes) at once.
import t, { type Test } from 'tap';
import { audit } from '../../src/ledger/audit.js';
import { batchOutcome, Ledger, type BatchRow, type LedgerOptions } from '../../src/ledger/index.js';
import type { TxnKey } from '../../src/ledger/types.js';
import { loadCardNo } from '../../simulators/demo.js';
import { coffee, key, seededLedger } from './helpers.js';

const cards = ['8862000000000001', '8862000000000002', '8862000000000003', '8862000000000004'];
const startPoints = 500_000;

async function run(t: Test, o: Partial<LedgerOptions>, ledgersCount: number) {
  const { env, ledger } = await seededLedger(t, o);
  await ledger.pool.query(
    `INSERT INTO cards (card_no, expiry, tier) SELECT unnest($1::text[]), '3012', 'gold'`, [cards]);
  for (const cardNo of cards) {
    const c = await ledger.credit({ cardNo, points: startPoints, idempotencyKey: `open-${cardNo}` });
    t.ok(c.ok);
  }
  const ledgers = [ledger];
  for (let i = 1; i < ledgersCount; i++) {
    const other = await Ledger.open({ databaseUrl: env.databaseUrl, redisUrl: env.redisUrl, redisPrefix: env.redisPrefix, ...o });
    t.teardown(() => other.close());
    ledgers.push(other);
  }
  const purchases = 3000;
  const results = await Promise.all(Array.from({ length: purchases }, (_, i) => {
    const cardNo = cards[i % cards.length] as string;
    const amountFen = 100 + ((i * 7919) % 5000);          // 50..2550 points: the cards run out part-way
    const l = ledgers[i % ledgers.length] as Ledger;
    return l.purchase({ key: key(), merchantId: coffee, cardNo, amountFen }).then((r) => ({ r, cardNo }));
  }));
  const approvedByCard = new Map<string, number>();
  let approved = 0, insufficient = 0;
  for (const { r, cardNo } of results) {
    if (r.ok) {
      approved++;
      approvedByCard.set(cardNo, (approvedByCard.get(cardNo) ?? 0) + r.points);
    } else if (r.decline.kind === 'insufficient-points') insufficient++;
    else t.fail(`unexpected decline ${r.decline.kind}`);
  }
  t.ok(approved > 0 && insufficient > 0, `some approved (${approved}) and some declined for points (${insufficient})`);
  const { rows } = await ledger.pool.query('SELECT card_no, balance FROM cards WHERE card_no = ANY($1)', [cards]);
  for (const row of rows) {
    t.ok(row.balance >= 0, `card ${row.card_no.slice(-1)} never below zero`);
    t.equal(startPoints - row.balance, approvedByCard.get(row.card_no) ?? 0, `card ${row.card_no.slice(-1)}: approved debits = balance change`);
  }
  const report = await audit(ledger.pool);
  t.same(report.problems, [], 'audit finds nothing');
  return ledgers;
}

t.test('concurrent purchases through the batcher never overdraw and sum exactly', async (t) => {
  const [ledger] = await run(t, { batchDebitsMax: 64 }, 1);
  const s = ledger!.batchStats;
  t.ok(s.items > s.batches, `debits shared commits: ${s.items} debits in ${s.batches} batches`);
});

t.test('concurrent purchases on the plain one-transaction path never overdraw and sum exactly', async (t) => {
  await run(t, { writePath: 'plain' }, 1);
});

t.test('two ledgers (two switch processes) on one database never overdraw and sum exactly', async (t) => {
  await run(t, {}, 2);
});

t.test('concurrent purchases with Redis off (Postgres alone) never overdraw and sum exactly', async (t) => {
  await run(t, { redis: false } as Partial<LedgerOptions>, 1);
});

t.test('debits of one card arriving together are judged in arrival order, one batch at a time; bad items fail alone', async (t) => {
  // No Redis and a warm terminal memo: every request reaches the batcher in the same tick.
  const { ledger } = await seededLedger(t, { batchDebitsMax: 64, redis: false } as Partial<LedgerOptions>);
  const silver = '8860000000000002';                     // 500 points
  await ledger.purchase({ key: key(), merchantId: coffee, cardNo: '8860000000000007', amountFen: 1 });
  const before = ledger.batchStats.batches;
  const [a, b, unknown, wrongMerchant, c] = await Promise.all([
    ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 600 }),          // 300 points
    ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 600 }),          // 300 more: 200 left
    ledger.purchase({ key: key(), merchantId: coffee, cardNo: '8869999999999999', amountFen: 100 }),
    ledger.purchase({ key: key('20000001'), merchantId: coffee, cardNo: silver, amountFen: 100 }),
    ledger.purchase({ key: key(), merchantId: coffee, cardNo: silver, amountFen: 400 }),          // 200: fits exactly
  ]);
  // Three debits of silver reach the ledger (the wrong-merchant one is refused before): three batches.
  t.equal(ledger.batchStats.batches - before, 3, 'a card is never twice in one batch');
  t.ok(a.ok && a.balancePoints === 200, 'the first in arrival order goes first');
  t.same(b.ok ? null : b.decline, { kind: 'insufficient-points', balancePoints: 200 });
  t.same(unknown.ok ? null : unknown.decline, { kind: 'unknown-card' });
  t.same(wrongMerchant.ok ? null : wrongMerchant.decline, { kind: 'invalid-merchant' });
  t.ok(c.ok && c.balancePoints === 0, 'the third sees the first, not the declined second');
  const { rows } = await ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', [silver]);
  t.equal(rows[0].balance, 0);
  t.same((await audit(ledger.pool)).problems, []);
});

t.test('ps_purchase_set(_keyed): a card twice runs against the running balance; a key twice or claimed meanwhile asks for a retry', async (t) => {
  // keyedAfterConflictMs 0: every batch tries the plain insert first (the keyed window has a test of its own).
  const { ledger } = await seededLedger(t, { redis: false, keyedAfterConflictMs: 0 } as Partial<LedgerOptions>);
  const silver = '8860000000000002';                     // 500 points, no PIN
  const gold = '8860000000000007';
  // ps_purchase_set_keyed checks each key first (an existing one comes back retry); ps_purchase_set, the common
  // path, inserts plainly and fails the whole call on an existing key (tested below).
  const call = async (items: Array<{ trace: string; card: string; amount: number }>, fn = 'ps_purchase_set_keyed') => {
    const { rows } = await ledger.pool.query<BatchRow>(
      `SELECT answer, rrn, auth_code, points, card_version, card_balance FROM ${fn}($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::text[], $7::bigint[], $8::text[])`,
      [items.map(() => '10000001'), items.map(() => '000001'), items.map((i) => i.trace), items.map(() => '2026-11-22'),
        items.map(() => coffee), items.map((i) => i.card), items.map((i) => i.amount), items.map(() => null)]);
    cards.push(...rows.map((r) => ({ version: r.card_version, balance: r.card_balance })));
    raw.push(...rows);
    return rows.map((r, n) => {
      const { card: _card, ...answer } = batchOutcome(r, items[n]!.amount);
      return answer;
    });
  };
  /** Every row as Postgres returned it, in call order. */
  const raw: BatchRow[] = [];
  /** Every row's card columns, in call order. */
  const cards: Array<{ version: string | null; balance: string | null }> = [];
  const same = await call([{ trace: '900001', card: silver, amount: 600 }, { trace: '900002', card: silver, amount: 600 },
    { trace: '900003', card: silver, amount: 400 }]);
  t.same(same.map((r) => r.ok), [true, false, true], 'one card three times: judged in order against the running balance');
  t.equal(same[2]?.balancePoints, 0);
  t.same(cards.map((c) => (c.balance === null ? null : Number(c.balance))), [0, null, 0],
    'the card\'s balance after the batch beside each approval (the cache keeps the newest), taken out of the answers');
  t.notOk(same.some((r) => 'card' in r), 'and not left in them');
  const dupKey = await call([{ trace: '900010', card: gold, amount: 100 }, { trace: '900010', card: '8860000000000001', amount: 100 }]);
  t.equal(dupKey[0]?.ok, true, 'the first of a key twice is judged');
  t.same(dupKey[1], { ok: false, retry: true }, 'the second is skipped by the unique key and asks to be run alone');
  // The card's new version and balance come beside each approval (for the cache), and only beside an approval.
  const goldCard = (await ledger.pool.query('SELECT balance, version FROM cards WHERE card_no = $1', [gold])).rows[0];
  t.same(cards.slice(-2), [{ version: String(goldCard.version), balance: String(goldCard.balance) }, { version: null, balance: null }]);
  t.equal(Number(goldCard.balance), dupKey[0]?.balancePoints, 'the balance the answer gives');
  // An approval comes as columns, not as JSON; anything else as its answer, without them.
  t.same(raw.slice(-2).map((r) => [r.answer, r.rrn === null, r.auth_code === null, r.points]),
    [[null, false, false, '50'], [{ ok: false, retry: true }, true, true, null]], 'an approval comes as columns, a retry as its answer');
  // What a replay returns (ps_answer of the stored row) is what the switch made of the columns.
  const stored = (await ledger.pool.query(`SELECT response, balance_after, ps_answer(a) AS answer FROM authorisations a WHERE trace = '900010'`)).rows;
  t.equal(stored.length, 1);
  t.equal(stored[0].response, null, 'the approval is stored as columns, without a JSON answer');
  t.equal(Number(stored[0].balance_after), Number(goldCard.balance), 'with the card\'s balance after it');
  t.same(stored[0].answer, dupKey[0], 'ps_answer makes the same answer from them');
  t.match(dupKey[0], { ok: true, rrn: /^\d{12}$/, authCode: /^\d{6}$/, points: 50, amountFen: 100 }, '1 yuan at 50 points a yuan');
  const goldBalance = async () => Number((await ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', [gold])).rows[0].balance);
  const goldBefore = await goldBalance();
  const replay = await call([{ trace: '900010', card: gold, amount: 100 }, { trace: '900011', card: '8860000000000001', amount: 100 }]);
  t.same(replay[0], { ...dupKey[0], replayed: true }, 'a key stored before the call: its stored approval, replayed (as ps_purchase gives it)');
  t.equal(await goldBalance(), goldBefore, 'and debits nothing');
  t.same(replay[1]?.decline, { kind: 'incorrect-pin' }, 'a PIN card without a PIN is declined');
  // The plain insert: an existing key fails the whole call, and nothing of it stays.
  const rowsBefore = (await ledger.pool.query('SELECT count(*)::int AS n FROM authorisations')).rows[0].n;
  const silverBefore = (await ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', ['8860000000000001'])).rows[0].balance;
  const failed = await call([{ trace: '900013', card: '8860000000000001', amount: 100 }, { trace: '900010', card: gold, amount: 100 }], 'ps_purchase_set')
    .then(() => null, (e: { code?: string; constraint?: string }) => e);
  t.match(failed, { code: '23505', constraint: 'authorisations_key' }, 'ps_purchase_set: an existing key is a unique violation');
  t.equal((await ledger.pool.query('SELECT count(*)::int AS n FROM authorisations')).rows[0].n, rowsBefore, 'no row of the call stays');
  t.equal((await ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', ['8860000000000001'])).rows[0].balance, silverBefore, 'nothing debited');
  t.equal(await goldBalance(), goldBefore);
  const fresh2 = await call([{ trace: '900014', card: '8860000000000001', amount: 0 }, { trace: '900015', card: gold, amount: 100 }], 'ps_purchase_set');
  t.same(fresh2.map((r) => (r.ok ? 'approved' : r.decline?.kind)), ['invalid-amount', 'approved'], 'new keys: judged as on the keyed path');
  // Every card rule in one batch, judged by the rules every debit shares (ps_card_decline).
  const rules = await call([{ trace: '900030', card: '8860000000000003', amount: 100 }, { trace: '900031', card: '8860000000000004', amount: 100 },
    { trace: '900032', card: '8860000000000005', amount: 100 }, { trace: '900033', card: '8860000000000006', amount: 100 },
    { trace: '900034', card: '8869999999999998', amount: 100 }, { trace: '900035', card: '8860000000000007', amount: 100 }]);
  t.same(rules.map((r) => (r.ok ? 'approved' : r.decline?.kind)),
    ['card-lost', 'card-frozen', 'card-expired', 'not-enrolled', 'unknown-card', 'approved']);
  const { rows } = await ledger.pool.query(`SELECT count(*)::int AS n FROM authorisations WHERE trace LIKE '9000%' AND trace < '900030'`);
  t.equal(rows[0].n, 6, 'one row per distinct key stored (three, one, the declined one, and 900015)');
  t.same((await audit(ledger.pool)).problems, []);
  // Through the ledger, a retried item replays.
  const again = await ledger.purchase({ key: { terminalId: '10000001', batchNo: '000001', trace: '900010', businessDate: '2026-11-22' },
    merchantId: coffee, cardNo: gold, amountFen: 100 });
  t.ok(again.ok && again.replayed, 'the ledger replays the stored approval');
  // The same retransmission in one batch with a new purchase: the batch asks for a retry, and run alone it replays.
  const batchesBefore = ledger.batchStats.batches;
  const conflictsBefore = ledger.batchStats.keyConflicts;
  const goldMid = await goldBalance();
  const [retried, fresh] = await Promise.all([
    ledger.purchase({ key: { terminalId: '10000001', batchNo: '000001', trace: '900010', businessDate: '2026-11-22' },
      merchantId: coffee, cardNo: gold, amountFen: 100 }),
    ledger.purchase({ key: { terminalId: '10000001', batchNo: '000001', trace: '900012', businessDate: '2026-11-22' },
      merchantId: coffee, cardNo: silver, amountFen: 100 }),
  ]);
  t.equal(ledger.batchStats.batches - batchesBefore, 1, 'both went in one batch');
  t.ok(retried.ok && retried.replayed, 'the retransmission in a batch replays its stored approval');
  t.same(retried.ok && { rrn: retried.rrn, balancePoints: retried.balancePoints }, again.ok && { rrn: again.rrn, balancePoints: again.balancePoints },
    'the same approval, RRN and balance');
  t.equal(fresh.ok, false, 'the other item is judged on its own (silver was spent to 0 above)');
  t.equal(await goldBalance(), goldMid, 'and gold was not debited again');
  t.equal(ledger.batchStats.keyConflicts - conflictsBefore, 1, 'the plain insert met the existing key, and the batch ran again checking keys');
  // Through the ledger, one key on two cards in the same tick: one batch, the second asks for a retry and,
  // run alone, is declined as a duplicate; nothing is debited twice.
  const k = { terminalId: '10000001', batchNo: '000001', trace: '900020', businessDate: '2026-11-22' };
  const before = ledger.batchStats.batches;
  const [first, second] = await Promise.all([
    ledger.purchase({ key: k, merchantId: coffee, cardNo: gold, amountFen: 100 }),
    ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 100 }),
  ]);
  t.equal(ledger.batchStats.batches - before, 1, 'both in one batch');
  t.ok(first.ok && !first.replayed, 'the first is approved');
  t.same(second.ok ? null : second.decline, { kind: 'duplicate' }, 'the retried second is a duplicate of the first');
  t.equal(ledger.batchStats.keyConflicts - conflictsBefore, 2, 'a key twice in one batch is a conflict too');
  t.same((await audit(ledger.pool)).problems, []);
});

t.test('after a retransmission, batches check their keys first for keyedAfterConflictMs, then go back to the plain insert', async (t) => {
  const windowMs = 400;
  const { ledger } = await seededLedger(t, { redis: false, loadCards: 4, keyedAfterConflictMs: windowMs } as Partial<LedgerOptions>);
  const [a, b, c] = [1, 2, 3].map(loadCardNo) as [string, string, string];
  const buy = (k: TxnKey, cardNo: string) => ledger.purchase({ key: k, merchantId: coffee, cardNo, amountFen: 100 });
  /** Two purchases in the same tick (one batch), and what the batch counters did. */
  const pair = async (x: [TxnKey, string], y: [TxnKey, string]) => {
    const s0 = ledger.batchStats;
    const out = await Promise.all([buy(...x), buy(...y)]);
    const s1 = ledger.batchStats;
    t.equal(s1.batches - s0.batches, 1, 'one batch');
    return { out, conflicts: s1.keyConflicts - s0.keyConflicts, keyed: s1.keyedBatches - s0.keyedBatches };
  };
  const balances = async () => (await ledger.pool.query('SELECT card_no, balance FROM cards WHERE card_no = ANY($1) ORDER BY card_no', [[a, b, c]])).rows
    .map((r: { balance: string }) => Number(r.balance));
  // One purchase first on a fourth card: the terminal and merchant are then known, so a pair goes in one tick.
  t.ok((await buy(key(), loadCardNo(4))).ok);
  const start = await balances();
  const k1 = key(), k2 = key();
  const first = await pair([k1, a], [k2, b]);
  t.same([first.conflicts, first.keyed], [0, 0], 'new keys: the plain insert');
  t.ok(first.out.every((r) => r.ok && !r.replayed));
  // A retransmission of k1 beside a new debit: the plain insert fails on it, the batch runs again checking keys.
  const retry = await pair([k1, a], [key(), c]);
  t.same([retry.conflicts, retry.keyed], [1, 0], 'the plain insert met the key once');
  t.ok(retry.out[0]?.ok && retry.out[0].replayed, 'the retransmission replays its approval');
  t.same(retry.out[0]?.ok && retry.out[0].rrn, first.out[0]?.ok && first.out[0].rrn, 'with the same RRN');
  // Within the window: straight to the keyed function, with or without a retransmission in the batch; a
  // retransmission there fails nothing and extends the window.
  const fresh = await pair([key(), a], [key(), b]);
  t.same([fresh.conflicts, fresh.keyed], [0, 1], 'new keys in the window: checked first, no failed statement');
  t.ok(fresh.out.every((r) => r.ok && !r.replayed), 'and approved');
  // Count the one-at-a-time debits (ps_purchase) the ledger sends meanwhile.
  let alone = 0;
  const query = ledger.pool.query.bind(ledger.pool);
  (ledger.pool as { query: unknown }).query = (q: unknown, ...rest: unknown[]) => {
    if (typeof q === 'string' && q.startsWith('SELECT ps_purchase(')) alone++;
    return (query as (...a: unknown[]) => unknown)(q, ...rest);
  };
  const again = await pair([k2, b], [key(), c]);
  (ledger.pool as { query: unknown }).query = query;
  t.same([again.conflicts, again.keyed], [0, 1], 'a retransmission in the window: checked first, no failed statement');
  t.ok(again.out[0]?.ok && again.out[0].replayed, 'it replays');
  t.same(again.out[0]?.ok && again.out[0].rrn, first.out[1]?.ok && first.out[1].rrn, 'its original approval');
  t.equal(alone, 0, 'answered in the batch: no transaction of its own (migration 1763801400000)');
  t.ok(again.out[1]?.ok && !again.out[1].replayed, 'and the other debit is approved');
  // An original whose reversal came first (a reversal marker holds its key), in a batch in the window: declined
  // in the batch, nothing debited.
  const early = key();
  t.ok((await ledger.reverse({ original: early, kind: 'purchase', cardNo: c, amountFen: 100 })).ok);
  const marked = await pair([early, c], [key(), a]);
  t.same([marked.conflicts, marked.keyed], [0, 1]);
  t.same(marked.out[0]?.ok ? null : marked.out[0]?.decline, { kind: 'reversed-before-arrival' }, 'the original after its reversal is declined');
  t.ok(marked.out[1]?.ok, 'the other debit is approved');
  // The window passes with no retransmission: the plain insert again.
  await new Promise((r) => setTimeout(r, windowMs + 100));
  const later = await pair([key(), a], [key(), b]);
  t.same([later.conflicts, later.keyed], [0, 0], 'after the window: the plain insert');
  // Each card was debited once per debit approved anew (50 points each), never for a replay.
  const end = await balances();
  t.same(start.map((v, i) => v - (end[i] ?? 0)), [200, 150, 100], 'a: k1, fresh, beside the marked one, later; b: k2, fresh, later; c: two new debits, not the reversed one');
  t.same((await audit(ledger.pool)).problems, []);
});
