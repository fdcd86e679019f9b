// Thousands of concurrent purchases on a few cards: never an overdraft, and the approved debits are exactly
// the balance change — through the batcher, the plain path, and two ledgers (two switch processes) at once.
import t, { type Test } from 'tap';
import { audit } from '../../src/ledger/audit.js';
import { Ledger, type LedgerOptions } from '../../src/ledger/index.js';
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

t.test('two debits of one card in one batch are judged against the running balance; bad items fail alone', async (t) => {
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
  t.equal(ledger.batchStats.batches - before, 1, 'one batch');
  t.ok(a.ok && a.balancePoints === 200);
  t.same(b.ok ? null : b.decline, { kind: 'insufficient-points', balancePoints: 200 });
  t.same(unknown.ok ? null : unknown.decline, { kind: 'unknown-card' });
  t.same(wrongMerchant.ok ? null : wrongMerchant.decline, { kind: 'invalid-merchant' });
  t.ok(c.ok && c.balancePoints === 0, 'the third sees the first, not the declined second');
  const { rows } = await ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', [silver]);
  t.equal(rows[0].balance, 0);
  t.same((await audit(ledger.pool)).problems, []);
});
