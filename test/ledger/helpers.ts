// Shared set-up for ledger tests: a fresh migrated database with the demo data, and a Ledger on it.
import { testEnv, type TestEnv } from '../support/db.js';
import { createPool } from '../../src/db/pool.js';
import { Ledger, Kek, type LedgerOptions, type TxnKey } from '../../src/ledger/index.js';
import { seedDemo } from '../../src/ledger/seed.js';

export const coffee = '898310048160001';
export const mart = '898310048160002';
export const t1 = '10000001';
export const t3 = '20000001';
export const gold = '8860000000000001';
export const silver = '8860000000000002';
export const diamond = '8860000000000007';

interface T { teardown(fn: () => unknown): void }

export async function seededLedger(t: T, o: Partial<LedgerOptions> & { redis?: boolean; loadCards?: number } = {}): Promise<{ env: TestEnv; ledger: Ledger }> {
  const env = await testEnv(t);
  const pool = createPool(env.databaseUrl, { poolSize: 2 });
  await seedDemo(pool, new Kek(), { loadCards: o.loadCards ?? 0, loadTerminals: 0 });
  await pool.end();
  const ledger = await Ledger.open({
    databaseUrl: env.databaseUrl,
    redisUrl: o.redis === false ? null : env.redisUrl,
    redisPrefix: env.redisPrefix,
    ...o,
  });
  t.teardown(() => ledger.close());
  return { env, ledger };
}

let traceNo = 0;
/** A fresh idempotency key on terminal t1 (or the one given), batch 000001, fixed business date. */
export function key(terminalId = t1, batchNo = '000001'): TxnKey {
  traceNo++;
  return { terminalId, batchNo, trace: String(traceNo).padStart(6, '0'), businessDate: '2026-11-22' };
}

export async function cardBalance(ledger: Ledger, cardNo: string): Promise<number> {
  const { rows } = await ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', [cardNo]);
  return rows[0].balance as number;
}
