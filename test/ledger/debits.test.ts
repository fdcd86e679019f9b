// The debit batch's preconditions, asserted where the batch is built: one debit per card (the set statement
// judges each debit against the card's balance as it was before the statement), and one array element per
// debit in every column.
import t from 'tap';
import { batchArrays, batchOutcome, type DebitItem } from '../../src/ledger/debits.js';

const item = (cardNo: string, trace: string, amountFen = 100): DebitItem => ({
  key: { terminalId: '10000001', batchNo: '000001', trace, businessDate: '2026-11-22' },
  merchantId: '898310048160001', cardNo, amountFen, pvv: null,
});

t.test('a batch of distinct cards becomes one column per field, each as long as the batch, in order', async (t) => {
  const cols = batchArrays([item('8860000000000001', '000001', 100), item('8860000000000002', '000002', 250)]);
  t.equal(cols.length, 8, 'the eight arguments of ps_purchase_set');
  for (const c of cols) t.equal(c.length, 2);
  t.same(cols[2], ['000001', '000002'], 'traces');
  t.same(cols[5], ['8860000000000001', '8860000000000002'], 'cards');
  t.same(cols[6], [100, 250], 'amounts');
  t.same(cols[7], [null, null], 'PIN verification values');
});

t.test('a card twice in one batch throws, naming the broken invariant and not the card', async (t) => {
  const card = '8860000000000001';
  const err = t.throws(() => batchArrays([item(card, '000001'), item('8860000000000002', '000002'), item(card, '000003')])) as unknown as Error;
  t.match(err.message, /debit batch invariant broken: distinct cards \(item 2 /);
  t.notMatch(err.message, card, 'the message is logged: it carries no card number');
});

t.test('an approval row becomes the approval Postgres stores; another row its answer; the card beside it', async (t) => {
  const approved = batchOutcome({ answer: null, rrn: '000000000042', auth_code: '000042', points: '5', card_version: '7', card_balance: '95' }, 500);
  t.same(approved, { ok: true, rrn: '000000000042', authCode: '000042', points: 5, amountFen: 500, balancePoints: 95, card: { version: 7, balance: 95 } });
  const refused = batchOutcome({ answer: { ok: false, decline: { kind: 'card-lost' } }, rrn: null, auth_code: null, points: null, card_version: null, card_balance: null }, 500);
  t.same(refused, { ok: false, decline: { kind: 'card-lost' } });
});
