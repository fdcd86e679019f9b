// The rules TypeScript judges for answers served from the cache, run through both sides with the same cases: the
// card checks (cardDecline and ps_card_decline), the points rounding (pointsFor and ps_points). And every decline
// kind a SQL function can emit is a kind TypeScript knows (else the switch would answer it 96).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { functionsDir } from '../../src/db/migrate.js';
import { cardDecline } from '../../src/ledger/card-rules.js';
import { responseCodeTable } from '../../src/ledger/decline.js';
import { pointsFor } from '../../src/ledger/points.js';
import type { CardState } from '../../src/ledger/types.js';
import { testEnv } from '../support/db.js';

async function connect(t: Test): Promise<pg.Client> {
  const env = await testEnv(t);
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  return c;
}

t.test('card checks: cardDecline and ps_card_decline give the same answer for every case', async (t) => {
  const c = await connect(t);
  const card = (over: Partial<CardState>): CardState => ({
    cardNo: '8860000000000001', status: 'active', expiry: '2611', enrolled: true, pinVerification: null, balancePoints: 100, version: 1, ...over,
  });
  const cases: Array<{ card: CardState | null; date: string; pvv: string | null; why: string }> = [
    { card: null, date: '2026-11-22', pvv: null, why: 'no such card' },
    { card: card({}), date: '2026-11-22', pvv: null, why: 'a good card' },
    { card: card({ status: 'lost' }), date: '2026-11-22', pvv: null, why: 'lost' },
    { card: card({ status: 'frozen' }), date: '2026-11-22', pvv: null, why: 'frozen' },
    { card: card({ status: 'closed' }), date: '2026-11-22', pvv: null, why: 'closed' },
    { card: card({ status: 'expired', expiry: '9912' }), date: '2026-11-22', pvv: null, why: 'expired by status' },
    { card: card({ expiry: '2611' }), date: '2026-11-30', pvv: null, why: 'the last day of its expiry month' },
    { card: card({ expiry: '2611' }), date: '2026-12-01', pvv: null, why: 'the first day after its expiry month' },
    { card: card({ expiry: '2612' }), date: '2027-01-01', pvv: null, why: 'over a year end' },
    { card: card({ expiry: '2701' }), date: '2026-12-31', pvv: null, why: 'a month before, over a year end' },
    { card: card({ status: 'lost', expiry: '2001' }), date: '2026-11-22', pvv: null, why: 'lost and expired: lost first' },
    { card: card({ enrolled: false }), date: '2026-11-22', pvv: null, why: 'not enrolled' },
    { card: card({ enrolled: false, expiry: '2001' }), date: '2026-11-22', pvv: null, why: 'not enrolled and expired: expired first' },
    { card: card({ pinVerification: 'abc' }), date: '2026-11-22', pvv: null, why: 'a PIN card without a PIN' },
    { card: card({ pinVerification: 'abc' }), date: '2026-11-22', pvv: 'abd', why: 'a wrong PIN' },
    { card: card({ pinVerification: 'abc' }), date: '2026-11-22', pvv: 'abc', why: 'the right PIN' },
    { card: card({ pinVerification: null }), date: '2026-11-22', pvv: 'abc', why: 'a PIN on a card without one' },
    { card: card({ enrolled: false, pinVerification: 'abc' }), date: '2026-11-22', pvv: null, why: 'not enrolled before the PIN' },
  ];
  for (const k of cases) {
    const ts = cardDecline(k.card, k.date, k.pvv)?.kind ?? null;
    const row = k.card && { card_no: k.card.cardNo, status: k.card.status, expiry: k.card.expiry, enrolled: k.card.enrolled,
      pin_verification: k.card.pinVerification, balance: k.card.balancePoints, version: k.card.version };
    const { rows } = await c.query(`SELECT ps_card_decline(jsonb_populate_record(NULL::cards, $1::jsonb), $2::date, $3) AS kind`,
      [row && JSON.stringify(row), k.date, k.pvv]);
    t.equal(rows[0].kind, ts, `${k.why}: ${ts ?? 'no decline'}`);
  }
});

