// `pointswitch start` killed with SIGKILL, on the embedded default, starts again by the same command on the same
// data directory: the servers it left are stopped (by their watchdog, or by the next start when the watchdog
// died too), every approval a terminal received is in the ledger, and a live switch's servers are never touched.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { embeddedOwnerFile, runningEmbeddedUrl } from '../../src/db/embedded.js';
import { processId, readOwner, type ProcessId } from '../../src/process/owner.js';
import { spawnCli, type RunningCli } from '../ledger/run-cli.js';
import { TestTerminal } from '../switch/support/terminal.js';
import { posPortOf } from './listening.js';

const diamond = '8860000000000007'; // 1000000 points

const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-crash-'));
const pgDir = path.join(dir, 'pg');
const redisOwnerFile = path.join(dir, 'redis', 'redis-server.owner');
const args = ['start', '--data-dir', dir, '--pos-port', '0', '--admin-port', '0', '--pos-host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', 'info'];
const env = { DATABASE_URL: '', REDIS_URL: '' };
const runs: RunningCli[] = [];
t.teardown(async () => {
  for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) { r.child.kill('SIGTERM'); await r.exited; }
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<{ run: RunningCli; posPort: number }> {
  const run = spawnCli(args, env);
  runs.push(run);
  return { run, posPort: await posPortOf(run, 120_000) };
}

/** What the switch started, as its owner files name them. */
function servers(): { pg: ProcessId; redis: ProcessId; watchdogs: ProcessId[] } {
  const p = readOwner(embeddedOwnerFile(pgDir));
  const r = readOwner(redisOwnerFile);
  if (!p || !r) throw new Error('no owner file beside the embedded PostgreSQL or the redis-server');
  return { pg: p.server, redis: r.server, watchdogs: [p.watchdog, r.watchdog].filter((w): w is ProcessId => w !== undefined) };
}

/** Whether `id` has ended, waiting for it at most `timeoutMs`. */
async function gone(id: ProcessId, timeoutMs = 60_000): Promise<boolean> {
  const ended = () => processId(id.pid)?.startedAt !== id.startedAt;
  for (const until = Date.now() + timeoutMs; !ended() && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
  return ended();
}

/** Purchases one after another from two terminals until `approvals` are approved; the RRNs of the approvals. */
async function purchasesUntilKilled(posPort: number, approvals: number, kill: () => void): Promise<string[]> {
  const approved: string[] = [];
  const terminals = await Promise.all(['10000001', '10000002'].map((terminalId) => TestTerminal.connect({ port: posPort, terminalId })));
  await Promise.all(terminals.map((term) => term.signOn()));
  let killed = false;
  await Promise.all(terminals.map(async (term) => {
    for (;;) {
      let answer;
      try {
        answer = await term.send(term.purchaseMessage(diamond, 1000));
      } catch {
        return;   // the kill: no answer, so no approval to account for
      }
      if (answer.fields[39] === '00') approved.push(String(answer.fields[37]));
      if (approved.length >= approvals && !killed) { killed = true; kill(); }
    }
  }));
  return approved;
}

async function purchaseApproved(posPort: number): Promise<string> {
  const term = await TestTerminal.connect({ port: posPort, terminalId: '10000001' });
  try {
    await term.signOn();
    const answer = await term.send(term.purchaseMessage(diamond, 1000));
    return String(answer.fields[39]);
  } finally {
    await term.close();
  }
}

t.test('a switch killed with SIGKILL starts again by the same command, with every approval in the ledger', { timeout: 600_000 }, async (t) => {
  const approved: string[] = [];
  const first = await start();
  const before = servers();
  const db = new pg.Client({ connectionString: runningEmbeddedUrl(pgDir)!.url });
  await db.connect();
  const opening = Number((await db.query('SELECT balance FROM cards WHERE card_no = $1', [diamond])).rows[0].balance);
  await db.end();

  // 1. The switch alone is killed: its watchdogs stop the embedded PostgreSQL and the redis-server it started.
  approved.push(...await purchasesUntilKilled(first.posPort, 20, () => first.run.child.kill('SIGKILL')));
  t.equal((await first.run.exited).signal, 'SIGKILL');
  t.ok(await gone(before.pg), 'the watchdog stopped the embedded PostgreSQL of the killed switch');
  t.ok(await gone(before.redis), 'and its redis-server');

  const second = await start();
  t.equal(await purchaseApproved(second.posPort), '00', 'the switch started again serves a purchase');
  const during = servers();

  // 2. The switch and its watchdogs are killed at once (an OOM killer taking the lot): the servers stay, orphaned.
  approved.push(...await purchasesUntilKilled(second.posPort, 20, () => {
    for (const w of during.watchdogs) process.kill(w.pid, 'SIGKILL');   // first: else one may see the switch go
    second.run.child.kill('SIGKILL');
  }));
  t.equal((await second.run.exited).signal, 'SIGKILL');
  t.ok(processId(during.pg.pid), 'its embedded PostgreSQL is left running');
  t.equal(runningEmbeddedUrl(pgDir)?.orphaned, true, 'and is seen as orphaned');

  const third = await start();
  t.ok(await gone(during.pg, 0), 'the next start stopped the orphaned PostgreSQL');
  t.ok(await gone(during.redis, 0), 'and the orphaned redis-server');
  t.match(third.run.output().stdout, /stopping the embedded PostgreSQL on .*ps-crash-.*\/pg \(pid \d+\) left running by pid \d+, which is gone/);
  t.equal(await purchaseApproved(third.posPort), '00', 'and it serves a purchase');

  // Every approval a terminal received has its debit, and the balance is the opening one less every debit.
  const now = new pg.Client({ connectionString: runningEmbeddedUrl(pgDir)!.url });
  await now.connect();
  const found = await now.query("SELECT count(*) AS n FROM authorisations WHERE kind = 'purchase' AND response_code = '00' AND rrn = ANY($1)", [approved]);
  t.equal(Number(found.rows[0].n), approved.length, `every one of the ${approved.length} approvals before the kills is in the ledger`);
  const debited = await now.query("SELECT coalesce(sum(points), 0) AS points FROM authorisations WHERE card_no = $1 AND kind = 'purchase' AND response_code = '00'", [diamond]);
  const balance = Number((await now.query('SELECT balance FROM cards WHERE card_no = $1', [diamond])).rows[0].balance);
  t.equal(balance, opening - Number(debited.rows[0].points), 'the balance is the opening balance less every approved debit');
  await now.end();   // before the stop below, which would end it from the server's side
  const audit = spawnCli(['audit', '--data-dir', dir], env);
  t.equal((await audit.exited).code, 0, `audit passes: ${audit.output().stdout}${audit.output().stderr}`);

  // A second start beside the live one is refused, and the live one's servers are not touched.
  const beside = spawnCli(args, env);
  t.equal((await beside.exited).code, 1, 'a second start on the same data directory exits 1');
  t.match(beside.output().stderr, /is another `pointswitch start` running with the same --data-dir\?/);
  const live = servers();
  t.ok(processId(live.pg.pid) && processId(live.redis.pid), 'the live switch\'s PostgreSQL and redis-server still run');
  t.equal(await purchaseApproved(third.posPort), '00', 'and it still serves a purchase');

  third.run.child.kill('SIGTERM');
  t.equal((await third.run.exited).code, 0, 'SIGTERM stops it, exit 0');
  t.ok(await gone(live.pg, 0) && await gone(live.redis, 0), 'with its servers');
  t.equal(readOwner(embeddedOwnerFile(pgDir)), null, 'and no owner file is left');
});
