import pg from 'pg';
import t from 'tap';
import { testEnv } from '../support/db.js';
import { cli } from '../ledger/run-cli.js';
import { migrationNames } from '../db/migrations.js';

t.test('pointswitch migrate on a migrated database says it is up to date; --down --steps all undoes every migration and up makes them again', async (t) => {
  const env = await testEnv(t);
  const up = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.equal(up.code, 0);
  t.match(up.stdout, /up to date/);
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const genericPlan = `SELECT coalesce('plan_cache_mode=force_generic_plan' = ANY (proconfig), false) AS on FROM pg_proc WHERE proname = 'ps_purchase_set'`;
  const txnIndex = `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'ledger_txns_auth'`;
  const result = `SELECT pg_get_function_result(oid) AS r FROM pg_proc WHERE proname = 'ps_purchase_set'`;
  t.equal((await c.query(genericPlan)).rows[0].on, true, 'the batch debit always runs on its generic plan');
  t.equal((await c.query(result)).rows[0].r, 'TABLE(answer jsonb, rrn text, auth_code text, points bigint, card_version bigint, card_balance bigint)',
    'and returns an approval as columns, with the card\'s version and balance');
  const cardIndex = `SELECT indexdef FROM pg_indexes WHERE indexname = 'authorisations_card'`;
  const balanceAfter = `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'authorisations' AND column_name = 'balance_after'`;
  // Finding a card's transactions (GET /transactions?cardNo=) reads its own index, newest first.
  t.match((await c.query(cardIndex)).rows[0]?.indexdef, /\(card_no, auth_id DESC\)/, 'authorisations by card, newest first');
  t.equal((await c.query(balanceAfter)).rows[0].n, 1, 'an approval\'s balance after it is a column');
  const keyed = `SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'ps_purchase_set_keyed'`;
  t.equal((await c.query(keyed)).rows[0].n, 1, 'the batch debit that checks each key is there for a key conflict');
  const cardNoType = `SELECT data_type, domain_name FROM information_schema.columns WHERE table_name = 'cards' AND column_name = 'card_no'`;
  const tableChecks = `SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid::regclass::text IN ('cards', 'authorisations', 'ledger_txns') ORDER BY 1`;
  t.same((await c.query(cardNoType)).rows, [{ data_type: 'text', domain_name: 'ps_card_no' }], 'a card number is a domain');
  t.same((await c.query(tableChecks)).rows.map((r) => r.conname),
    ['authorisations_answer', 'authorisations_auth_id_rrn', 'authorisations_refund_within', 'cards_balance_not_negative', 'ledger_txns_merchant', 'ledger_txns_merchant_date'],
    'only the rules that span columns stay table constraints');
  const keyedReplays = `SELECT prosrc LIKE '%ps_replay(%' AS on FROM pg_proc WHERE proname = 'ps_purchase_set_keyed'`;
  t.equal((await c.query(keyedReplays)).rows[0].on, true, 'the keyed batch debit replays a stored answer itself');
  const provenKeys = `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'terminals' AND column_name IN ('keys_proven', 'prev_pik_enc', 'prev_mak_enc', 'prev_tdk_enc')`;
  t.equal((await c.query(provenKeys)).rows[0].n, 4, 'a terminal keeps its proven keys beside those of its last sign-on');
  const facts = async () => ({
    genericPlan: (await c.query(genericPlan)).rows[0]?.on,
    keyedPlan: (await c.query(genericPlan.replace("'ps_purchase_set'", "'ps_purchase_set_keyed'"))).rows[0]?.on,
    result: (await c.query(result)).rows[0]?.r,
    cardIndex: (await c.query(cardIndex)).rows[0]?.indexdef,
    txnIndex: (await c.query(txnIndex)).rows[0].n,
    balanceAfter: (await c.query(balanceAfter)).rows[0].n,
    keyedReplays: (await c.query(keyedReplays)).rows[0]?.on,
    cardNoType: (await c.query(cardNoType)).rows,
    tableChecks: (await c.query(tableChecks)).rows.map((r) => r.conname),
    provenKeys: (await c.query(provenKeys)).rows[0].n,
  });
  const before = await facts();
  // An approval stored as columns by the batch debit, answered from them.
  await c.query(`INSERT INTO merchants (merchant_id, name, points_per_yuan, fee_rate_bp) VALUES ('898310048169990', 'Down Test', 50, 60)`);
  await c.query(`INSERT INTO cards (card_no, expiry, balance) VALUES ('8860000000000990', '3012', 1000), ('8860000000000991', '3012', 1000)`);
  const batch = (await c.query(`SELECT * FROM ps_purchase_set('{10000001,10000001}', '{000001,000001}', '{700001,700002}', '{2026-11-22,2026-11-22}',
    '{898310048169990,898310048169990}', '{8860000000000990,8860000000000991}', '{100,100}', '{NULL,NULL}')`)).rows;
  t.same(batch.map((r) => [r.answer, r.points, r.card_balance]), [[null, '50', '950'], [null, '50', '950']], 'two approvals as columns');
  const approval = `SELECT response, balance_after FROM authorisations WHERE trace = '700001'`;
  t.same((await c.query(approval)).rows, [{ response: null, balance_after: '950' }], 'stored as columns');

  const one = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(one.code, 0, one.stderr);
  t.equal(one.stdout, `migrate: undid ${migrationNames().at(-1)}\n`, '--down alone undoes the last migration only');
  const down = await cli(['migrate', '--down', '--steps', 'all', '--database-url', env.databaseUrl]);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /^migrate: undid .*1763800000000_baseline\n$/);
  t.equal((await c.query(`SELECT to_regclass('cards') AS r`)).rows[0].r, null, 'the down migration dropped the tables');
  t.equal((await c.query(`SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'ps\\_%'`)).rows[0].n, 0, 'and the functions');
  t.equal((await c.query(`SELECT count(*)::int AS n FROM pg_type WHERE typname = 'ps_card_no'`)).rows[0].n, 0, 'and the domains');

  const again = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /applied 1763800000000_baseline/);
  t.same(await facts(), before, 'up again: the same schema and functions');
  t.same((await cli(['migrate', '--database-url', env.databaseUrl])).stdout, 'migrate: the database is up to date\n');
});

t.test('pointswitch migrate --down then up: card numbers compare byte-wise, and no entries-by-card index', async (t) => {
  const env = await testEnv(t);
  t.equal((await cli(['migrate', '--down', '--steps', 'all', '--database-url', env.databaseUrl])).code, 0);
  t.equal((await cli(['migrate', '--database-url', env.databaseUrl])).code, 0);
  t.equal((await cli(['migrate', '--steps', '2', '--database-url', env.databaseUrl])).code, 2, '--steps without --down is refused');
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const cardIndex = `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'ledger_entries_card'`;
  const collation = `SELECT collation_name FROM information_schema.columns WHERE table_name = 'cards' AND column_name = 'card_no'`;
  t.equal((await c.query(cardIndex)).rows[0].n, 0, 'ledger entries are a view, with no index by card');
  t.equal((await c.query(collation)).rows[0].collation_name, 'C', 'card numbers compare byte-wise');
});

t.test('pointswitch migrate with an unreachable database fails with one readable line', async (t) => {
  const r = await cli(['migrate', '--database-url', 'postgres://nobody:x@127.0.0.1:1/none']);
  t.not(r.code, 0);
  t.match(r.stderr, /^pointswitch: migrate failed: /);
});
