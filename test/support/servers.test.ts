import t from 'tap';
import pg from 'pg';
import { Redis } from 'ioredis';
import { testEnv } from './db.js';

t.test('the test run has a real Postgres and a real Redis', async (t) => {
  const env = await testEnv(t);
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  const r = await client.query<{ v: string }>('SELECT version() AS v');
  t.match(r.rows[0]?.v, /PostgreSQL/);
  await client.end();
  const redis = new Redis(env.redisUrl);
  await redis.set(`${env.redisPrefix}k`, 'v');
  t.equal(await redis.get(`${env.redisPrefix}k`), 'v');
  redis.disconnect();
});
