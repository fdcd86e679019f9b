import { readdirSync } from 'node:fs';
import pg from 'pg';
import t from 'tap';
import { migrate } from '../../src/db/migrate.js';
import { testEnv } from '../support/db.js';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}

t.test('migrations go all the way down and up again, and a second up does nothing', async (t) => {
  const env = await testEnv(t);
  const down = await migrate(env.databaseUrl, { quiet: true, direction: 'down', count: Infinity });
  // Every file in migrations/, newest first.
  const files = readdirSync(new URL('../../migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -4)).sort();
  t.ok(files.length >= 5, `${files.length} migrations`);
  t.same(down, [...files].reverse());
  t.equal(await withClient(env.databaseUrl, async (c) => (await c.query(`SELECT to_regclass('cards') AS r`)).rows[0].r), null);
  const up = await migrate(env.databaseUrl, { quiet: true });
  t.same(up, files);
  t.same(await migrate(env.databaseUrl, { quiet: true }), []);
});

t.test('the database refuses a negative member balance (a constraint, not only code)', async (t) => {
  const env = await testEnv(t);
  await withClient(env.databaseUrl, async (c) => {
    await c.query(`INSERT INTO cards (card_no, expiry) VALUES ('8860000000000099', '3012')`);
    const err = await c.query(`UPDATE cards SET balance = -1 WHERE card_no = '8860000000000099'`).then(() => null, (e: { constraint?: string }) => e);
    t.equal(err?.constraint, 'cards_balance_not_negative');
  });
});

t.test('the idempotency key is unique per terminal, batch, trace and business date', async (t) => {
  const env = await testEnv(t);
  await withClient(env.databaseUrl, async (c) => {
    const ins = `INSERT INTO authorisations (terminal_id, batch_no, trace, business_date, kind, card_no, amount_fen, state, response_code, response)
                 VALUES ('10000001', '000001', '000001', $1, 'purchase', '8860000000000001', 1, 'declined', '51', '{}')`;
    await c.query(ins, ['2026-11-22']);
    const err = await c.query(ins, ['2026-11-22']).then(() => null, (e: { constraint?: string }) => e);
    t.equal(err?.constraint, 'authorisations_key');
    await c.query(ins, ['2026-11-23']);
    t.pass('the same trace on another business date is a new key');
  });
});

t.test('the rules of single columns are domains with the constraint names they had, and refuse what they refused', async (t) => {
  const env = await testEnv(t);
  await withClient(env.databaseUrl, async (c) => {
    const refused = async (sql: string, params: unknown[] = []) =>
      c.query(sql, params).then(() => null, (e: { code?: string; constraint?: string }) => ({ code: e.code, constraint: e.constraint }));
    t.same(await refused(`INSERT INTO cards (card_no, expiry) VALUES ('12345', '3012')`), { code: '23514', constraint: 'cards_card_no_check' });
    t.same(await refused(`INSERT INTO cards (card_no, expiry) VALUES ('8860000000000098', '30-12')`), { code: '23514', constraint: 'cards_expiry_check' });
    t.same(await refused(`INSERT INTO cards (card_no, expiry, status) VALUES ('8860000000000098', '3012', 'gone')`), { code: '23514', constraint: 'cards_status_check' });
    t.same(await refused(`INSERT INTO cards (card_no, expiry, tier) VALUES ('8860000000000098', '3012', 'platinum')`), { code: '23514', constraint: 'cards_tier_check' });
    await c.query(`INSERT INTO cards (card_no, expiry) VALUES ('8860000000000098', '3012')`);
    t.same(await refused(`UPDATE cards SET status = 'gone' WHERE card_no = '8860000000000098'`), { code: '23514', constraint: 'cards_status_check' }, 'on update too');
    const auth = `INSERT INTO authorisations (terminal_id, batch_no, trace, business_date, kind, card_no, amount_fen, points, state, response_code, response)
                  VALUES ('10000001', '000001', $1, '2026-11-22', $2, '8860000000000098', $3, $4, $5, '00', '{}')`;
    t.same(await refused(auth, ['000001', 'payment', 1, 0, 'approved']), { code: '23514', constraint: 'authorisations_kind_check' });
    t.same(await refused(auth, ['000002', 'purchase', -1, 0, 'approved']), { code: '23514', constraint: 'authorisations_amount_fen_check' });
    t.same(await refused(auth, ['000003', 'purchase', 1, -1, 'approved']), { code: '23514', constraint: 'authorisations_points_check' });
    t.same(await refused(auth, ['000004', 'purchase', 1, 0, 'pending']), { code: '23514', constraint: 'authorisations_state_check' });
    const txn = `INSERT INTO ledger_txns (card_no, kind, member_points, counter_kind) VALUES ('8860000000000098', $1, $2, $3)`;
    t.same(await refused(txn, ['gift', 5, 'issuer_accrual']), { code: '23514', constraint: 'ledger_txns_kind_check' });
    t.same(await refused(txn, ['credit', 0, 'issuer_accrual']), { code: '23514', constraint: 'ledger_txns_member_points_check' });
    t.same(await refused(txn, ['credit', 5, 'bank']), { code: '23514', constraint: 'ledger_txns_counter_kind_check' });
    t.same(await refused(`UPDATE cards SET balance = -1 WHERE card_no = '8860000000000098'`), { code: '23514', constraint: 'cards_balance_not_negative' },
      'the balance rule is still the table\'s');
  });
});
