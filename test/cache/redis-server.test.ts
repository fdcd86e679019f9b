import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/index.js';
import { startRedisServer } from '../../src/cache/redis-server.js';
import { Cache, unixSocketPath } from '../../src/cache/redis.js';

async function ready(c: Cache): Promise<void> {
  for (let i = 0; i < 200 && !c.available; i++) await new Promise((r) => setTimeout(r, 10));
}

t.test('unix: URLs name a socket path; redis: and rediss: URLs do not', async (t) => {
  t.equal(unixSocketPath('unix:///run/redis/redis.sock'), '/run/redis/redis.sock');
  t.equal(unixSocketPath('unix:///tmp/with%20space/redis.sock'), '/tmp/with space/redis.sock');
  t.equal(unixSocketPath('redis://127.0.0.1:6379'), null);
  t.equal(unixSocketPath('rediss://cache.example:6380'), null);
});

t.test('REDIS_URL may be a unix: URL; other schemes are refused in words', async (t) => {
  const ok = loadConfig({ env: { REDIS_URL: 'unix:///run/redis/redis.sock' } });
  t.equal(ok.ok && ok.config.redisUrl, 'unix:///run/redis/redis.sock');
  const bad = loadConfig({ env: { REDIS_URL: 'http://127.0.0.1:6379' } });
  t.notOk(bad.ok);
  t.match(bad.ok ? [] : bad.errors, [/REDIS_URL.*unix:\/\//], 'the error names the setting and the schemes it takes');
});

t.test('the switch\'s own redis-server also listens on a private Unix socket, and the cache works through it', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-redis-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startRedisServer({ dataDir: dir });
  t.teardown(() => server.stop());
  t.equal(server.socketUrl, `unix://${path.join(dir, 'redis.sock')}`);
  const socketPath = unixSocketPath(server.socketUrl as string) as string;
  t.ok(statSync(socketPath).isSocket(), 'a socket file in its data directory');
  t.equal(statSync(socketPath).mode & 0o777, 0o700, 'that only its owner can use');
  const bySocket = new Cache({ redisUrl: server.socketUrl, prefix: 't:' });
  const byTcp = new Cache({ redisUrl: server.url, prefix: 't:' });
  t.teardown(() => { bySocket.close(); byTcp.close(); });
  await ready(bySocket);
  await ready(byTcp);
  t.ok(bySocket.available, 'connected through the socket');
  await bySocket.setIfNewer('t:card:{1}', 3, 60_000, { b: '42', s: 'active' });
  t.same(await byTcp.getHash('t:card:{1}'), { v: '3', b: '42', s: 'active' }, 'the same server as by TCP');
});

t.test('a data directory too deep for a socket address: TCP only, no socket', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-redis-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const deep = path.join(dir, 'd'.repeat(60), 'e'.repeat(40));
  const server = await startRedisServer({ dataDir: deep });
  t.teardown(() => server.stop());
  t.equal(server.socketUrl, null);
  const c = new Cache({ redisUrl: server.url, prefix: 't:' });
  t.teardown(() => c.close());
  await ready(c);
  t.ok(c.available, 'TCP still answers');
});
