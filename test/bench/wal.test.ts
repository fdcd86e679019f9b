// The benches' WAL and checkpoint reports, on a PostgreSQL of the test's own (an embedded one in a temp directory:
// no other test's WAL in its counts). With fsync off, as other tests run Postgres: the counts, not the timing, are
// under test.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { formatCheckpoints, overlapping, watchCheckpoints, type Checkpoint } from './checkpoints.js';
import { formatWal, prepareWal, walMark, walUse, writeWal } from './wal.js';
import { until } from '../support/wait.js';

t.test('overlapping and formatCheckpoints: which checkpoints a run met, relative to its start', async (t) => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 24, 2, 0, s)).toISOString();
  const from = Date.parse(at(10));
  const ks: Checkpoint[] = [
    { began: at(0), doneBy: at(5) },      // over before the run
    { began: at(8), doneBy: at(12) },     // done during it
    { began: at(25), doneBy: at(40) },    // began after it
    { began: at(28), doneBy: null },      // still under way, began after it
    { began: at(15), doneBy: null },      // still under way, began during it
  ];
  const met = overlapping(ks, from, Date.parse(at(20)));
  t.same(met.map((k) => k.began), [at(8), at(15)]);
  t.equal(formatCheckpoints(met, from), 'checkpoint began -2.0 s, done by 2.0 s; checkpoint began 5.0 s, still under way at the end of the bench');
  t.equal(formatCheckpoints([], from), 'no checkpoint overlapped it');
  t.equal(formatWal({ mb: 70.8, created: 0 }), 'WAL 70.8 MB, 0 segments created');
  t.equal(formatWal({ mb: 16, created: 1 }), 'WAL 16 MB, 1 segment created');
  t.equal(formatWal({ mb: 3, created: null }), 'WAL 3 MB');
});

t.test('a fresh cluster creates WAL segments as its WAL grows; after prepareWal it reuses them', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-wal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), persistent: false, settings: { fsync: 'off' } });
  const c = new pg.Client({ connectionString: server.url });
  c.on('error', () => {});
  t.teardown(async () => {
    await c.end().catch(() => {});
    await server.stop();
  });
  await c.connect();
  const major = Math.floor(Number((await c.query("SELECT current_setting('server_version_num') AS v")).rows[0].v) / 10000);

  const fresh = await walMark(c);
  await writeWal(c, 40);
  const grown = await walUse(c, fresh);
  t.ok(grown.mb >= 40 && grown.mb < 42, `${grown.mb} MB of WAL for 40 MB of messages`);
  if (major >= 18) t.ok((grown.created ?? 0) >= 1, `${grown.created} segments created for 40 MB on a fresh cluster`);
  else t.equal(grown.created, null, 'no count before PostgreSQL 18');

  const ready = await prepareWal(c, 64);
  t.ok(ready.segmentsAhead >= 3, `${ready.segmentsAhead} segments ready for reuse after 64 MB and a checkpoint`);
  const before = await walMark(c);
  await writeWal(c, 40);
  const reused = await walUse(c, before);
  t.ok(reused.mb >= 40, `${reused.mb} MB`);
  if (major >= 18) t.equal(reused.created, 0, 'the next 40 MB reused segments: none created');

  // The watch sees a checkpoint from its start to its end.
  const watch = await watchCheckpoints(server.url, 50);
  const asked = Date.now();
  await c.query('CHECKPOINT');
  await until(() => watch.done.length > 0, 'the watch to see the checkpoint done');
  await watch.stop();
  const k = watch.done[0]!;
  t.ok(k.doneBy !== null && Date.parse(k.doneBy) >= Date.parse(k.began), 'done after it began');
  // checkpoint_time has whole seconds
  t.ok(Date.parse(k.began) >= Math.floor(asked / 1000) * 1000 - 1000, `began ${k.began}, asked ${new Date(asked).toISOString()}`);
  t.same(overlapping(watch.done, asked, Date.now()).length, 1);
});
