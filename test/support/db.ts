// Per-test-file isolation on the shared test servers: a database cloned from the migrated template,
// and a Redis key prefix of its own. Both are dropped when the test ends.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestEnv {
  /** A fresh, migrated database of this test's own. */
  databaseUrl: string;
  redisUrl: string;
  /** Prefix every Redis key of this test with it, so tests never see each other's keys. */
  redisPrefix: string;
}

interface Teardown { teardown(fn: () => unknown): void }

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is unset: run the tests with \`npm test\` (test/support/run.ts starts the servers)`);
  return v;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function testEnv(t: Teardown): Promise<TestEnv> {
  const adminUrl = need('POINTSWITCH_TEST_DATABASE_URL');
  const template = need('POINTSWITCH_TEST_TEMPLATE');
  const redisUrl = need('POINTSWITCH_TEST_REDIS_URL');
  const id = randomBytes(5).toString('hex');
  const name = `t_${id}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // CREATE DATABASE … TEMPLATE fails if another session is connected to the template; retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (err) {
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await c.end();
  });
  return { databaseUrl: withDatabase(adminUrl, name), redisUrl, redisPrefix: `t:${id}:` };
}
