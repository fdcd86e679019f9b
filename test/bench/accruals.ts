// `npm run bench:accruals`: the billing system's accrual feed at scale, beside live purchases. The switch as deployed
// by default (a child process on the embedded default, durability on), 64 load terminals purchasing at
// BENCH_ACCRUALS_RATE a second (default 1,000) for BENCH_ACCRUALS_SECONDS (default 90), twice:
//  1. alone: the purchases' p99 without a feed (the baseline, same run);
//  2. with a CSV feed of BENCH_ACCRUALS_LINES lines (default 1,000,000, over 100,000 cards) sent from second 3 to
//     POST /accruals/csv as one streamed request: lines a second, and the purchases' p99 while it runs.
// Also the switch's peak memory (VmHWM) before and after the feed, and the API key check in-process: verify() of a
// known key, call by call, beside a bare SHA-256 of the same key (the least any hash check costs).
// `-- --json FILE` writes the figures.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ApiKeys } from '../../src/admin/keys.js';
import { createPool } from '../../src/db/pool.js';
import { runLoad } from '../../simulators/load.js';
import { goodRun, phaseFigures, type GoodRunOptions } from './good-run.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';
import { childEnv, embeddedPgUrl, entry, run, startSwitchProcess } from './switch-process.js';
import { warmWal } from './wal.js';

const rate = Number(process.env.BENCH_ACCRUALS_RATE ?? 1000);
const seconds = Number(process.env.BENCH_ACCRUALS_SECONDS ?? 90);
const lines = Number(process.env.BENCH_ACCRUALS_LINES ?? 1_000_000);
const feedCards = 100_000;
/** The purchases' cards: the load cards below this; the feed credits the 100,000 after them. */
const loadCards = 10_000;
const terminals = 64;
const walWarmupMb = Number(process.env.BENCH_ACCRUALS_WAL_WARMUP_MB ?? 1024);
const feedFromSecond = 3;
const jsonFile = jsonFileOption('bench:accruals');

function log(s: string): void { process.stderr.write(`bench:accruals: ${s}\n`); }

/** The feed's CSV, made as it is sent: never held whole in memory. */
function feedCsv(n: number): Readable {
  let i = 0;
  return Readable.from((function* () {
    yield 'key,card_no,points,amount_fen,qualifying\n';
    while (i < n) {
      const rows: string[] = [];
      for (let k = 0; k < 1000 && i < n; k++, i++) {
        const card = `8861${String(loadCards + (i % feedCards) + 1).padStart(12, '0')}`;
        rows.push(i % 4 === 0 ? `bench-${i},${card},,${100 + (i % 9000)},true` : `bench-${i},${card},${1 + (i % 50)},,false`);
      }
      yield `${rows.join('\n')}\n`;
    }
  })());
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function percentiles(xs: number[]): { p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? 0) };
}

/** verify() of a known key, call by call (ms), beside a bare SHA-256 of it. */
async function keyCheck(databaseUrl: string): Promise<{ verify: ReturnType<typeof percentiles>; sha256: ReturnType<typeof percentiles>; calls: number }> {
  const pool = createPool(databaseUrl, { poolSize: 2 });
  try {
    const keys = new ApiKeys(pool);
    const { key } = await keys.create({ role: 'auditor', name: 'bench key check' });
    const calls = 200_000;
    const verify: number[] = [];
    const sha: number[] = [];
    for (let i = 0; i < calls; i++) {
      let t = performance.now();
      if (!(await keys.verify(key))) throw new Error('the bench key did not verify');
      verify.push(performance.now() - t);
      t = performance.now();
      createHash('sha256').update(key).digest();
      sha.push(performance.now() - t);
    }
    return { verify: percentiles(verify), sha256: percentiles(sha), calls };
  } finally {
    await pool.end();
  }
}

