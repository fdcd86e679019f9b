// `pointswitch start` as a process: SIGTERM stops it the graceful way, with a request in flight answered.
import t from 'tap';
import pg from 'pg';
import { spawnCli } from '../ledger/run-cli.js';
import { posPortOf } from './listening.js';
import { testKekHex } from '../support/kek.js';
import { testEnv } from '../support/db.js';
import { lockWaits } from '../support/locks.js';
import { settled } from '../support/wait.js';
import { seed } from '../switch/support/app.js';
import { TestTerminal } from '../switch/support/terminal.js';

const diamond = '8860000000000007'; // 1000000 points

t.test('SIGTERM with a purchase in flight: the purchase is answered and committed, then the process exits 0', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const run = spawnCli(['start', '--pos-port', '0', '--admin-port', '0', '--pos-host', '127.0.0.1', '--admin-host', '127.0.0.1',
    '--no-redis', '--log-level', 'info'], { DATABASE_URL: env.databaseUrl, POINTSWITCH_KEK: testKekHex });
  const { child, exited } = run;
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

  const posPort = await posPortOf(run);
  const term = await TestTerminal.connect({ port: posPort });
  t.teardown(() => term.close());
  t.equal((await term.signOn()).fields[39], '00');

  // Hold the card's row so the purchase stays in flight in Postgres until we let go.
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const before = Number((await db.query('SELECT balance FROM cards WHERE card_no = $1', [diamond])).rows[0].balance);
  await db.query('BEGIN');
  await db.query('SELECT 1 FROM cards WHERE card_no = $1 FOR UPDATE', [diamond]);
  const answer = term.send(term.purchaseMessage(diamond, 1000));
  // In flight once its debit waits for our lock (not after a fixed time: a slow machine may not have read it yet).
  await settled(async () => await lockWaits(env.databaseUrl) > 0, 30_000);
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(child.exitCode, null, 'still running while the purchase is in flight');
  await db.query('COMMIT');

  t.equal((await answer).fields[39], '00', 'the purchase in flight was answered, approved');
  const { code, signal } = await exited;
  t.equal(signal, null, 'not killed by the signal');
  t.equal(code, 0, 'exit code 0');
  t.match(run.output().stdout, /"msg":"stopped"/);
  const after = Number((await db.query('SELECT balance FROM cards WHERE card_no = $1', [diamond])).rows[0].balance);
  t.equal(after, before - 500, 'and its 500 points were debited');
});

t.test('a second start on a data directory in use says so, in words, and exits 1', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { startEmbeddedPostgres } = await import('../../src/db/embedded.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-start-twice-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The first: the embedded server of that data directory, as a running `pointswitch start` holds it.
  const first = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), settings: { fsync: 'off' } });
  t.teardown(() => first.stop());
  const second = spawnCli(['start', '--data-dir', dir, '--pos-port', '0', '--admin-port', '0', '--no-redis'], { REDIS_URL: '' });
  t.teardown(() => { if (second.child.exitCode === null) second.child.kill('SIGKILL'); });
  const { code } = await second.exited;
  const { stderr } = second.output();
  t.equal(code, 1);
  t.match(stderr, /could not start: embedded PostgreSQL \(data in .*ps-start-twice-.*\/pg\) did not start: FATAL: lock file "postmaster\.pid" already exists/);
  t.match(stderr, /is another `pointswitch start` running with the same --data-dir\? Stop it, or give this one a --data-dir of its own; for a second switch beside it, give both the same DATABASE_URL and REDIS_URL\./);
  t.notMatch(stderr, /undefined/, 'not the package\'s empty rejection');
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
});

t.test('why an embedded server did not start, from its last lines', async (t) => {
  const { explainStartFailure } = await import('../../src/db/embedded.js');
  const lines = [
    '2026-11-23 13:13:41.9 UTC [1] LOG:  starting PostgreSQL 18.4',
    '2026-11-23 13:13:41.9 UTC [1] FATAL:  could not create lock file "/run/x/.s.PGSQL.5432.lock": Permission denied',
  ];
  t.equal(explainStartFailure('/d/pg', undefined, lines), 'embedded PostgreSQL (data in /d/pg) did not start: FATAL: could not create lock file "/run/x/.s.PGSQL.5432.lock": Permission denied.');
  t.equal(explainStartFailure('/d/pg', new Error('Postgres init script failed (code: 1)'), []), 'embedded PostgreSQL (data in /d/pg) did not start: Postgres init script failed (code: 1).');
  t.equal(explainStartFailure('/d/pg', undefined, ['LOG:  a', 'LOG:  b', 'LOG:  c', 'LOG:  d']), 'embedded PostgreSQL (data in /d/pg) did not start: its last output: LOG:  b / LOG:  c / LOG:  d.');
  t.equal(explainStartFailure('/d/pg', undefined, []), 'embedded PostgreSQL (data in /d/pg) did not start: it said nothing.');
  t.notMatch(explainStartFailure('/d/pg', undefined, lines), /another/, 'the lock-file remedy only for the lock file');
});
