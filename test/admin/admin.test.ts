import t from 'tap';
import { buildAdminApp } from '../../src/admin/app.js';
import { silentLogger } from '../../src/log.js';
import { SwitchMetrics } from '../../src/switch/metrics.js';

async function app(ready = true, databaseUp = true) {
  const metrics = new SwitchMetrics();
  const a = await buildAdminApp({
    log: silentLogger,
    metrics,
    health: () => ({ ready, database: 'embedded', databaseUp: async () => databaseUp, redis: 'REDIS_URL', redisUp: false, posPort: 8583, connectionsOpen: 3 }),
  });
  t.teardown(() => a.close());
  return { a, metrics };
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
  const a = await buildAdminApp({
    log: silentLogger,
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

t.test('the OpenAPI document lists the routes and /docs serves the UI', async (t) => {
  const { a } = await app();
  const doc = await a.inject({ method: 'GET', url: '/docs/json' });
  t.equal(doc.statusCode, 200);
  t.ok(doc.json().paths['/health'], '/health is documented');
  t.ok(doc.json().paths['/health/live'], '/health/live is documented');
  const ui = await a.inject({ method: 'GET', url: '/docs/' });
  t.equal(ui.statusCode, 200);
});

t.test('an unknown route is answered as application/problem+json', async (t) => {
  const { a } = await app();
  const r = await a.inject({ method: 'GET', url: '/nope' });
  t.equal(r.statusCode, 404);
  t.match(r.headers['content-type'], /application\/problem\+json/);
  t.equal(r.json().status, 404);
});
