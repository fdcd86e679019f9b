// `pointswitch clearing` as clearing staff use it: run, show, close, files; the exit codes of each refusal.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { dateIn } from '../../src/clearing/periods.js';
import { coffee, diamond, seededLedger, t1 } from '../ledger/helpers.js';
import { cli } from '../ledger/run-cli.js';

t.test('clearing run, show, close and files from the command line', async (t) => {
  const { env, ledger } = await seededLedger(t);
  const r = await ledger.purchase({ key: { terminalId: t1, batchNo: '000001', trace: '000001', businessDate: '2026-10-09' }, merchantId: coffee, cardNo: diamond, amountFen: 12_345 });
  t.ok(r.ok, 'a purchase in October: 6173 points');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ps-cli-clearing-'));
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const db = ['--database-url', env.databaseUrl];

  const run = await cli(['clearing', 'run', '--period', '2026-10', '--out', path.join(tmp, 'run'), ...db]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /cleared 2026-10 in [\d.]+ s: files in .*run/);
  t.match(run.stdout, /net points redeemed\s+6,173/);
  t.match(run.stdout, /gross \(2 fen a point\)\s+¥123\.46/);
  t.match(run.stdout, /acquirer fees\s+¥0\.74 \(average 0\.60 %\)/, '12346 fen × 60 bp = 74.076 -> 74 fen');
  const manifest = JSON.parse(await readFile(path.join(tmp, 'run', 'manifest.json'), 'utf8'));
  for (const f of manifest.files as { name: string; sha256: string }[]) t.match(run.stdout, new RegExp(`${f.name.replace('.', '\\.')}\\s+\\d+\\s+${f.sha256}`), `${f.name}'s hash is printed`);

  const bad = await cli(['clearing', 'run', '--period', '2026-13', ...db]);
  t.equal(bad.code, 2, 'a month that is not one: exit 2');
  t.match(bad.stderr, /a period is a month written YYYY-MM/);

  const current = dateIn('Asia/Shanghai', new Date()).slice(0, 7);
  const early = await cli(['clearing', 'close', '--period', current, ...db]);
  t.equal(early.code, 3, 'a month that has not ended: exit 3');
  t.match(early.stderr, new RegExp(`${current} has not ended: it may be closed from`));

  const close = await cli(['clearing', 'close', '--period', '2026-10', '--out', path.join(tmp, 'closed'), ...db]);
  t.equal(close.code, 0, close.stderr);
  t.match(close.stdout, /closed 2026-10/);
  const twice = await cli(['clearing', 'close', '--period', '2026-10', ...db]);
  t.equal(twice.code, 3, 'closing twice: exit 3');
  t.match(twice.stderr, /2026-10 is already closed/);

  const again = await cli(['clearing', 'run', '--period', '2026-10', '--out', path.join(tmp, 'again'), ...db]);
  t.equal(again.code, 0);
  t.match(again.stdout, /every file is byte-identical to the close/);
  const files = await cli(['clearing', 'files', '--period', '2026-10', '--out', path.join(tmp, 'files'), ...db]);
  t.equal(files.code, 0);
  t.match(files.stdout, /byte-identical to the close/);
  for (const name of ['merchants.csv', 'report.html', 'summary.json']) {
    t.equal(await readFile(path.join(tmp, 'files', name), 'utf8'), await readFile(path.join(tmp, 'closed', name), 'utf8'), `${name}: the same bytes`);
  }

  const show = await cli(['clearing', 'show', '--period', '2026-10', ...db]);
  t.equal(show.code, 0);
  t.match(show.stdout, /2026-10 \(closed at .* by cli:/);
  const list = await cli(['clearing', 'show', ...db]);
  t.match(list.stdout, /2026-10\s+closed\s+.*\s+1\s+123\.46\s+0\.74/);
  const never = await cli(['clearing', 'show', '--period', '2026-08', ...db]);
  t.equal(never.code, 3);
  t.match(never.stderr, /2026-08 has not been run/);

  const { rows } = await ledger.pool.query("SELECT action, actor, subject FROM audit_log WHERE action LIKE 'clearing.%' ORDER BY audit_id");
  t.match(rows, [{ action: 'clearing.run', subject: '2026-10' }, { action: 'clearing.close', subject: '2026-10' }, { action: 'clearing.run' }]);
  t.ok(rows.every((x: { actor: string }) => x.actor.startsWith('cli:')), 'by the CLI user');
});
