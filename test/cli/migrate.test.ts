import pg from 'pg';
import t from 'tap';
import { testEnv } from '../support/db.js';
import { cli } from '../ledger/run-cli.js';

t.test('pointswitch migrate on a migrated database says it is up to date; --down then up re-applies', async (t) => {
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
  const cardIndex = `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'authorisations_card'`;
  const balanceAfter = `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'authorisations' AND column_name = 'balance_after'`;
  t.equal((await c.query(cardIndex)).rows[0].n, 0, 'no index on authorisations by card');
  t.equal((await c.query(balanceAfter)).rows[0].n, 1, 'an approval\'s balance after it is a column');
  const keyed = `SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'ps_purchase_set_keyed'`;
  t.equal((await c.query(keyed)).rows[0].n, 1, 'the batch debit that checks each key is there for a key conflict');
  const cardNoType = `SELECT data_type, domain_name FROM information_schema.columns WHERE table_name = 'cards' AND column_name = 'card_no'`;
  const tableChecks = `SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid::regclass::text IN ('cards', 'authorisations', 'ledger_txns') ORDER BY 1`;
  t.same((await c.query(cardNoType)).rows, [{ data_type: 'text', domain_name: 'ps_card_no' }], 'a card number is a domain');
  t.same((await c.query(tableChecks)).rows.map((r) => r.conname),
    ['authorisations_answer', 'authorisations_auth_id_rrn', 'authorisations_refund_within', 'cards_balance_not_negative', 'ledger_txns_merchant'],
    'only the rules that span columns stay table constraints');
  const keyedReplays = `SELECT prosrc LIKE '%ps_replay(%' AS on FROM pg_proc WHERE proname = 'ps_purchase_set_keyed'`;
  t.equal((await c.query(keyedReplays)).rows[0].on, true, 'the keyed batch debit replays a stored answer itself');
  const provenKeys = `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'terminals' AND column_name IN ('keys_proven', 'prev_pik_enc', 'prev_mak_enc', 'prev_tdk_enc')`;
  t.equal((await c.query(provenKeys)).rows[0].n, 4, 'a terminal keeps its proven keys beside those of its last sign-on');
  const downKeys = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downKeys.code, 0, downKeys.stderr);
  t.match(downKeys.stdout, /undid 1763801500000_terminal-proven-keys/);
  t.equal((await c.query(provenKeys)).rows[0].n, 0, 'the down migration dropped those columns');
  const downReplays = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downReplays.code, 0, downReplays.stderr);
  t.match(downReplays.stdout, /undid 1763801400000_ledger-keyed-replays/);
  t.equal((await c.query(keyedReplays)).rows[0].on, false, 'the down migration put the keyed batch debit that asks for a retry back');
  t.equal((await c.query(genericPlan.replace("'ps_purchase_set'", "'ps_purchase_set_keyed'"))).rows[0].on, true, 'on its generic plan');
  const downDomains = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downDomains.code, 0, downDomains.stderr);
  t.match(downDomains.stdout, /undid 1763801300000_ledger-domains/);
  t.same((await c.query(cardNoType)).rows, [{ data_type: 'text', domain_name: null }], 'the down migration made it text again');
  t.equal((await c.query(tableChecks)).rows.length, 16, 'with its table constraints back');
  t.equal((await c.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'c' AND NOT convalidated AND conrelid::regclass::text IN ('cards', 'authorisations', 'ledger_txns')`)).rows[0].n,
    0, 'all of them valid');
  t.equal((await c.query(`SELECT relkind FROM pg_class WHERE relname = 'ledger_entries'`)).rows[0].relkind, 'v', 'and the entries view again');
  const downKey = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downKey.code, 0, downKey.stderr);
  t.match(downKey.stdout, /undid 1763801200000_ledger-optimistic-key/);
  t.equal((await c.query(keyed)).rows[0].n, 0, 'the down migration dropped it');
  // An approval stored as columns before the down migration: the down migration gives it its JSON answer.
  await c.query(`INSERT INTO merchants (merchant_id, name, points_per_yuan, fee_rate_bp) VALUES ('898310048169990', 'Down Test', 50, 60)`);
  await c.query(`INSERT INTO cards (card_no, expiry, balance) VALUES ('8860000000000990', '3012', 1000), ('8860000000000991', '3012', 1000)`);
  const batch = (await c.query(`SELECT * FROM ps_purchase_set('{10000001,10000001}', '{000001,000001}', '{700001,700002}', '{2026-11-22,2026-11-22}',
    '{898310048169990,898310048169990}', '{8860000000000990,8860000000000991}', '{100,100}', '{NULL,NULL}')`)).rows;
  t.same(batch.map((r) => [r.answer, r.points, r.card_balance]), [[null, '50', '950'], [null, '50', '950']], 'two approvals as columns');
  const approval = `SELECT response, balance_after FROM authorisations WHERE trace = '700001'`;
  t.same((await c.query(approval)).rows, [{ response: null, balance_after: '950' }], 'stored as columns');
  const downAnswer = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downAnswer.code, 0, downAnswer.stderr);
  t.match(downAnswer.stdout, /undid 1763801100000_ledger-approval-as-columns/);
  t.equal((await c.query(result)).rows[0].r, 'TABLE(answer jsonb, card_version bigint, card_balance bigint)',
    'the down migration put the batch debit that returns answers back');
  const answered = (await c.query(`SELECT response FROM authorisations WHERE trace = '700001'`)).rows;
  t.match(answered, [{ response: { ok: true, rrn: /^\d{12}$/, authCode: /^\d{6}$/, points: 50, amountFen: 100, balancePoints: 950 } }],
    'and wrote the approval\'s answer');
  t.equal((await c.query(balanceAfter)).rows[0].n, 0, 'and took the column off');
  const downCard = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downCard.code, 0, downCard.stderr);
  t.match(downCard.stdout, /undid 1763801000000_ledger-no-card-index/);
  t.equal((await c.query(cardIndex)).rows[0].n, 1, 'the down migration put the card index back');

  const entriesKind = `SELECT relkind FROM pg_class WHERE relname = 'ledger_entries'`;
  const txnColumns = `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'ledger_txns' AND column_name = 'member_points'`;
  t.equal((await c.query(entriesKind)).rows[0].relkind, 'v', 'ledger entries are a view of the txns');
  const rrnIndex = `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'authorisations_rrn_key'`;
  t.equal((await c.query(rrnIndex)).rows[0].n, 0, 'no index on RRNs (a refund finds its original by the auth id)');
  const downRrn = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(downRrn.code, 0, downRrn.stderr);
  t.match(downRrn.stdout, /undid 1763800900000_ledger-rrn-by-auth-id/);
  t.equal((await c.query(rrnIndex)).rows[0].n, 1, 'the down migration put the RRN index back');
  const down0 = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(down0.code, 0, down0.stderr);
  t.match(down0.stdout, /undid 1763800800000_ledger-one-row-a-txn/);
  t.equal((await c.query(entriesKind)).rows[0].relkind, 'r', 'the down migration made the entries a table again');
  t.equal((await c.query(txnColumns)).rows[0].n, 0, 'and took the sides off the txns');
  const down = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(down.code, 0, down.stderr);
  t.match(down.stdout, /undid 1763800700000_ledger-purchase-set-columns/);
  t.equal((await c.query(result)).rows[0].r, 'SETOF jsonb', 'the down migration put the answer-only batch debit back');
  t.equal((await c.query(genericPlan)).rows[0].on, true, 'still on its generic plan');
  const down2 = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.match(down2.stdout, /undid 1763800600000_ledger-purchase-set-lean/);
  t.equal((await c.query(genericPlan)).rows[0].on, false, 'the next down put the previous batch debit back');
  const down3 = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.match(down3.stdout, /undid 1763800500000_ledger-drop-txn-auth-index/);
  t.equal((await c.query(txnIndex)).rows[0].n, 1, 'the next down put the txns-by-authorisation index back');

  const again = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.match(again.stdout, /applied 1763800500000_ledger-drop-txn-auth-index, 1763800600000_ledger-purchase-set-lean, 1763800700000_ledger-purchase-set-columns, 1763800800000_ledger-one-row-a-txn, 1763800900000_ledger-rrn-by-auth-id, 1763801000000_ledger-no-card-index, 1763801100000_ledger-approval-as-columns, 1763801200000_ledger-optimistic-key, 1763801300000_ledger-domains, 1763801400000_ledger-keyed-replays, 1763801500000_terminal-proven-keys/);
  t.same((await c.query(cardNoType)).rows, [{ data_type: 'text', domain_name: 'ps_card_no' }], 'and the domains again');
  t.equal((await c.query(keyed)).rows[0].n, 1, 'and the keyed batch debit again');
  t.equal((await c.query(keyedReplays)).rows[0].on, true, 'replaying again');
  t.equal((await c.query(rrnIndex)).rows[0].n, 0, 'and up dropped the RRN index again');
  t.equal((await c.query(cardIndex)).rows[0].n, 0, 'and the card index');
  t.equal((await c.query(balanceAfter)).rows[0].n, 1, 'and added the column again');
  t.equal((await c.query(entriesKind)).rows[0].relkind, 'v', 'entries a view again');
  t.equal((await c.query(txnIndex)).rows[0].n, 0, 'and up dropped it again');
  t.equal((await c.query(genericPlan)).rows[0].on, true, 'and made the lean batch debit again');
  t.equal((await c.query(result)).rows[0].r, 'TABLE(answer jsonb, rrn text, auth_code text, points bigint, card_version bigint, card_balance bigint)', 'returning columns');
});

t.test('pointswitch migrate --down, one at a time back to the lean writes, undoes them too: default collation and the entries-by-card index again', async (t) => {
  const env = await testEnv(t);
  t.equal((await cli(['migrate', '--database-url', env.databaseUrl])).code, 0);
  // One migration a call, newest first, until the lean writes are undone (every later one goes first).
  const undone: string[] = [];
  for (let i = 0; i < 30 && !undone.includes('1763800400000_ledger-lean-writes'); i++) {
    const down = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
    t.equal(down.code, 0, down.stderr);
    const m = /undid (\S+)/.exec(down.stdout);
    if (!m) { t.fail(`no migration undone: ${down.stdout}`); break; }
    undone.push(m[1] as string);
  }
  t.same(undone, [...undone].sort().reverse(), 'newest first');
  t.equal(undone.at(-1), '1763800400000_ledger-lean-writes');
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const cardIndex = `SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'ledger_entries_card'`;
  const collation = `SELECT collation_name FROM information_schema.columns WHERE table_name = 'cards' AND column_name = 'card_no'`;
  t.equal((await c.query(cardIndex)).rows[0].n, 1, 'the down migration put the entries-by-card index back');
  t.equal((await c.query(collation)).rows[0].collation_name, null, 'and the default collation');
  const again = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.match(again.stdout, /applied 1763800400000_ledger-lean-writes/);
  t.equal((await c.query(cardIndex)).rows[0].n, 0, 'and up dropped it again');
  t.equal((await c.query(collation)).rows[0].collation_name, 'C', 'card numbers compare byte-wise');
});

t.test('pointswitch migrate with an unreachable database fails with one readable line', async (t) => {
  const r = await cli(['migrate', '--database-url', 'postgres://nobody:x@127.0.0.1:1/none']);
  t.not(r.code, 0);
  t.match(r.stderr, /^pointswitch: migrate failed: /);
});
