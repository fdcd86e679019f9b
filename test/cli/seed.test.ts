import pg from 'pg';
import t from 'tap';
import { Kek } from '../../src/ledger/kek.js';
import { testEnv } from '../support/db.js';
import { cli } from '../ledger/run-cli.js';

t.test('seed --demo makes exactly the contract data, with load terminals and cards, and is idempotent', async (t) => {
  const env = await testEnv(t);
  const first = await cli(['seed', '--demo', '--load-terminals', '3', '--load-cards', '25', '--database-url', env.databaseUrl]);
  t.equal(first.code, 0);
  t.match(first.stdout, /merchants\s+2\s+0/);
  t.match(first.stdout, /terminals\s+6\s+0/);
  t.match(first.stdout, /demo cards\s+7\s+0/);
  t.match(first.stdout, /load cards\s+25\s+0/);
  const second = await cli(['seed', '--demo', '--load-terminals', '3', '--load-cards', '25', '--database-url', env.databaseUrl]);
  t.match(second.stdout, /load cards\s+0\s+25/, 'a re-run makes nothing');
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const cards = (await c.query('SELECT card_no, status, expiry, tier, enrolled, balance, pin_verification FROM cards ORDER BY card_no')).rows;
  const byNo = new Map(cards.map((r) => [r.card_no, r]));
  t.match(byNo.get('8860000000000001'), { tier: 'gold', balance: '100000', status: 'active', expiry: '3012' });
  t.equal(byNo.get('8860000000000001').pin_verification, new Kek().pinVerification('8860000000000001', '123456'));
  t.match(byNo.get('8860000000000002'), { tier: 'silver', balance: '500', pin_verification: null });
  t.match(byNo.get('8860000000000003'), { status: 'lost', balance: '10000' });
  t.match(byNo.get('8860000000000004'), { status: 'frozen' });
  t.match(byNo.get('8860000000000005'), { expiry: '2001' });
  t.match(byNo.get('8860000000000006'), { enrolled: false, balance: '0' });
  const trail = (await c.query("SELECT actor, action FROM audit_log WHERE action = 'seed.demo'")).rows;
  t.equal(trail.length, 1, 'the seed that made rows is in the audit trail, the re-run that made none is not');
  t.match(trail[0]?.actor, /^cli:/);
  t.match(byNo.get('8860000000000007'), { tier: 'diamond', balance: '1000000' });
  t.match(byNo.get('8861000000000001'), { balance: '10000000' });
  t.ok(byNo.has('8861000000000025'));
  t.equal(cards.length, 32);
  const terms = (await c.query('SELECT terminal_id, merchant_id FROM terminals ORDER BY terminal_id')).rows.map((r) => `${r.terminal_id}>${r.merchant_id}`);
  t.same(terms, ['10000001>898310048160001', '10000002>898310048160001', '20000001>898310048160002',
    '90000001>898310048160001', '90000002>898310048160001', '90000003>898310048160001']);
  const m = (await c.query('SELECT merchant_id, name, points_per_yuan, fee_rate_bp FROM merchants ORDER BY 1')).rows;
  t.same(m, [
    { merchant_id: '898310048160001', name: 'Demo Coffee', points_per_yuan: 50, fee_rate_bp: 60 },
    { merchant_id: '898310048160002', name: 'Discount Mart', points_per_yuan: 45, fee_rate_bp: 80 },
  ]);
  const audit = await cli(['audit', '--database-url', env.databaseUrl]);
  t.equal(audit.code, 0, 'opening balances are balanced entries');
});

t.test('seed without --demo refuses', async (t) => {
  const r = await cli(['seed', '--database-url', 'postgres://x@127.0.0.1:1/x']);
  t.not(r.code, 0);
  t.match(r.stderr, /--demo/);
});
