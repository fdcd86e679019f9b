import t from 'tap';
import { defaultConfig, loadConfig, loadConfigOrThrow, ConfigError } from '../../src/config/index.js';

t.test('with nothing set, the switch listens on 8583 and 8080 with embedded Postgres in ./.data', async (t) => {
  const r = loadConfig({ env: {} });
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.config.posPort, 8583);
  t.equal(r.config.adminPort, 8080);
  t.equal(r.config.dataDir, './.data');
  t.equal(r.config.databaseUrl, undefined);
  t.equal(r.config.redisUrl, undefined);
});

t.test('PORT and POS_PORT set the POS port, a flag overrides the environment', async (t) => {
  const a = loadConfig({ env: { PORT: '9000' } });
  t.equal(a.ok && a.config.posPort, 9000);
  const b = loadConfig({ env: { PORT: '9000', POS_PORT: '9100' } });
  t.equal(b.ok && b.config.posPort, 9100, 'POS_PORT wins over PORT');
  const c = loadConfig({ env: { POS_PORT: '9100' }, flags: { posPort: '9200' } });
  t.equal(c.ok && c.config.posPort, 9200);
});

t.test('every invalid setting is reported at once, in words, naming where it came from', async (t) => {
  const r = loadConfig({
    env: { POS_PORT: 'abc', ADMIN_PORT: '70000', DATABASE_URL: 'mysql://h/db', LOG_LEVEL: 'loud', POINTSWITCH_IDLE_TIMEOUT_MS: '1.5' },
    flags: { frameBytesMax: '10' },
  });
  t.notOk(r.ok);
  if (r.ok) return;
  t.equal(r.errors.length, 6);
  t.match(r.errors.join('\n'), /posPort from POS_PORT \(got "abc"\): must be a whole number/);
  t.match(r.errors.join('\n'), /adminPort from ADMIN_PORT \(got "70000"\): must be at most 65535/);
  t.match(r.errors.join('\n'), /databaseUrl from DATABASE_URL: must be a PostgreSQL URL: postgres:\/\//);
  t.match(r.errors.join('\n'), /logLevel from LOG_LEVEL .*must be one of fatal, error/);
  t.match(r.errors.join('\n'), /idleTimeoutMs from POINTSWITCH_IDLE_TIMEOUT_MS .*whole number/);
  t.match(r.errors.join('\n'), /frameBytesMax from --frame-bytes-max \(got "10"\): must be at least 64/);
});

t.test('a PostgreSQL URL may name a Unix socket directory, as libpq reads it', async (t) => {
  for (const url of ['postgres://pointswitch@/pointswitch?host=/var/run/postgresql', 'postgresql:///pointswitch?host=/tmp&port=5433',
    'postgres://u:p@db.example:5432/pointswitch?sslmode=require']) {
    const r = loadConfig({ env: { DATABASE_URL: url } });
    t.equal(r.ok && r.config.databaseUrl, url, url);
  }
  for (const url of ['mysql://h/db', 'postgres://h:99999x/db', 'h:5432/db']) {
    const r = loadConfig({ env: { DATABASE_URL: url } });
    t.notOk(r.ok, `${url} is refused`);
  }
});

t.test('secrets are never echoed in configuration errors', async (t) => {
  const r = loadConfig({ env: { POINTSWITCH_KEK: 'secret-not-hex', DATABASE_URL: 'mysql://user:hunter2@h/db' } });
  t.notOk(r.ok);
  if (r.ok) return;
  const all = r.errors.join('\n');
  t.notMatch(all, /secret-not-hex/);
  t.notMatch(all, /hunter2/);
  t.match(all, /kekHex from POINTSWITCH_KEK: must be 32 or 48 hex digits/);
});

t.test('loadConfigOrThrow throws one error listing every problem', async (t) => {
  let caught: unknown;
  try {
    loadConfigOrThrow({ env: { POS_PORT: '-1', ADMIN_PORT: 'x' } });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ConfigError);
  t.equal((caught as ConfigError).errors.length, 2);
  t.match((caught as ConfigError).message, /2 problems/);
});

t.test('empty strings count as unset and booleans read as words', async (t) => {
  const r = loadConfig({ env: { DATABASE_URL: '', REDIS_URL: ' ', POINTSWITCH_NO_REDIS: 'yes' } });
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.config.databaseUrl, undefined);
  t.equal(r.config.redisUrl, undefined);
  t.equal(r.config.noRedis, true);
  t.equal(defaultConfig({ posPort: 0 }).posPort, 0);
});
