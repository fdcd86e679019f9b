// The soak's leak verdict: a resource left open after the load, or memory that keeps growing, is a leak; a run
// whose counts come back and whose memory settles is not.
import t from 'tap';
import { leaks, metricValue, type Sample } from './soak.js';

const mb = 1048576;

function s(over: Partial<Sample> = {}): Sample {
  return { atS: 0, rssBytes: 200 * mb, heapUsedBytes: 60 * mb, activeHandles: 50, timers: 20, posConnections: 32, poolClients: 16, poolInUse: 5, poolWaiting: 0, pgConnections: 17, ...over };
}
const idleBefore = s({ activeHandles: 5, timers: 1, posConnections: 0, poolClients: 1, poolInUse: 0, pgConnections: 1 });
const idleAfter = s({ activeHandles: 5, timers: 1, posConnections: 0, poolClients: 0, poolInUse: 0, pgConnections: 0 });
const steady = Array.from({ length: 50 }, (_, i) => s({ atS: i, heapUsedBytes: (60 + (i % 5) * 10) * mb, timers: 20 + (i % 7) * 20 }));
const leaked = (rows: ReturnType<typeof leaks>) => rows.filter((r) => r.leak).map((r) => r.what);

t.test('a steady run whose resources come back after the load: no leak', async (t) => {
  t.same(leaked(leaks(steady, idleBefore, idleAfter)), []);
});

t.test('memory that keeps growing is a leak', async (t) => {
  const growing = steady.map((x, i) => ({ ...x, heapUsedBytes: (60 + i * 4) * mb, rssBytes: (200 + i * 8) * mb }));
  t.same(leaked(leaks(growing, idleBefore, idleAfter)), ['heap used after collection (MB, lowest)', 'RSS (MB, median)']);
});

t.test('connections, pool clients and timers left after the load are leaks', async (t) => {
  const after = { ...idleAfter, posConnections: 3, poolInUse: 2, poolClients: 2, timers: 40, pgConnections: 9 };
  t.same(leaked(leaks(steady, idleBefore, after)), ['PostgreSQL client connections (pg_stat_activity)', 'pool clients checked out', 'POS connections', 'timers']);
  const growing = steady.map((x, i) => ({ ...x, posConnections: 32 + i }));
  t.ok(leaked(leaks(growing, idleBefore, idleAfter)).includes('POS connections'), 'and connections that pile up during the run');
});

t.test('a metric is read from Prometheus text by name and label', async (t) => {
  const text = '# HELP x\npointswitch_db_pool_clients{state="total"} 16\npointswitch_db_pool_clients{state="idle"} 12\npointswitch_nodejs_active_resources{type="Timeout"} 7\npointswitch_nodejs_heap_size_used_bytes 123456\n';
  t.equal(metricValue(text, 'pointswitch_db_pool_clients', 'state="idle"'), 12);
  t.equal(metricValue(text, 'pointswitch_nodejs_active_resources', 'type="Timeout"'), 7);
  t.equal(metricValue(text, 'pointswitch_nodejs_heap_size_used_bytes'), 123456);
  t.equal(metricValue(text, 'pointswitch_missing'), null);
});
