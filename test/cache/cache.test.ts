import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { CircuitBreaker } from '../../src/cache/breaker.js';
import { cacheKeys } from '../../src/cache/keys.js';
import { Cache } from '../../src/cache/redis.js';
import { freePort } from '../../src/net/free-port.js';
import { testEnv, type TestEnv } from '../support/db.js';
import { capturedLog, until } from '../support/wait.js';

async function ready(c: Cache): Promise<void> {
  for (let i = 0; i < 200 && !c.available; i++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * A Cache connected as a Redis user of its own, limited by `rules` (ACL SETUSER), logging to `lines`; `admin`
 * is a client with every right, for setting entries up and looking at them.
 */
async function limitedCache(t: Test, env: TestEnv, name: string, rules: string[]) {
  const admin = new Redis(env.redisUrl);
  t.teardown(() => admin.disconnect());
  const user = `${name}${env.redisPrefix.replace(/\W/g, '')}`;
  await admin.call('ACL', 'SETUSER', user, 'on', 'nopass', `~${env.redisPrefix}*`, '+@all', ...rules);
  t.teardown(() => admin.call('ACL', 'DELUSER', user));
  const u = new URL(env.redisUrl);
  t.equal(u.protocol, 'redis:', 'the test Redis is reached by TCP');
  u.username = user;
  const { log, lines } = capturedLog();
  const c = new Cache({ redisUrl: u.toString(), prefix: env.redisPrefix, log });
  t.teardown(() => c.close());
  await ready(c);
  return { admin, user, c, lines };
}

t.test('an older version never replaces a newer one', async (t) => {
  const env = await testEnv(t);
  const c = new Cache({ redisUrl: env.redisUrl, prefix: env.redisPrefix });
  t.teardown(() => c.close());
  await ready(c);
  const k = cacheKeys.card(env.redisPrefix, '8860000000000001');
  await c.setIfNewer(k, 5, 60_000, { b: '100', s: 'active' });
  await c.setIfNewer(k, 4, 60_000, { b: '999', s: 'frozen' });
  t.same(await c.getHash(k), { v: '5', b: '100', s: 'active' });
  await c.setIfNewer(k, 6, 60_000, { b: '90' }, 'partial');
  t.same(await c.getHash(k), { v: '6', b: '90', s: 'active' }, 'a newer partial write updates its fields');
});

t.test('a partial write never creates an entry (a balance alone is not a card)', async (t) => {
  const env = await testEnv(t);
  const c = new Cache({ redisUrl: env.redisUrl, prefix: env.redisPrefix });
  t.teardown(() => c.close());
  await ready(c);
  const k = cacheKeys.card(env.redisPrefix, '8860000000000002');
  await c.setIfNewer(k, 9, 60_000, { b: '1' }, 'partial');
  t.equal(await c.getHash(k), null);
});

t.test('many writes in one call keep the rules of one: never older over newer, partial never creates', async (t) => {
  const env = await testEnv(t);
  const c = new Cache({ redisUrl: env.redisUrl, prefix: env.redisPrefix });
  t.teardown(() => c.close());
  await ready(c);
  const [a, b, d] = ['8860000000000011', '8860000000000012', '8860000000000013'].map((n) => cacheKeys.card(env.redisPrefix, n)) as [string, string, string];
  await c.setIfNewer(a, 5, 60_000, { b: '100', s: 'active' });
  await c.setIfNewer(b, 5, 60_000, { b: '200', s: 'active' });
  await c.setManyIfNewer([
    { key: a, version: 6, ttlMs: 60_000, fields: { b: '90' }, mode: 'partial' },     // newer: written
    { key: b, version: 4, ttlMs: 60_000, fields: { b: '1' }, mode: 'partial' },      // older: ignored
    { key: d, version: 9, ttlMs: 60_000, fields: { b: '7' }, mode: 'partial' },      // absent: not created
  ]);
  t.same(await c.getHash(a), { v: '6', b: '90', s: 'active' });
  t.same(await c.getHash(b), { v: '5', b: '200', s: 'active' });
  t.equal(await c.getHash(d), null);
  // Items with their own fields and modes, in the same one call: same rules.
  await c.setManyIfNewer([
    { key: a, version: 7, ttlMs: 60_000, fields: { b: '80', s: 'frozen' }, mode: 'full' },
    { key: d, version: 1, ttlMs: 60_000, fields: { b: '5' }, mode: 'full' },
  ]);
  t.same(await c.getHash(a), { v: '7', b: '80', s: 'frozen' });
  t.same(await c.getHash(d), { v: '1', b: '5' });
});

t.test('keys carry the prefix and a card hash tag', async (t) => {
  t.equal(cacheKeys.card('p:', '8860000000000001'), 'p:card:{8860000000000001}');
  t.match(cacheKeys.terminal('p:', '10000001'), /^p:terminal:\{.*10000001\}$/);
});

t.test('with Redis unreachable every call answers "unknown" instead of failing', async (t) => {
  const port = await freePort();
  const c = new Cache({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'x:' });
  t.teardown(() => c.close());
  t.equal(c.available, false);
  t.equal(await c.getHash('x:card:{1}'), null);
  await c.setIfNewer('x:card:{1}', 1, 1000, { b: '1' });
  t.pass('a write to a dead Redis returns');
});

t.test('the breaker opens after consecutive failures and half-opens after its pause', async (t) => {
  let now = 0;
  const b = new CircuitBreaker(3, 1000, () => now);
  b.failure(); b.failure();
  t.ok(b.allow(), 'closed below the threshold');
  b.failure();
  t.notOk(b.allow(), 'open at the threshold');
  now = 999;
  t.notOk(b.allow());
  now = 1000;
  t.ok(b.allow(), 'half-open: a trial call may go');
  b.success();
  b.failure();
  t.ok(b.allow(), 'a success reset the count');
});

t.test('a key stays dirty until its DEL succeeds: a failed clean-up never lets a stale entry be read', async (t) => {
  const env = await testEnv(t);
  // A user that may read and write hashes under the test's prefix but not run scripts (the versioned write fails)
  // nor DEL (the clean-up fails): ioredis's pipeline resolves with each command's error rather than rejecting.
  const { admin, user, c, lines } = await limitedCache(t, env, 'u', ['-@scripting', '-del']);
  const k = cacheKeys.card(env.redisPrefix, '8860000000000021');
  await admin.hset(k, 'v', '1', 'b', '500');             // an entry cached before
  t.same(await c.getHash(k), { v: '1', b: '500' });
  await c.setIfNewer(k, 2, 60_000, { b: '400' });       // the newer balance cannot be written: the key is dirty
  for (let i = 0; i < 5; i++) {
    t.equal(await c.getHash(k), null, `read ${i + 1}: not the stale entry (its DEL keeps failing)`);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.same(await admin.hgetall(k), { v: '1', b: '500' }, 'the stale entry is still in Redis');
  t.equal(lines.filter((l) => /Redis calls are failing/.test(l)).length, 1, 'warned once');
  await admin.call('ACL', 'SETUSER', user, '+del');
  // Each read while the key is dirty tries the clean-up again.
  await until(async () => (await c.getHash(k)) === null && (await admin.exists(k)) === 0, 'the clean-up to delete the stale entry');
  t.equal(await admin.exists(k), 0, 'once DEL is allowed, the clean-up removes the stale entry');
  t.equal(await c.getHash(k), null, 'and the next read is a miss, to be filled from Postgres');
  t.ok(lines.some((l) => /Redis calls succeed again/.test(l)));
});

t.test('closing the cache is not an outage: nothing is warned', async (t) => {
  const env = await testEnv(t);
  const { log, lines } = capturedLog();
  const c = new Cache({ redisUrl: env.redisUrl, prefix: env.redisPrefix, log });
  await ready(c);
  t.ok(c.available);
  await c.close();
  await new Promise((r) => setTimeout(r, 100));
  t.same(lines, [], 'no "lost the connection" line at shutdown');
});

t.test('one failed read is a hiccup, not an outage: warned only when the breaker opens', async (t) => {
  const env = await testEnv(t);
  const { c, lines } = await limitedCache(t, env, 'r', ['-hgetall']);
  const k = cacheKeys.card(env.redisPrefix, '8860000000000031');
  t.equal(await c.getHash(k), null, 'a refused read answers "unknown"');
  t.same(lines, [], 'one failure: nothing warned');
  await c.getHash(k);
  await c.getHash(k);
  t.notOk(c.available, 'three in a row open the breaker');
  t.equal(lines.filter((l) => /Redis calls are failing/.test(l)).length, 1, 'and that is warned, once');
});