t.test('points rounding: pointsFor and ps_points give the same points', async (t) => {
  const c = await connect(t);
  const amounts = [0, 1, 2, 3, 99, 100, 101, 199, 200, 12345, 999_999, 1_000_000, 999_999_999_999];   // fen; field 4 holds 12 digits
  const rates = [1, 2, 3, 7, 50, 99, 100, 101, 1000, 9000];
  const cases = amounts.flatMap((a) => rates.map((r) => ({ a, r })));
  const { rows } = await c.query(`SELECT ps_points(a, r)::text AS p FROM unnest($1::bigint[], $2::int[]) WITH ORDINALITY AS u(a, r, i) ORDER BY i`,
    [cases.map((k) => k.a), cases.map((k) => k.r)]);
  const differ = cases.filter((k, n) => String(pointsFor(k.a, k.r)) !== rows[n].p);
  t.same(differ, [], `${cases.length} cases, the same points on both sides`);
  t.equal(pointsFor(1, 50), 1, 'a part of a point rounds up');
  t.equal(pointsFor(3, 50), 2);
});

/** The decline kinds the function files emit: a kind literal where a kind is made or named. */
function sqlDeclineKinds(files: Array<{ name: string; sql: string }>): Array<{ file: string; kind: string }> {
  const found: Array<{ file: string; kind: string }> = [];
  for (const f of files) {
    // ps_decline('kind' …), THEN 'kind' (a CASE choosing a kind), kind = / IN ('kind', …) comparisons
    const sql = f.sql.replace(/--.*$/gm, '');
    for (const m of sql.matchAll(/ps_decline\('([a-z-]+)'|THEN '([a-z]+(?:-[a-z]+)+)'|kind(?:\s*=\s*|\s+IN\s*\()('[a-z-]+'(?:\s*,\s*'[a-z-]+')*)/g)) {
      if (m[1]) { found.push({ file: f.name, kind: m[1] }); continue; }
      // elsewhere only hyphenated literals: 'purchase', 'approved' … are an authorisation's kind and state
      const literals = (m[2] ?? m[3] ?? '').split(',').map((s) => s.trim().replace(/^'|'$/g, ''));
      for (const k of literals) if (k.includes('-')) found.push({ file: f.name, kind: k });
    }
  }
  return found;
}

t.test('every decline kind the SQL files emit is a kind TypeScript knows', async (t) => {
  const dir = functionsDir();
  // ps_accrue_set answers accrual-feed lines, not POS requests: its outcomes are not declines.
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql') && f !== 'ps_accrue_set.sql')
    .map((f) => ({ name: f, sql: readFileSync(path.join(dir, f), 'utf8') }));
  const known = new Set(responseCodeTable().map((r) => r.kind));
  const emitted = sqlDeclineKinds(files);
  t.ok(emitted.length >= 15, `${emitted.length} kind literals found in ${files.length} files`);
  for (const k of ['unknown-card', 'card-lost', 'card-frozen', 'card-closed', 'card-expired', 'not-enrolled', 'incorrect-pin',
    'insufficient-points', 'invalid-amount', 'invalid-merchant', 'duplicate', 'original-not-found', 'original-not-voidable',
    'original-amount-wrong', 'original-not-refundable', 'refund-exceeds-original', 'reversed-before-arrival']) {
    t.ok(emitted.some((e) => e.kind === k), `the scan finds ${k}`);
  }
  t.same(emitted.filter((e) => !known.has(e.kind as never)), [], 'no kind the switch would answer 96');
  // The check can fail: a file that emits a kind TypeScript does not know is caught.
  const unknown = sqlDeclineKinds([{ name: 'ps_x.sql', sql: "SELECT CASE WHEN x THEN 'card-stolen' END, ps_decline('tier-limit')" }]);
  t.same(unknown.filter((e) => !known.has(e.kind as never)).map((e) => e.kind), ['card-stolen', 'tier-limit']);
});
