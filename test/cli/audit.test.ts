import t from 'tap';
import { coffee, diamond, key, seededLedger } from '../ledger/helpers.js';
import { cli } from '../ledger/run-cli.js';

t.test('audit passes on a consistent ledger and exits 0', async (t) => {
  const { env, ledger } = await seededLedger(t);
  await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  const r = await cli(['audit', '--database-url', env.databaseUrl]);
  t.equal(r.code, 0);
  t.match(r.stdout, /every invariant holds/);
});

t.test('audit exits non-zero with a readable table when a balance, an entry or a link is corrupted', async (t) => {
  const { env, ledger } = await seededLedger(t);
  const p = await ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 1000 });
  t.ok(p.ok);
  await ledger.pool.query(`UPDATE cards SET balance = balance + 7 WHERE card_no = $1`, [diamond]);
  const one = await cli(['audit', '--database-url', env.databaseUrl]);
  t.equal(one.code, 1);
  t.match(one.stdout, /check\s+subject\s+expected\s+actual/);
  t.match(one.stdout, new RegExp(`member balance = sum of member entries\\s+card ${diamond}\\s+999500\\s+999507`));
  await ledger.pool.query(`UPDATE cards SET balance = balance - 7 WHERE card_no = $1`, [diamond]);
  // An entry alone cannot be changed (a txn row carries both sides); a txn's member side can, and the audit sees it.
  await t.rejects(ledger.pool.query(`UPDATE ledger_entries SET points = points + 1 WHERE account_kind = 'merchant'`), /cannot update view/);
  await ledger.pool.query(`UPDATE ledger_txns SET member_points = member_points - 1 WHERE kind = 'purchase'`);
  const two = await cli(['audit', '--database-url', env.databaseUrl]);
  t.equal(two.code, 1);
  t.match(two.stdout, /member balance = sum of member entries/);
  t.match(two.stdout, /each entry set moves the authorised points/);
  await ledger.pool.query(`UPDATE ledger_txns SET member_points = member_points + 1 WHERE kind = 'purchase'`);
  await ledger.pool.query(`UPDATE authorisations SET refunded_fen = 100, refunded_points = 50, state = 'partially_refunded' WHERE kind = 'purchase'`);
  const three = await cli(['audit', '--database-url', env.databaseUrl, '--json']);
  t.equal(three.code, 1);
  const report = JSON.parse(three.stdout);
  t.ok(report.problems.some((p: { check: string }) => p.check === 'refunds never exceed the original'));
});

t.test('audit on the embedded PostgreSQL of a data directory exits non-zero on a mismatch (the exit hook keeps the code)', async (t) => {
  const { mkdtemp, chmod } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-audit-'));
  await chmod(dir, 0o755);
  t.teardown(async () => { const { rm } = await import('node:fs/promises'); await rm(dir, { recursive: true, force: true }).catch(() => {}); });
  const seeded = await cli(['seed', '--demo', '--data-dir', dir]);
  t.equal(seeded.code, 0, seeded.stderr);
  const ok = await cli(['audit', '--data-dir', dir]);
  t.equal(ok.code, 0);
  const { startEmbeddedPostgres } = await import('../../src/db/embedded.js');
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') });
  const { default: Pg } = await import('pg');
  const c = new Pg.Client({ connectionString: pg.url });
  await c.connect();
  await c.query(`UPDATE cards SET balance = balance + 1 WHERE card_no = '8860000000000002'`);
  await c.end();
  await pg.stop();
  const bad = await cli(['audit', '--data-dir', dir]);
  t.equal(bad.code, 1, 'exit 1');
  t.match(bad.stdout, /card 8860000000000002\s+500\s+501/);
});

t.test('seed and audit on a data directory whose embedded PostgreSQL is running (a switch holds it) use that server', async (t) => {
  const { mkdtemp, chmod, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-audit-running-'));
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }).catch(() => {}));
  const { startEmbeddedPostgres } = await import('../../src/db/embedded.js');
  const held = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { fsync: 'off' } });
  t.teardown(() => held.stop());
  const seeded = await cli(['seed', '--demo', '--data-dir', dir]);
  t.equal(seeded.code, 0, seeded.stderr);
  t.match(seeded.stderr, /using the embedded PostgreSQL already running on .*ps-audit-running-.*\/pg \(pid \d+\)/);
  const audited = await cli(['audit', '--data-dir', dir]);
  t.equal(audited.code, 0, audited.stderr);
  const { default: Pg } = await import('pg');
  const c = new Pg.Client({ connectionString: held.url });
  await c.connect();
  t.teardown(() => c.end());
  const cards = Number((await c.query('SELECT count(*) AS n FROM cards')).rows[0].n);
  t.ok(cards > 0, 'the seed went into the running server, which the commands left running');
  await c.query(`UPDATE cards SET balance = balance + 1 WHERE card_no = '8860000000000002'`);
  const bad = await cli(['audit', '--data-dir', dir]);
  t.equal(bad.code, 1, 'a mismatch still exits 1');
});

t.test('a running server is read from postmaster.pid; a dead PID or a mangled file is not one', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { runningEmbeddedUrl } = await import('../../src/db/embedded.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-pidfile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(runningEmbeddedUrl(dir), null, 'no file');
  const pidFile = (pid: string, port: string) => writeFileSync(path.join(dir, 'postmaster.pid'), `${pid}\n${dir}\n1763900000\n${port}\n/tmp\n127.0.0.1\n  5432001  1\nready   \n`);
  pidFile(String(process.pid), '54321');
  t.same(runningEmbeddedUrl(dir), { url: 'postgres://pointswitch:pointswitch@127.0.0.1:54321/pointswitch', pid: process.pid, orphaned: false });
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  pidFile(gone, '54321');
  t.equal(runningEmbeddedUrl(dir), null, 'the PID of a process that has exited');
  pidFile('x', '54321');
  t.equal(runningEmbeddedUrl(dir), null);
  pidFile(String(process.pid), '70000');
  t.equal(runningEmbeddedUrl(dir), null);
});
