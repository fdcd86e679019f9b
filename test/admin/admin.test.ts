import t from 'tap';
import { buildAdminApp, type AdminAppOptions } from '../../src/admin/app.js';
import { ApiKeys } from '../../src/admin/keys.js';
import { createPool } from '../../src/db/pool.js';
import { testEnv } from '../support/db.js';
import { silentLogger } from '../../src/log.js';
import { SwitchMetrics } from '../../src/switch/metrics.js';

/** The admin app alone, on a test database of its own (for its keys). */
async function build(o: Pick<AdminAppOptions, 'metrics' | 'health'> & { metricsPublic?: boolean }) {
  const env = await testEnv(t);
  const pool = createPool(env.databaseUrl, { poolSize: 2 });
  t.teardown(() => pool.end());
  const keys = new ApiKeys(pool);
  return { a: await buildAdminApp({ log: silentLogger, keys, pool, metricsPublic: o.metricsPublic ?? true, ...o }), keys };
}

async function app(ready = true, databaseUp = true, metricsPublic = true) {
  const metrics = new SwitchMetrics();
  const { a, keys } = await build({
    metrics,
    metricsPublic,
    health: () => ({ ready, database: 'embedded', databaseUp: async () => databaseUp, redis: 'REDIS_URL', redisUp: false, posPort: 8583, connectionsOpen: 3 }),
  });
  t.teardown(() => a.close());
  return { a, metrics, keys };
}

t.test('/health answers 200 with what the switch runs on when ready, 503 when not', async (t) => {
  const { a } = await app(true);
  const r = await a.inject({ method: 'GET', url: '/health' });
  t.equal(r.statusCode, 200);
  t.same(r.json(), { status: 'ok', database: 'embedded', databaseUp: true, redis: 'REDIS_URL', redisUp: false, posPort: 8583, connectionsOpen: 3 });
  const { a: b } = await app(false);
  const s = await b.inject({ method: 'GET', url: '/health' });
  t.equal(s.statusCode, 503);
  t.equal(s.json().status, 'unavailable');
  const { a: c } = await app(true, false);
  const d = await c.inject({ method: 'GET', url: '/health' });
  t.equal(d.statusCode, 503, 'ready, but Postgres does not answer: 503');
  t.same([d.json().status, d.json().databaseUp], ['unavailable', false]);
});

t.test('/health/live answers 200 without asking Postgres, even when /health says 503', async (t) => {
  let asked = 0;
  const { a } = await build({
    metrics: new SwitchMetrics(),
    health: () => ({ ready: false, database: 'embedded', databaseUp: async () => { asked++; return false; }, redis: 'none', redisUp: null, posPort: 8583, connectionsOpen: 0 }),
  });
  t.teardown(() => a.close());
  const live = await a.inject({ method: 'GET', url: '/health/live' });
  t.equal(live.statusCode, 200);
  t.equal(live.json().status, 'alive');
  t.ok(Number.isInteger(live.json().uptimeSeconds) && live.json().uptimeSeconds >= 0, 'uptime in whole seconds');
  t.equal(asked, 0, 'liveness does not ask Postgres');
  t.equal((await a.inject({ method: 'GET', url: '/health' })).statusCode, 503, 'readiness says 503 at the same time');
  t.equal(asked, 1);
});

t.test('/metrics exposes transactions by type and response code in Prometheus text', async (t) => {
  const { a, metrics } = await app();
  metrics.transactions.inc({ type: 'purchase', response_code: '00' });
  metrics.transactions.inc({ type: 'purchase', response_code: '51' });
  metrics.latency.observe({ type: 'purchase' }, 0.003);
  const r = await a.inject({ method: 'GET', url: '/metrics' });
  t.equal(r.statusCode, 200);
  t.match(r.headers['content-type'], /text\/plain/);
  t.match(r.body, /pointswitch_transactions_total\{type="purchase",response_code="00"\} 1/);
  t.match(r.body, /pointswitch_transactions_total\{type="purchase",response_code="51"\} 1/);
  t.match(r.body, /pointswitch_connections_open/);
  t.match(r.body, /pointswitch_transaction_duration_seconds_bucket/);
});

t.test('/metrics needs a key when the admin server binds beyond loopback (and no setting opens it)', async (t) => {
  const { a, keys } = await app(true, true, false);
  t.equal((await a.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
  const { key } = await keys.create({ role: 'operator', name: 'scraper' });
  t.equal((await a.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${key}` } })).statusCode, 200);
});

t.test('the OpenAPI document lists the routes, the key scheme and each route\'s roles; /docs serves the UI', async (t) => {
  const { a, keys } = await app();
  const { key } = await keys.create({ role: 'auditor', name: 'reader' });
  const headers = { authorization: `Bearer ${key}` };
  t.equal((await a.inject({ method: 'GET', url: '/docs/json' })).statusCode, 401, 'the document needs a key too');
  const doc = await a.inject({ method: 'GET', url: '/docs/json', headers });
  t.equal(doc.statusCode, 200);
  const d = doc.json();
  t.ok(d.paths['/health'], '/health is documented');
  t.ok(d.paths['/health/live'], '/health/live is documented');
  t.same(d.components.securitySchemes.apiKey, { type: 'http', scheme: 'bearer', description: d.components.securitySchemes.apiKey.description });
  const keysList = d.paths['/keys/'].get;
  t.same(keysList.security, [{ apiKey: [] }]);
  t.match(keysList.description, /Roles: admin, auditor\./);
  t.ok(keysList.responses['401'] && keysList.responses['403'], 'the refusals are documented');
  t.notOk(d.paths['/health'].get.security, '/health needs no key');
  const ui = await a.inject({ method: 'GET', url: '/docs/', headers });
  t.equal(ui.statusCode, 200);
});

t.test('an unknown route is answered as application/problem+json', async (t) => {
  const { a } = await app();
  const r = await a.inject({ method: 'GET', url: '/nope' });
  t.equal(r.statusCode, 404);
  t.match(r.headers['content-type'], /application\/problem\+json/);
  t.equal(r.json().status, 404);
});

t.test('a fault is logged with its code and its text, card numbers masked, never the error\'s row detail', async (t) => {
  const { loggable } = await import('../../src/admin/problem.js');
  const err = Object.assign(new Error('insert into cards failed for 8860000000123456'), { code: '23514', detail: 'Failing row contains (8860000000123456, active)' });
  const l = loggable(err);
  t.equal(l.code, '23514');
  t.equal(l.message, 'insert into cards failed for 886000******3456');
  t.notOk(JSON.stringify(l).includes('8860000000123456'), 'not in the message, the stack or anything else');
});
