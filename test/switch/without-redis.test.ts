// Redis is an accelerator, never a requirement: the switch serves on Postgres alone, and says so.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseBatchTotals } from '../../protocol/index.js';
import { startRedisServer } from '../../src/cache/redis-server.js';
import { freePort } from '../../src/net/free-port.js';
import { testEnv } from '../support/db.js';
import { until } from '../support/wait.js';
import { balanceOf, seed, startSwitch } from './support/app.js';
import { TestTerminal } from './support/terminal.js';

const diamond = '8860000000000007';

t.test('without Redis the switch signs on, debits once per retransmission and warns in the log', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { noRedis: true, batchCloseUnbalancedCode: '95' });
  t.match(app.redis, /none/);
  t.ok(app.logLines.some((l) => /Postgres alone/.test(l) && /"level":40/.test(l)), 'a warning names the mode');
  const term = await TestTerminal.connect({ port: app.posPort });
  t.teardown(() => term.close());
  t.equal((await term.signOn()).fields[39], '00');
  const before = await balanceOf(app, diamond);
  const p = term.purchaseMessage(diamond, 1000);
  const first = await term.send(p);
  const again = await term.send(p);
  t.equal(first.fields[39], '00');
  t.equal(again.fields[37], first.fields[37]);
  t.equal(await balanceOf(app, diamond), before - 500);

  await t.test('with batchCloseUnbalancedCode 95 an unbalanced batch is answered 95', async (t) => {
    const wrong = await term.send(term.batchCloseMessage({ debitFen: 1, debitCount: 1, creditFen: 0, creditCount: 0 }));
    t.equal(wrong.fields[39], '95');
    t.equal(parseBatchTotals(wrong.fields[48] as string).batchCloseCode, '2');
  });
  const health = await app.admin.inject({ method: 'GET', url: '/health' });
  t.equal(health.json().redis, 'none (--no-redis)');
});

t.test('Redis going away and coming back: /health, /metrics and the log say so, and purchases go on', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-redis-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  let redis = await startRedisServer({ dataDir: dir, port });
  t.teardown(() => redis.stop());
  const app = await startSwitch(t, env, { redisUrl: redis.url });
  const health = async () => {
    const r = await app.admin.inject({ method: 'GET', url: '/health' });
    return { code: r.statusCode, up: r.json().redisUp as boolean | null };
  };
  const gauge = async () => /^pointswitch_cache_up\{cache="redis"\} (\d)$/m.exec((await app.admin.inject({ method: 'GET', url: '/metrics' })).body)?.[1];
  t.same(await health(), { code: 200, up: true });
  t.equal(await gauge(), '1');
  const term = await TestTerminal.connect({ port: app.posPort });
  t.teardown(() => term.close());
  t.equal((await term.signOn()).fields[39], '00');
  const before = await balanceOf(app, diamond);

  await redis.stop();
  await until(async () => (await health()).up === false, 'redisUp false');
  t.same(await health(), { code: 200, up: false }, 'still ready: the switch serves from Postgres');
  t.equal(await gauge(), '0');
  t.ok(app.logLines.some((l) => /lost the connection to Redis/.test(l) && /"level":40/.test(l)), 'the outage is warned once');
  const during = await term.send(term.purchaseMessage(diamond, 1000));
  t.equal(during.fields[39], '00', 'a purchase during the outage is approved');
  t.equal(await balanceOf(app, diamond), before - 500);

  redis = await startRedisServer({ dataDir: dir, port });
  await until(async () => (await health()).up === true, 'redisUp true again');
  t.equal(await gauge(), '1');
  t.ok(app.logLines.some((l) => /Redis is back/.test(l)), 'the return is logged');
  t.equal(app.logLines.filter((l) => /lost the connection to Redis/.test(l)).length, 1, 'one line for the outage, not one per retry');
  const after = await term.send(term.purchaseMessage(diamond, 1000));
  t.equal(after.fields[39], '00');
  t.equal(await balanceOf(app, diamond), before - 1000);

  await t.test('without Redis, /health says null and the gauge is absent', async (t) => {
    const env2 = await testEnv(t);
    await seed(env2);
    const alone = await startSwitch(t, env2, { noRedis: true });
    const r = await alone.admin.inject({ method: 'GET', url: '/health' });
    t.equal(r.json().redisUp, null);
    t.notMatch((await alone.admin.inject({ method: 'GET', url: '/metrics' })).body, /^pointswitch_cache_up\{/m);
  });
});
