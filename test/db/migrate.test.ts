import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { functionFiles, functionsDir, migrate } from '../../src/db/migrate.js';
import { testEnv } from '../support/db.js';
import { migrationNames } from './migrations.js';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}

t.test('migrations go all the way down and up again, and a second up does nothing', async (t) => {
  const env = await testEnv(t);
  const down = await migrate(env.databaseUrl, { quiet: true, direction: 'down', count: Infinity });
  // Every migration in migrations/ (a timestamp, then _), newest first.
  const files = readdirSync(new URL('../../migrations/', import.meta.url)).filter((f) => /^\d+_.*\.sql$/.test(f)).map((f) => f.slice(0, -4)).sort();
  t.ok(files.length >= 1, `${files.length} migrations`);
  t.same(down, [...files].reverse());
  t.equal(await withClient(env.databaseUrl, async (c) => (await c.query(`SELECT to_regclass('cards') AS r`)).rows[0].r), null);
  const up = await migrate(env.databaseUrl, { quiet: true });
  t.same(up, files);
  t.same(await migrate(env.databaseUrl, { quiet: true }), []);
  t.same(await functionNames(env.databaseUrl), functionFiles().map((f) => f.name), 'every function file applied, and no other ps_* function');
});

async function functionNames(url: string): Promise<string[]> {
  return withClient(url, async (c) => (await c.query(
    `SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'ps\\_%' ORDER BY 1`)).rows.map((r) => r.proname));
}

t.test('concurrent migrates wait for each other and both succeed', async (t) => {
  const env = await testEnv(t);
  await migrate(env.databaseUrl, { quiet: true, direction: 'down', count: Infinity });
  const both = await Promise.all([migrate(env.databaseUrl, { quiet: true }), migrate(env.databaseUrl, { quiet: true })]);
  t.same(both.flat().sort(), migrationNames(), 'one applied the migrations, the other found them applied');
  t.same(await functionNames(env.databaseUrl), functionFiles().map((f) => f.name));
});

t.test('the function files are the whole truth: a changed file is applied, a changed signature too, a function no file defines is dropped', async (t) => {
  const env = await testEnv(t);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-fns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(functionsDir(), dir, { recursive: true });
  // ps_bucket's result becomes integer (CREATE OR REPLACE refuses that: dropped and made again), and a new file.
  const bucket = path.join(dir, 'ps_bucket.sql');
  writeFileSync(bucket, readFileSync(bucket, 'utf8').replace('RETURNS smallint', 'RETURNS integer').replace('::smallint', '::integer'));
  writeFileSync(path.join(dir, 'ps_zz_test.sql'), 'CREATE OR REPLACE FUNCTION ps_zz_test(p int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT p $$;\n');
  const result = async (fn: string) => withClient(env.databaseUrl, async (c) =>
    (await c.query(`SELECT pg_get_function_result(oid) AS r FROM pg_proc WHERE proname = $1`, [fn])).rows.map((r) => r.r));
  await migrate(env.databaseUrl, { quiet: true, functionsDir: dir });
  t.same(await result('ps_bucket'), ['integer'], 'the changed result type');
  t.same(await result('ps_zz_test'), ['integer'], 'the new function');
  // The file takes a second argument: the function with one argument goes.
  writeFileSync(path.join(dir, 'ps_zz_test.sql'), 'CREATE OR REPLACE FUNCTION ps_zz_test(p int, q int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT p + q $$;\n');
  await migrate(env.databaseUrl, { quiet: true, functionsDir: dir });
  t.same(await withClient(env.databaseUrl, async (c) => (await c.query(`SELECT oid::regprocedure::text AS f FROM pg_proc WHERE proname = 'ps_zz_test'`)).rows),
    [{ f: 'ps_zz_test(integer,integer)' }], 'one function of the name, with the file\'s arguments');
  await migrate(env.databaseUrl, { quiet: true });
  t.same(await result('ps_bucket'), ['smallint'], 'the repository\'s files again');
  t.same(await result('ps_zz_test'), [], 'and the function no file defines is gone');
  t.same(await functionNames(env.databaseUrl), functionFiles().map((f) => f.name));
  // A body that does not compile stops the migrate, and nothing of it stays.
  writeFileSync(path.join(dir, 'ps_zz_test.sql'), 'CREATE OR REPLACE FUNCTION ps_zz_test(p int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT ps_no_such(p) $$;\n');
  await t.rejects(migrate(env.databaseUrl, { quiet: true, functionsDir: dir }), /ps_no_such/);
  t.same(await result('ps_bucket'), ['smallint'], 'rolled back');
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
