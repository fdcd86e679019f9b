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
  t.match(down.stdout, /undid 1763800200000_ledger-set-based-batch/);
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  t.teardown(() => c.end());
  const batchFn = `SELECT position('ps_purchase(' in prosrc) > 0 AS loops FROM pg_proc WHERE proname = 'ps_purchase_batch'`;
  t.equal((await c.query(batchFn)).rows[0].loops, true, 'the down migration put the per-item batch function back');
  const again = await cli(['migrate', '--database-url', env.databaseUrl]);
  t.match(again.stdout, /applied 1763800200000_ledger-set-based-batch/);
  t.equal((await c.query(batchFn)).rows[0].loops, false, 'the set-based batch function again');
});

t.test('pointswitch migrate with an unreachable database fails with one readable line', async (t) => {
  const r = await cli(['migrate', '--database-url', 'postgres://nobody:x@127.0.0.1:1/none']);
  t.not(r.code, 0);
  t.match(r.stderr, /^pointswitch: migrate failed: /);
});
