// Redis dies, stalls and comes back while debits run: Postgres alone stays correct, and no stale cache entry
// survives the outage.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { findRedisServer, startRedisServer } from '../../src/cache/redis-server.js';
import { audit } from '../../src/ledger/audit.js';
import type { Ledger } from '../../src/ledger/index.js';
import { freePort } from '../../src/net/free-port.js';
import { capturedLog, until } from '../support/wait.js';
import { cardBalance, coffee, diamond, key, seededLedger, t1 } from './helpers.js';

async function spend(ledger: Ledger, n: number): Promise<number> {
  const rs = await Promise.all(Array.from({ length: n }, () => ledger.purchase({ key: key(), merchantId: coffee, cardNo: diamond, amountFen: 200 })));
  const bad = rs.find((r) => !r.ok);
  if (bad && !bad.ok) throw new Error(`declined: ${bad.decline.kind}`);
  return rs.reduce((s, r) => s + (r.ok ? r.points : 0), 0);
}

t.test('Redis killed mid-run and restarted: every debit stays correct and the cache recovers', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-redis-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  let redis = await startRedisServer({ dataDir: dir, port });
  t.teardown(() => redis.stop());
  const { ledger } = await seededLedger(t, { redisUrl: redis.url } as never);
  await until(() => ledger.cacheAvailable, 'redis');
  let spent = await spend(ledger, 200);
  const killed = redis.stop();
  spent += await spend(ledger, 300);                    // while Redis goes away
  await killed;
  spent += await spend(ledger, 300);                    // with Redis gone
  t.equal(ledger.cacheAvailable, false);
  t.same(await ledger.balance({ cardNo: diamond, terminalId: t1 }), { ok: true, balancePoints: 1_000_000 - spent }, 'inquiry from Postgres');
  redis = await startRedisServer({ dataDir: dir, port });
  await until(() => ledger.cacheAvailable, 'redis back');
  spent += await spend(ledger, 200);
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - spent, 'approved debits = balance change');
  t.same(await ledger.balance({ cardNo: diamond, terminalId: t1 }), { ok: true, balancePoints: 1_000_000 - spent });
  t.same((await audit(ledger.pool)).problems, []);
});

t.test('Redis stalled (SIGSTOP) then resumed: writes missed meanwhile never leave a stale balance', async (t) => {
  const binary = findRedisServer();
  if (!binary) throw new Error('redis-server is needed');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-redis-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGCONT'); child.kill('SIGKILL'); });
  const { log, lines } = capturedLog();
  const { ledger } = await seededLedger(t, { redisUrl: `redis://127.0.0.1:${port}`, log } as never);
  await until(() => ledger.cacheAvailable, 'redis');
  let spent = await spend(ledger, 10);
  t.same(await ledger.balance({ cardNo: diamond, terminalId: t1 }), { ok: true, balancePoints: 1_000_000 - spent }, 'cached');
  child.kill('SIGSTOP');
  spent += await spend(ledger, 100);                    // cache writes time out; the breaker opens
  t.equal(await cardBalance(ledger, diamond), 1_000_000 - spent);
  // The cache writes are sent after the debits answer: wait for their timeouts to open the breaker, not for a time.
  await until(() => lines.some((l) => /Redis calls are failing/.test(l)), 'the stall warning');
  const resumedAt = Date.now();
  child.kill('SIGCONT');
  // A call after the breaker's pause is its trial: ask until one has gone through.
  await until(async () => {
    await ledger.balance({ cardNo: diamond, terminalId: t1 });
    return lines.some((l) => /Redis calls succeed again/.test(l));
  }, 'a cache call to succeed again');
  const b = await ledger.balance({ cardNo: diamond, terminalId: t1 });
  t.same(b, { ok: true, balancePoints: 1_000_000 - spent }, 'no stale balance after the stall');
  t.equal(lines.filter((l) => /Redis calls are failing/.test(l)).length, 1, 'the stall is warned once, not per call');
  const back = lines.find((l) => /Redis calls succeed again/.test(l));
  t.ok(back && Date.parse(JSON.parse(back).time) >= resumedAt - 5, 'and its end, after Redis resumed');
  t.same((await audit(ledger.pool)).problems, []);
});
