// Ledger.open's settings: what the config schema has comes from its defaults (the schema is their only home),
// the rest from ledgerOnlyDefaults; and open reads no environment (the KEK comes from its options).
import t from 'tap';
import { defaultConfig } from '../../src/config/index.js';
import { ledgerOnlyDefaults, ledgerSettings } from '../../src/ledger/index.js';
import { coffee, diamond, key, seededLedger } from './helpers.js';

t.test('unset settings take the config schema\'s defaults, and the ledger\'s own for those it lacks', async (t) => {
  const d = defaultConfig();
  t.same(ledgerSettings({}), {
    batchDebitsMax: d.batchDebitsMax, batchWaitMs: d.batchWaitMs, batchInflightMax: d.batchInflightMax,
    keyedAfterConflictMs: d.keyedAfterConflictMs, poolSize: d.poolSize, ...ledgerOnlyDefaults,
  });
});

t.test('settings given win, zero included', async (t) => {
  const s = ledgerSettings({ batchDebitsMax: 8, batchWaitMs: 0, keyedAfterConflictMs: 0, lookupsInFlightMax: 2, writePath: 'plain', cardCacheTtlMs: 5 });
  t.match(s, { batchDebitsMax: 8, batchWaitMs: 0, keyedAfterConflictMs: 0, lookupsInFlightMax: 2, writePath: 'plain', cardCacheTtlMs: 5 });
});

t.test('open reads no POINTSWITCH_KEK from the environment: the KEK comes from its options', async (t) => {
  const before = process.env.POINTSWITCH_KEK;
  process.env.POINTSWITCH_KEK = 'not a key';   // Kek would refuse it, were it read
  t.teardown(() => { if (before === undefined) delete process.env.POINTSWITCH_KEK; else process.env.POINTSWITCH_KEK = before; });
  const { ledger } = await seededLedger(t);
  t.ok((await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 100 })).ok, 'opened with the development key the demo data was sealed under');
});
