import pg from 'pg';
import t from 'tap';
import { testEnv } from '../support/db.js';
import { cli } from '../ledger/run-cli.js';

t.test('pointswitch migrate on a migrated database says it is up to date; --down then up re-applies', async (t) => {
  const env = await testEnv(t);
  const up = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.equal(up.code, 0);
  t.match(up.stdout, /up to date/);
  const down = await cli(['migrate', '--down', '--database-url', env.databaseUrl]);
  t.equal(down.code, 0);
  t.match(down.stdout, /undid 1763800300000_ledger-purchase-set/);
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const setFn = `SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'ps_purchase_set'`;
  t.equal((await c.query(setFn)).rows[0].n, 0, 'the down migration dropped the one-statement batch function');
  const again = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.match(again.stdout, /applied 1763800300000_ledger-purchase-set/);
  t.equal((await c.query(setFn)).rows[0].n, 1, 'and up made it again');
});

t.test('pointswitch migrate with an unreachable database fails with one readable line', async (t) => {
  const r = await cli(['migrate', '--database-url', 'postgres://nobody:x@127.0.0.1:1/none']);
  t.not(r.code, 0);
  t.match(r.stderr, /^pointswitch: migrate failed: /);
});
