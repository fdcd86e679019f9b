// Starts the whole switch in-process (app factory, ports 0) on a test's own database and Redis prefix, with
// the demo data seeded, and captures its log lines.
import { Writable } from 'node:stream';
import { startApp, type RunningApp } from '../../../src/app.js';
import { defaultConfig, type Config } from '../../../src/config/index.js';
import { createPool } from '../../../src/db/pool.js';
import { Kek } from '../../../src/ledger/index.js';
import { seedDemo } from '../../../src/ledger/seed.js';
import { createLogger } from '../../../src/log.js';
import type { TestEnv } from '../../support/db.js';
import { testKekHex } from '../../support/kek.js';

interface Teardown { teardown(fn: () => unknown): void }

export interface TestSwitch extends RunningApp {
  /** Every log line written so far, as text. */
  logLines: string[];
}

export async function seed(env: TestEnv): Promise<void> {
  const pool = createPool(env.databaseUrl, { poolSize: 2 });
  try {
    await seedDemo(pool, new Kek(testKekHex));
  } finally {
    await pool.end();
  }
}

export async function startSwitch(t: Teardown, env: TestEnv, overrides: Partial<Config> = {}): Promise<TestSwitch> {
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(line);
      done();
    },
  });
  const config = defaultConfig({
    posPort: 0, adminPort: 0, posHost: '127.0.0.1', adminHost: '127.0.0.1',
    databaseUrl: env.databaseUrl, redisUrl: env.redisUrl, poolSize: 4, logLevel: 'info', kekHex: testKekHex,
    ...overrides,
  });
  const app = await startApp({ config, redisPrefix: env.redisPrefix, log: createLogger({ level: 'info', destination }) });
  t.teardown(() => app.stop());
  return Object.assign(app, { logLines });
}

/** The card's balance as Postgres has it (never the cache). */
export async function balanceOf(app: RunningApp, cardNo: string): Promise<number> {
  const { rows } = await app.ledger.pool.query('SELECT balance FROM cards WHERE card_no = $1', [cardNo]);
  return Number(rows[0]?.balance);
}
