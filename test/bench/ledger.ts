// `npm run bench:ledger`: purchase debits per second at 1, 16 and 64 concurrent callers, through the batcher
// (debits share commits) and through the plain one-transaction-per-debit path, in the same run, on a Postgres
// with default durability (fsync on, synchronous_commit on: every commit waits for the WAL flush).
// Redis is off: this measures the write path that decides debits, not the cache. `-- --json FILE` writes the
// figures, the plain path's beside as the baseline.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { formatTable } from '../../src/ledger/audit.js';
import { audit } from '../../src/ledger/audit.js';
import { Kek, Ledger } from '../../src/ledger/index.js';
import { loadCardNo, seedDemo } from '../../src/ledger/seed.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';

const secondsPerRun = Number(process.env.BENCH_SECONDS ?? 5);
const callersList = (process.env.BENCH_CALLERS ?? '1,16,64').split(',').map(Number);
const cardsCount = 10_000;
const merchantId = '898310048160001';
const terminalId = '10000001';
const jsonFile = jsonFileOption('bench:ledger');

interface Result { path: string; callers: number; debits: number; seconds: number; perSecond: number; batchAvg: string }

async function runOne(ledger: Ledger, pathName: string, callers: number, batchNo: string, progress: (s: string) => void): Promise<Result> {
  let trace = 0, debits = 0, declined = 0;
  const before = ledger.batchStats;
  const deadline = Date.now() + secondsPerRun * 1000;
  const started = process.hrtime.bigint();
  const ticker = setInterval(() => {
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    progress(`${pathName.padEnd(7)} ${String(callers).padStart(2)} callers  ${s.toFixed(1)}s  ${debits} debits  ${Math.round(debits / s)}/s`);
  }, 250);
  await Promise.all(Array.from({ length: callers }, async (_, c) => {
    while (Date.now() < deadline) {
      const n = ++trace;
      const r = await ledger.purchase({
        key: { terminalId, batchNo, trace: String(n).padStart(6, '0'), businessDate: '2026-11-22' },
        merchantId, cardNo: loadCardNo(1 + ((n * 7 + c) % cardsCount)), amountFen: 100,
      });
      if (r.ok) debits++; else declined++;
    }
  }));
  clearInterval(ticker);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (declined > 0) throw new Error(`${declined} debits declined in the bench`);
  const after = ledger.batchStats;
  const batches = after.batches - before.batches;
  return {
    path: pathName, callers, debits, seconds, perSecond: debits / seconds,
    batchAvg: batches > 0 ? ((after.items - before.items) / batches).toFixed(1) : '1',
  };
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'pointswitch-bench-'));
  const { chmod } = await import('node:fs/promises');
  await chmod(scratch, 0o755);
  // Default durability settings: no fsync/synchronous_commit overrides (the test harness turns them off; not here).
  const pg = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), persistent: false });
  const out = (s: string) => process.stdout.write(s);
  const isTty = process.stdout.isTTY;
  const progress = (s: string) => { if (isTty) out(`\r${s.padEnd(78)}`); };
  try {
    const pool = createPool(pg.url, { poolSize: 2 });
    const settings = (await pool.query(`SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method') ORDER BY name`)).rows;
    out(`# ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (other processes on this machine skew the figures)\n`);
    out(`# Postgres ${settings.map((s) => `${s.name}=${s.setting}`).join(' ')}\n`);
    await migrate(pg.url, { quiet: true });
    out(`# seeding ${cardsCount} cards…\n`);
    await seedDemo(pool, new Kek(), { loadCards: cardsCount });
    await pool.end();
    const batched = await Ledger.open({
      databaseUrl: pg.url, redisUrl: null, poolSize: 16, batchDebitsMax: Number(process.env.BENCH_BATCH_DEBITS_MAX ?? 64),
      batchWaitMs: Number(process.env.BENCH_BATCH_WAIT_MS ?? 1), batchInflightMax: Number(process.env.BENCH_BATCH_INFLIGHT_MAX ?? 4),
    });
    const plain = await Ledger.open({ databaseUrl: pg.url, redisUrl: null, poolSize: 64, writePath: 'plain' });
    const results: Result[] = [];
    let batch = 100;
    for (const callers of callersList) {
      for (const [name, ledger] of [['batched', batched], ['plain', plain]] as const) {
        const r = await runOne(ledger, name, callers, String(++batch).padStart(6, '0'), progress);
        results.push(r);
        if (isTty) out('\r'.padEnd(80) + '\r');
        out(`${name.padEnd(7)} ${String(callers).padStart(2)} callers: ${Math.round(r.perSecond)} debits/s\n`);
      }
    }
    const check = createPool(pg.url, { poolSize: 1 });
    const report = await audit(check);
    await check.end();
    await batched.close();
    await plain.close();
    out('\n');
    out(formatTable(['callers', 'batched debits/s', 'avg batch', 'plain debits/s', 'speed-up'], callersList.map((c) => {
      const b = results.find((r) => r.path === 'batched' && r.callers === c)!;
      const p = results.find((r) => r.path === 'plain' && r.callers === c)!;
      return [String(c), String(Math.round(b.perSecond)), b.batchAvg, String(Math.round(p.perSecond)), `${(b.perSecond / p.perSecond).toFixed(1)}x`];
    })));
    out(`\n\n${secondsPerRun}s per run, ${cardsCount} cards, one purchase = 1 authorisation row + 1 txn + 2 entries + 1 balance update.\n`);
    out(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    out(`audit after the bench: ${report.ok ? 'every invariant holds' : `${report.problems.length} PROBLEMS`}\n`);
    if (!report.ok) process.exitCode = 1;
    if (jsonFile) {
      const figures = (p: string) => results.filter((r) => r.path === p).map((r) => ({ callers: r.callers, debits: r.debits, seconds: Math.round(r.seconds * 100) / 100, debitsPerS: Math.round(r.perSecond), avgBatch: Number(r.batchAvg) }));
      const speedUp = callersList.map((c) => {
        const b = results.find((r) => r.path === 'batched' && r.callers === c)!;
        const p = results.find((r) => r.path === 'plain' && r.callers === c)!;
        return { callers: c, ratio: Math.round((b.perSecond / p.perSecond) * 100) / 100 };
      });
      writeBenchJson(jsonFile, 'bench:ledger', {
        secondsPerRun, cards: cardsCount, postgres: Object.fromEntries(settings.map((s) => [s.name, s.setting])),
        batched: figures('batched'), speedUp, auditOk: report.ok,
      }, { plain: figures('plain') });
    }
  } finally {
    await pg.stop().catch(() => {});
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
