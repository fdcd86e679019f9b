// Reads of terminal numbers never found that miss Redis go to Postgres at most lookupsInFlightMax at once: a
// terminal's number is whatever a client wrote, so a flood of unknown numbers must not take the pool from the
// debits, nor hold up a real terminal's read.
import t from 'tap';
import { coffee, diamond, key, seededLedger, t1 } from './helpers.js';

t.test('unknown-terminal reads queue behind lookupsInFlightMax; a purchase and a known terminal\'s read meanwhile do not wait for them', async (t) => {
  const { ledger } = await seededLedger(t, { lookupsInFlightMax: 4, poolSize: 16 });
  t.ok((await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 })).ok, 'a first purchase (the merchant read and cached)');
  t.equal((await ledger.terminal(t1))?.terminalId, t1, 'a real terminal, read once');
  await ledger.forgetTerminal(t1);                // its Redis entry gone, as when it expires
  // Each terminal read holds its Postgres connection 50 ms, as a slow disk or a busy server would.
  const pool = ledger.pool as unknown as { query: (...a: unknown[]) => Promise<unknown>; connect: typeof ledger.pool.connect };
  const query = pool.query.bind(pool);
  let active = 0;
  let most = 0;
  pool.query = async (...a: unknown[]) => {
    if (typeof a[0] !== 'string' || !a[0].startsWith('SELECT * FROM terminals') || !String((a[1] as unknown[])[0]).startsWith('7')) return query(...a);
    active++;
    most = Math.max(most, active);
    const c = await pool.connect();
    try {
      await c.query('SELECT pg_sleep(0.05)');
      return await c.query(a[0], a[1] as unknown[]);
    } finally {
      c.release();
      active--;
    }
  };
  t.teardown(() => { pool.query = query; });
  const started = Date.now();
  let lookupsDone = 0;
  const lookups = Promise.all(Array.from({ length: 100 }, (_, i) => ledger.terminal(`7${String(i).padStart(7, '0')}`)
    .then((info) => { lookupsDone = Date.now(); return info; })));
  for (const until = Date.now() + 1000; ledger.lookupsWaiting < 90 && Date.now() < until;) await new Promise((r) => setTimeout(r, 1));
  t.ok(ledger.lookupsWaiting >= 90, `the reads past the first four wait their turn (${ledger.lookupsWaiting} waiting)`);
  const knownStarted = Date.now();
  t.equal((await ledger.terminal(t1))?.terminalId, t1, 'the real terminal is read again from Postgres');
  const knownMs = Date.now() - knownStarted;
  const purchase = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 });
  const purchaseMs = Date.now() - started;
  t.ok(purchase.ok, 'a purchase meanwhile is approved');
  t.same(await lookups, Array.from({ length: 100 }, () => null), 'every unknown terminal is answered: none');
  const lookupsMs = lookupsDone - started;
  t.equal(most, 4, 'four reads at Postgres at once, never more');
  t.ok(lookupsMs >= 25 * 50 - 100, `so the hundred took their 25 turns of 50 ms (${lookupsMs} ms)`);
  t.ok(purchaseMs < lookupsMs / 4, `the purchase did not queue behind them for a pool connection (${purchaseMs} ms against ${lookupsMs})`);
  t.ok(knownMs < lookupsMs / 4, `a number once found did not queue behind the unknown ones (${knownMs} ms)`);
  t.equal(ledger.lookupsWaiting, 0);
});
