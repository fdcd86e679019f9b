import t from 'tap';
import { createPool } from '../../src/db/pool.js';
import { testEnv } from '../support/db.js';
import { checkClearingData, generateClearingData } from './clearing-data.js';
import { tableDefinitions } from './generate.js';

const tables = ['authorisations', 'ledger_txns'];

t.test('bench:clearing\'s month: the ledger moves each merchant by what its authorisations say, and the schema is the migrations\'', async (t) => {
  const env = await testEnv(t);
  const pool = createPool(env.databaseUrl, { poolSize: 2 });
  t.teardown(() => pool.end());
  const before = await tableDefinitions(pool, tables);
  await generateClearingData(pool, { transactions: 20_000, merchants: 200, terminals: 600, cards: 2_000, period: '2026-10', timeZone: 'Asia/Shanghai', log: () => {}, chunkRows: 7_000 });
  t.same(await tableDefinitions(pool, tables), before, 'every key, foreign key and index rebuilt as it was');
  const totals = await checkClearingData(pool);
  t.equal(totals.mismatches, 0);
  // 2 % voids, 1 % refunds, 0.5 % declined (no ledger row), 0.5 % reversed purchases (a second row)
  t.match(totals, { merchants: 200, voidCount: 400, refundCount: 200, reversalCount: 100, purchaseCount: 20_000 - 400 - 200 - 100 });
  const { rows: [r] } = await pool.query<{ first: string; last: string; states: string; idle: number; changes: number }>(`
    SELECT (SELECT min(business_date)::text FROM authorisations) AS first, (SELECT max(business_date)::text FROM authorisations) AS last,
           (SELECT string_agg(DISTINCT state, ',' ORDER BY state) FROM authorisations) AS states,
           (SELECT count(*)::int FROM terminals t WHERE NOT EXISTS (SELECT 1 FROM authorisations a WHERE a.terminal_id = t.terminal_id)) AS idle,
           (SELECT count(DISTINCT merchant_id)::int FROM merchant_rates) AS changes`);
  t.same(r, { first: '2026-10-01', last: '2026-10-31', states: 'approved,declined,partially_refunded,reversed,voided', idle: 6, changes: 2 });
  const { rows: [h] } = await pool.query<{ n: number }>(`SELECT count(DISTINCT terminal_id)::int AS n FROM terminal_status_history`);
  t.equal(h!.n, 6, 'the idle terminals are the ones enabled mid-month');
});
