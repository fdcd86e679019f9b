import t from 'tap';
import { responseCodeFor, responseCodeTable } from '../../src/ledger/decline.js';
import { coffee, key, seededLedger, silver } from './helpers.js';

t.test('every decline kind maps to one two-character ISO code; the contract codes hold', async (t) => {
  const table = responseCodeTable();
  t.ok(table.length >= 19);
  for (const { kind, code } of table) t.match(code, /^[0-9A-Z]{2}$/, kind);
  const expect: Record<string, string> = {
    'insufficient-points': '51', 'unknown-card': '14', 'card-lost': '41', 'card-expired': '54', 'invalid-merchant': '03',
    duplicate: '94', 'original-not-found': '25', 'original-amount-wrong': '64', 'system-error': '96',
  };
  for (const [kind, code] of Object.entries(expect)) t.equal(table.find((r) => r.kind === kind)?.code, code, kind);
  t.equal(responseCodeFor({ kind: 'insufficient-points', balancePoints: 3 }), '51');
});

t.test('a decline stored by SQL carries the same response code as responseCodeFor', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  const r = await ledger.purchase({ key: k, merchantId: coffee, cardNo: silver, amountFen: 100_000 });
  t.notOk(r.ok);
  const { rows } = await ledger.pool.query(
    'SELECT state, response_code FROM authorisations WHERE terminal_id = $1 AND trace = $2', [k.terminalId, k.trace]);
  t.same(rows, [{ state: 'declined', response_code: '51' }]);
});

t.test('a batch upload is recorded once per key', async (t) => {
  const { ledger } = await seededLedger(t);
  const k = key();
  t.same(await ledger.upload({ key: k, cardNo: silver, amountFen: 100, kind: 'purchase', rrn: '000000000001' }), { ok: true });
  t.same(await ledger.upload({ key: k, cardNo: silver, amountFen: 100 }), { ok: true });
  const { rows } = await ledger.pool.query('SELECT count(*)::int AS n FROM batch_uploads');
  t.equal(rows[0].n, 1);
});
