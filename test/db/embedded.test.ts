// The embedded PostgreSQL's start: it cannot hang, and when it fails it says why.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { runningEmbeddedUrl, startEmbeddedPostgres } from '../../src/db/embedded.js';

function scratch(t: { teardown(fn: () => void): void }, name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ps-embedded-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'pg');
}

t.test('a data directory configured with logging_collector on still starts (its ready line stays on stderr)', async (t) => {
  const dataDir = scratch(t, 'collector');
  const first = await startEmbeddedPostgres({ dataDir, settings: { fsync: 'off' } });
  await first.stop();
  // As an operator might set it; the server would then write "ready to accept connections" to its own log file.
  appendFileSync(path.join(dataDir, 'postgresql.auto.conf'), "logging_collector = on\nlog_directory = 'log'\n");
  const again = await startEmbeddedPostgres({ dataDir, settings: { fsync: 'off' }, startSilenceMs: 30_000 });
  t.teardown(() => again.stop());
  const c = new pg.Client({ connectionString: again.url });
  await c.connect();
  t.teardown(() => c.end());
  t.equal((await c.query('SHOW logging_collector')).rows[0].logging_collector, 'off');
});

t.test('a server that goes silent before it is ready is stopped, and the error says so', async (t) => {
  const dataDir = scratch(t, 'silent');
  const first = await startEmbeddedPostgres({ dataDir, settings: { fsync: 'off' } });
  await first.stop();
  // log_min_messages above LOG hides the "ready to accept connections" line the package waits for.
  await t.rejects(startEmbeddedPostgres({ dataDir, settings: { fsync: 'off', log_min_messages: 'fatal' }, startSilenceMs: 2000 }),
    /^embedded PostgreSQL \(data in .*\/pg\) did not start: it said nothing for 2 s and did not report that it was ready/);
  t.equal(runningEmbeddedUrl(dataDir), null, 'no server left running on the data directory');
  // and the directory is intact: a normal start works
  const ok = await startEmbeddedPostgres({ dataDir, settings: { fsync: 'off' } });
  await ok.stop();
});