async function main(): Promise<number> {
  const main = entry(log);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-bench-'));
  chmodSync(scratch, 0o755);
  const dataDir = path.join(scratch, 'data');
  let sw: Awaited<ReturnType<typeof startSwitchProcess>> | null = null;
  try {
    log(`seeding ${dataDir}: ${terminals} load terminals, ${loadCards + feedCards} load cards`);
    run([...main, 'seed', '--demo', '--load-terminals', String(terminals), '--load-cards', String(loadCards + feedCards), '--data-dir', dataDir]);
    sw = await startSwitchProcess(main, dataDir, 'info', '/dev/null');
    const made = spawnSync(process.execPath, [...main, 'apikey', 'create', '--role', 'billing', '--name', 'bench', '--key-only', '--data-dir', dataDir], { env: childEnv(), encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`apikey create: ${made.stderr}`);
    const billingKey = made.stdout.trim();
    const pgUrl = embeddedPgUrl(dataDir);
    log('key check: 200,000 verify() calls in this process');
    const keys = await keyCheck(pgUrl);
    log(`switch ready (POS ${sw.posPort}); warm-up 5 s at ${rate}/s`);
    const stateDir = path.join(scratch, 'sim-state');
    await runLoad({ host: '127.0.0.1', port: sw.posPort, terminals, cards: loadCards, durationS: 5, rate, mix: { purchase: 100, balance: 0, void: 0 }, connectionsPerTerminal: 1, stateDir, reconcile: false, timeoutMs: 30_000 });
    await warmWal(pgUrl, walWarmupMb, log);
    const runOptions: Omit<GoodRunOptions, 'label'> = { port: sw.posPort, stateDir, rate, seconds, terminals, cards: loadCards, log };
    log(`run 1: ${rate} purchases/s for ${seconds} s, no feed (the baseline)`);
    const alone = await goodRun({ ...runOptions, label: 'alone' });
    const rssBefore = peakRssMb(sw.child.pid!);
    let feed: Promise<{ ms: number; status: number; body: { lines?: number; credited?: number; badLines?: number; state?: string } }> | null = null;
    const startFeed = () => {
      log(`feed: ${lines.toLocaleString('en')} lines to POST /accruals/csv`);
      const started = performance.now();
      feed = fetch(`http://127.0.0.1:${sw!.adminPort}/accruals/csv?name=bench`, {
        method: 'POST', body: Readable.toWeb(feedCsv(lines)) as ReadableStream, duplex: 'half',
        headers: { authorization: `Bearer ${billingKey}`, 'content-type': 'text/csv' },
      } as RequestInit).then(async (r) => ({ ms: performance.now() - started, status: r.status, body: await r.json() as { lines?: number } }));
    };
    log(`run 2: ${rate} purchases/s for ${seconds} s, the feed from second ${feedFromSecond}`);
    const withFeed = await goodRun({ ...runOptions, label: 'with feed', during: { atSecond: feedFromSecond, run: startFeed } });
    if (!feed) throw new Error('the feed did not start');
    const fed = await (feed as Promise<{ ms: number; status: number; body: { lines?: number; credited?: number; badLines?: number; state?: string } }>);
    const rssAfter = peakRssMb(sw.child.pid!);
    const feedSeconds = fed.ms / 1000;
    const feedEnd = Math.min(seconds, Math.ceil(feedFromSecond + feedSeconds));
    const during = phaseFigures(withFeed.seconds, feedFromSecond, feedEnd);
    const before = phaseFigures(alone.seconds, feedFromSecond, feedEnd);
    const linesPerS = Math.round(lines / feedSeconds);
    const out = [
      `bench:accruals — ${os.cpus().length} CPUs; ${terminals} terminals purchasing at ${rate}/s; a ${lines.toLocaleString('en')}-line CSV over ${feedCards.toLocaleString('en')} cards`,
      '',
      `  feed            ${feedSeconds.toFixed(1)} s, ${linesPerS.toLocaleString('en')} lines/s (HTTP ${fed.status}, ${fed.body.state}: ${fed.body.credited} credited, ${fed.body.badLines} bad) — target ≤ 60 s`,
      `  purchases       alone: ${before.answeredPerS}/s, worst recent p99 ${before.worstRecentP99Ms} ms; with the feed (seconds ${feedFromSecond}-${feedEnd}): ${during.answeredPerS}/s, worst recent p99 ${during.worstRecentP99Ms} ms`,
      `  whole runs      alone p99 ${alone.report.latency?.p99Ms} ms; with the feed p99 ${withFeed.report.latency?.p99Ms} ms; reconciled: ${alone.report.reconciliation.ok && withFeed.report.reconciliation.ok ? 'yes' : 'NO'}`,
      `  switch memory   peak RSS ${rssBefore} MB before the feed, ${rssAfter} MB after it`,
      `  key check       verify() p50 ${keys.verify.p50} ms, p99 ${keys.verify.p99} ms, max ${keys.verify.max} ms over ${keys.calls.toLocaleString('en')} calls; a bare SHA-256: p50 ${keys.sha256.p50} ms, p99 ${keys.sha256.p99} ms — target p99 ≤ 1 ms`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (jsonFile) {
      writeBenchJson(jsonFile, 'bench:accruals', {
        lines, feedSeconds, linesPerS, feedStatus: fed.status, feedResult: fed.body, ratePerS: rate,
        purchasesDuringFeed: during, peakRssMbBeforeFeed: rssBefore, peakRssMbAfterFeed: rssAfter, keyCheckMs: keys.verify,
        wholeRunP99Ms: withFeed.report.latency?.p99Ms,
      }, { purchasesAloneSameSeconds: before, wholeRunP99Ms: alone.report.latency?.p99Ms, sha256Ms: keys.sha256 });
    }
    return fed.status === 200 && fed.body.lines === lines ? 0 : 1;
  } finally {
    await sw?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => { log(err instanceof Error ? err.stack ?? err.message : String(err)); process.exit(1); });
