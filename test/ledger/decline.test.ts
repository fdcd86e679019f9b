import t from 'tap';
import {
  asDecline, declineKinds, refusalKinds, responseCodeFor, responseCodeTable, sampleOf, switchRefusalKinds,
  unknownDeclineKinds, type Decline, type RefusalKind,
} from '../../src/ledger/decline.js';
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

t.test('every refusal kind, the ledger\'s and the switch\'s, maps to one code; each kind is listed once', async (t) => {
  t.equal(new Set(refusalKinds).size, refusalKinds.length, 'no kind listed twice');
  t.same(refusalKinds, [...declineKinds, ...switchRefusalKinds]);
  t.same(declineKinds.filter((k) => (switchRefusalKinds as readonly string[]).includes(k)), [], 'a kind is the ledger\'s or the switch\'s');
  for (const kind of refusalKinds) t.match(responseCodeFor(sampleOf(kind)), /^[0-9A-Z]{2}$/, kind);
  // The ledger's table (written to Postgres) is exactly its own kinds, with the same codes.
  t.same(responseCodeTable().map((r) => r.kind), declineKinds);
  const expect: Record<Exclude<RefusalKind, Decline['kind']>, string> = {
    'format-error': '30', 'unknown-terminal': '97', 'terminal-inactive': '97', 'not-signed-on': '97',
    'mac-missing': 'A0', 'mac-invalid': 'A0', 'merchant-not-terminals': '03', 'function-not-supported': '40',
    'card-too-frequent': '65',
  };
  for (const [kind, code] of Object.entries(expect)) t.equal(responseCodeFor(sampleOf(kind as RefusalKind)), code, kind);
});

t.test('a decline kind from SQL that TypeScript does not know becomes a system error, logged and counted', async (t) => {
  const known = { kind: 'original-not-voidable', state: 'voided' };
  t.equal(asDecline(known), known, 'a known kind passes through as it is');
  const logged: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const log = { error: (obj: Record<string, unknown>, msg: string) => { logged.push({ obj, msg }); } };
  const before = unknownDeclineKinds()['card-stolen'] ?? 0;
  const d = asDecline({ kind: 'card-stolen' }, log);
  t.same(d, { kind: 'system-error', detail: 'decline kind "card-stolen" from SQL is not a known kind' });
  t.equal(responseCodeFor(d), '96');
  t.same(logged, [{ obj: { kind: 'card-stolen', count: before + 1 }, msg: d.kind === 'system-error' ? d.detail : '' }]);
  asDecline({ kind: 'card-stolen' }, log);
  t.equal(unknownDeclineKinds()['card-stolen'], before + 2, 'counted each time');
  t.equal(asDecline({ no: 'kind' }, log).kind, 'system-error', 'a decline without a kind too');
  t.equal(asDecline(null, log).kind, 'system-error');
  t.equal(logged.length, 4);
  // Without a logger it still says so, on stderr.
  const write = process.stderr.write;
  let said = '';
  process.stderr.write = ((s: string) => { said += s; return true; }) as typeof process.stderr.write;
  try { asDecline({ kind: 'card-stolen' }); } finally { process.stderr.write = write; }
  t.match(said, /decline kind "card-stolen" from SQL is not a known kind/);
});

/** The decline kinds a SQL text can produce: ps_decline('x'), 'kind', 'x' and the kebab-case literals. */
function declineKindsIn(sql: string): Set<string> {
  const found = new Set<string>();
  for (const re of [/ps_decline\(\s*'([a-z-]+)'/g, /'kind'\s*,\s*'([a-z-]+)'/g, /'([a-z]+(?:-[a-z]+)+)'/g]) {
    for (const m of sql.matchAll(re)) found.add(m[1]!);
  }
  return found;
}

/** Functions that answer accrual-feed lines, not POS requests: their outcomes are AccrualOutcome, not declines. */
const feedFunctions = ['ps_accrue_set'];

t.test('every decline kind the live SQL functions can produce is a known kind', async (t) => {
  // The reader finds an unknown kind, so the check below can fail.
  t.same([...declineKindsIn(`RETURN ps_decline('card-stolen'); SELECT jsonb_build_object('kind', 'weird') WHERE k IN ('card-lost')`)].sort(),
    ['card-lost', 'card-stolen', 'weird']);
  const { ledger } = await seededLedger(t);
  const { rows } = await ledger.pool.query<{ proname: string; prosrc: string }>(
    `SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = current_schema() AND p.proname LIKE 'ps\\_%' AND p.proname <> ALL ($1)`, [feedFunctions]);
  t.ok(rows.length > 5, 'the ledger\'s functions are there');
  const produced = new Set(rows.flatMap((r) => [...declineKindsIn(r.prosrc)]));
  t.ok(produced.has('insufficient-points') && produced.has('duplicate'), 'the reader sees the kinds SQL uses');
  for (const kind of produced) t.ok((declineKinds as readonly string[]).includes(kind), `${kind} (from SQL) is a known decline kind`);
});
