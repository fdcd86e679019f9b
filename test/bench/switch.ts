// `npm run bench:switch`: the switch end to end, as deployed by default, with durability on.
//  1. build, seed a temp data dir (`pointswitch seed --demo --load-terminals 64 --load-cards 10000`),
//  2. start the switch as a child process (`node dist/src/cli/main.js start`) on that data dir: embedded
//     PostgreSQL with its default settings (fsync on, synchronous_commit on) and redis-server from PATH,
//  3. a warm-up, not measured: the simulator flat out for BENCH_SWITCH_WARMUP_SECONDS (default 5), so the
//     first round does not pay for the switch's JIT compilation and first sight of every card (pgbench, in C
//     on the same warm Postgres, has neither); then BENCH_SWITCH_WAL_WARMUP_MB (default 1024) of WAL written
//     and a checkpoint (`wal.ts`), so that the runs reuse WAL segments as a Postgres that has been running does,
//     instead of creating a 16 MB segment every few seconds with every commit waiting, as a fresh data directory
//     does until its first checkpoint cycle. Every run reports the WAL it wrote, the segments created during it
//     (PostgreSQL 18's pg_stat_io; 0 expected) and the checkpoints that overlapped it (`checkpoints.ts`);
//  4. in turns, BENCH_SWITCH_ROUNDS times (default 3): the simulator's load mode flat out on 64 connections
//     (all purchases; balances reconciled before and after), then pgbench on the same PostgreSQL: one
//     transaction per debit (UPDATE balance … WHERE balance >= …; INSERT entry) at 64 clients, the baseline
//     the issue's targets are set against. Turns, because this machine's speed drifts from minute to minute;
//     and which of the two goes first alternates from round to round, so that a drift through the bench does not
//     favour the one that always runs second;
//  5. in turns again, BENCH_SWITCH_ROUNDS times: the switch at half the median peak rate (the latency target),
//     then pgbench held to the same rate (-R) with a per-transaction log, the control for the latency: this
//     machine's disk sometimes stalls commits for hundreds of milliseconds, and pgbench shows whether a tail
//     is the switch's or the disk's. pgbench's latency counts from each transaction's scheduled start, like
//     the simulator's counts from its send time on a fixed schedule. Beside each of these runs, and each run of
//     step 4, switch and pgbench alike, a second control: the disk probe (`disk-probe.ts`, in a process of its own) writes and
//     fdatasyncs one 8 KB block 100 times a second next to PostgreSQL's data and reports the slowest flushes.
//     When the bare disk takes 100 ms and more to make one block durable, every commit on it waits as long.
//  6. in each round of step 5, right after the switch's run (so both meet the same disk): the switch at the same
//     half rate with BENCH_SWITCH_RESEND_PERCENT (default 10; 0 skips it) of the requests retransmissions
//     (`--mix purchase=90,resend=10`: an approved purchase sent again byte for byte, as a terminal does after a
//     lost answer), the disk probe beside it. Each must be answered with its original approval and debit nothing
//     (the run's reconciliation); its p99 sits beside the plain run's to show what retransmissions cost.
// CPU by process (switch, postgres, redis, simulator) is read from /proc for every run. Figures are printed
// and written as JSON to `-- --json FILE`, by default bench-results/switch-<time>.json (the switch's figures,
// pgbench's beside them as the baseline). BENCH_SWITCH_SECONDS: the length of each run (default 20).
// The switch logs at BENCH_SWITCH_LOG_LEVEL (default info, the deployed default: one line per transaction) to
// BENCH_SWITCH_LOG_FILE, default /dev/null: the CPU of making and writing every line is counted, but not a disk
// for them (a deployment ships them off the database's disk; on a machine with one disk, a bench's hundreds of
// megabytes of log held up PostgreSQL's commits, pgbench's included).
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { embeddedPgUrl, entry, run, startSwitchProcess, type RunningSwitch } from './switch-process.js';
import { formatReport, runLoad, summarise, type LatencySummary, type LoadOptions, type LoadReport } from '../../simulators/load.js';
import { formatDiskReport, type DiskProbeReport } from './disk-probe.js';
import { jsonFileOption, writeBenchJson, type BenchJson } from './json-out.js';
import { formatWal, prepareWal, walMark, walUse, type WalUse } from './wal.js';
import { formatCheckpoints, overlapping, watchCheckpoints, type CheckpointWatch } from './checkpoints.js';
import { cpuPercent, exitedChildrenCpuSeconds, treeCpuSeconds } from './proc-cpu.js';

const seconds = Number(process.env.BENCH_SWITCH_SECONDS ?? 20);
const terminals = 64;
const cards = 10_000;
const pgbenchClients = 64;
const roundsCount = Number(process.env.BENCH_SWITCH_ROUNDS ?? 3);
const warmupSeconds = Number(process.env.BENCH_SWITCH_WARMUP_SECONDS ?? 5);
const switchLogLevel = process.env.BENCH_SWITCH_LOG_LEVEL ?? 'info';
const resendPercent = Number(process.env.BENCH_SWITCH_RESEND_PERCENT ?? 10);
const walWarmupMb = Number(process.env.BENCH_SWITCH_WAL_WARMUP_MB ?? 1024);
const jsonFile = jsonFileOption('bench:switch');
if (!(resendPercent >= 0 && resendPercent < 100)) {
  process.stderr.write(`bench:switch: BENCH_SWITCH_RESEND_PERCENT=${process.env.BENCH_SWITCH_RESEND_PERCENT} is not a share from 0 to 99\n`);
  process.exit(2);
}

function log(s: string): void { process.stderr.write(`bench:switch: ${s}\n`); }

/** A run's start and end, epoch ms. */
interface Window { from: number; to: number }

/** Lines in a file, read in chunks (the switch's log runs to hundreds of megabytes). */
function logLines(file: string): number {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let n = 0;
  try {
    for (let got = readSync(fd, buf); got > 0; got = readSync(fd, buf)) for (let i = 0; i < got; i++) if (buf[i] === 10) n++;
  } finally {
    closeSync(fd);
  }
  return n;
}

/**
 * Starts the disk probe in a process of its own (it blocks its thread on fdatasync, and pgbench runs
 * synchronously in this one) for `seconds`, in `dir`; resolves to its report, or to why there is none.
 */
function startDiskProbe(dir: string, secs: number): Promise<DiskProbeReport | { absent: string }> {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'disk-probe.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', file, '--dir', dir, '--seconds', String(secs), '--hz', '100', '--json', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve) => {
    child.once('error', (e) => resolve({ absent: `disk probe: ${e.message}` }));
    child.once('close', (code) => {
      try {
        resolve(code === 0 ? (JSON.parse(out) as BenchJson<DiskProbeReport, unknown>).figures : { absent: `disk probe exited ${code}: ${err.trim().split('\n').slice(-1)[0] ?? ''}` });
      } catch {
        resolve({ absent: `disk probe: unreadable report ${JSON.stringify(out.slice(0, 200))}` });
      }
    });
  });
}

function findPgbench(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir && existsSync(path.join(dir, 'pgbench'))) return path.join(dir, 'pgbench');
  return existsSync('/usr/lib/postgresql/15/bin/pgbench') ? '/usr/lib/postgresql/15/bin/pgbench' : null;
}

interface PgbenchResult {
  tps: number; latencyAvgMs: number | null; clients: number; seconds: number; transactions: number | null;
  /** Only when held to a rate: percentiles from the per-transaction log, scheduled start to end. */
  rate?: number; latency?: LatencySummary | null;
}
type Pgbench = (rate?: number) => Promise<PgbenchResult | { absent: string }>;

/** Runs a command to its end without blocking this process (the checkpoint watch polls meanwhile). */
function runAsync(bin: string, args: string[], o: { env: NodeJS.ProcessEnv; cwd: string }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { ...o, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.once('error', (e) => resolve({ status: null, stdout, stderr: `${stderr}${e.message}` }));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Creates pgbench's tables and script once; returns a function that runs it once, or why it cannot. */
async function pgbenchSetup(url: string, scratch: string): Promise<Pgbench | { absent: string }> {
  const bin = findPgbench();
  if (!bin) return { absent: 'pgbench not found on PATH nor at /usr/lib/postgresql/15/bin/pgbench (Debian: apt-get install -y postgresql-client)' };
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('DROP TABLE IF EXISTS bench_entry; DROP TABLE IF EXISTS bench_balance');
    await c.query('CREATE TABLE bench_balance (card int PRIMARY KEY, balance bigint NOT NULL)');
    await c.query('CREATE TABLE bench_entry (id bigserial PRIMARY KEY, card int NOT NULL, points bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())');
    await c.query('INSERT INTO bench_balance SELECT g, 10000000 FROM generate_series(1, $1::int) g', [cards]);
    await c.query('VACUUM ANALYZE bench_balance');
  } finally {
    await c.end();
  }
  const script = path.join(scratch, 'debit.sql');
  writeFileSync(script, [
    `\\set card random(1, ${cards})`,
    '\\set pts random(50, 2500)',
    'BEGIN;',
    'UPDATE bench_balance SET balance = balance - :pts WHERE card = :card AND balance >= :pts;',
    'INSERT INTO bench_entry (card, points) VALUES (:card, :pts);',
    'END;',
    '',
  ].join('\n'));
  chmodSync(scratch, 0o755);
  const u = new URL(url);
  const logDir = path.join(scratch, 'pgbench-log');
  return async (rate?: number) => {
    log(`pgbench: ${pgbenchClients} clients, ${seconds} s, one debit per transaction${rate ? `, held to ${rate}/s` : ''}`);
    const rated = rate ? ['-R', String(rate), '-l', '--log-prefix', path.join(logDir, 'tx')] : [];
    if (rate) { rmSync(logDir, { recursive: true, force: true }); mkdirSync(logDir); chmodSync(logDir, 0o777); }
    const r = await runAsync(bin, ['-n', '-M', 'prepared', '-c', String(pgbenchClients), '-j', String(Math.min(pgbenchClients, os.cpus().length * 2)), '-T', String(seconds), '-f', script,
      ...rated, '-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username), u.pathname.slice(1)], {
      env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) }, cwd: scratch,
    });
    if (r.status !== 0) return { absent: `pgbench failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}` };
    const out = r.stdout;
    const tps = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out) ?? /tps = ([\d.]+)/.exec(out);
    const lat = /latency average = ([\d.]+) ms/.exec(out);
    const n = /number of transactions actually processed: (\d+)/.exec(out);
    const result: PgbenchResult = { tps: Number(tps?.[1] ?? 0), latencyAvgMs: lat ? Number(lat[1]) : null, clients: pgbenchClients, seconds, transactions: n ? Number(n[1]) : null };
    if (rate) result.latency = pgbenchLogLatencies(logDir);
    if (rate) result.rate = rate;
    return result;
  };
}

/** Percentiles of pgbench's per-transaction log (-l): the third column is the latency in microseconds. */
function pgbenchLogLatencies(dir: string): LatencySummary | null {
  const ms: number[] = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const cols = line.split(' ');
      if (cols.length >= 3) ms.push(Number(cols[2]) / 1000);
    }
  }
  return summarise(ms);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<number> {
  const main = entry(log);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-bench-'));
  chmodSync(scratch, 0o755);
  const dataDir = path.join(scratch, 'data');
  const switchLog = process.env.BENCH_SWITCH_LOG_FILE ?? '/dev/null';
  let sw: RunningSwitch | null = null;
  let watch: CheckpointWatch | null = null;
  let pgc: pg.Client | null = null;
  try {
    log(`seeding ${dataDir}: ${terminals} load terminals, ${cards} load cards`);
    run([...main, 'seed', '--demo', '--load-terminals', String(terminals), '--load-cards', String(cards), '--data-dir', dataDir]);
    log(`starting the switch on the embedded default, durability on; it logs at level ${switchLogLevel} to ${switchLog}`);
    sw = await startSwitchProcess(main, dataDir, switchLogLevel, switchLog);
    const { child, posPort } = sw;
    log(`the switch is ready (POS ${posPort}, admin ${sw.adminPort})`);
    const pgUrl = embeddedPgUrl(dataDir);
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    const settings = Object.fromEntries((await c.query("SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'full_page_writes', 'server_version')")).rows.map((r: { name: string; setting: string }) => [r.name, r.setting]));
    pgc = c;
    watch = await watchCheckpoints(pgUrl);
    log(`postgres ${settings.server_version}: synchronous_commit=${settings.synchronous_commit}, fsync=${settings.fsync}, full_page_writes=${settings.full_page_writes}`);

    const stateDir = path.join(scratch, 'sim-state');
    const common = { host: '127.0.0.1', port: posPort, terminals, cards, durationS: seconds, mix: { purchase: 100, balance: 0, void: 0 }, connectionsPerTerminal: 1, stateDir, reconcile: true, timeoutMs: 30_000 };
    const progress = (label: string) => (p: { elapsedS: number; answered: number; ratePerS: number; p99Ms: number | null }) => {
      if (Math.round(p.elapsedS * 2) % 10 === 0) log(`${label} ${p.elapsedS.toFixed(0)} s: ${p.answered} answered, ${Math.round(p.ratePerS)}/s, recent p99 ${p.p99Ms ?? '-'} ms`);
    };
    const switchPid = child.pid!;
    // One run, with where the CPU went: the switch, its Postgres and Redis, and this process (the simulator).
    // Any run (the switch's or pgbench's), with when it ran and the WAL it wrote.
    const inPostgres = async <T>(run: () => Promise<T>): Promise<{ result: T; window: Window; wal: WalUse }> => {
      const mark = await walMark(c);
      const from = Date.now();
      const result = await run();
      const window = { from, to: Date.now() };
      return { result, window, wal: await walUse(c, mark) };
    };
    const measured = async (o: LoadOptions): Promise<{ report: LoadReport; cpu: Record<string, number>; window: Window; wal: WalUse }> => {
      const before = treeCpuSeconds(switchPid);
      const { result: report, window, wal } = await inPostgres(() => runLoad(o));
      const cpu = cpuPercent(before, treeCpuSeconds(switchPid), (window.to - window.from) / 1000);
      cpu.simulator = report.clientCpuPercent;
      return { report, cpu, window, wal };
    };
    // The machine's speed drifts (other tenants, disk): the switch's peak and pgbench are measured in turns,
    // `rounds` times, and compared round by round; the medians are the headline.
    const pgbench = await pgbenchSetup(pgUrl, scratch);
    if (warmupSeconds > 0) {
      log(`warm-up: switch at max rate, ${terminals} connections, ${warmupSeconds} s (not measured)`);
      const w = await runLoad({ ...common, durationS: warmupSeconds, rate: 'max', reconcile: false });
      log(`warm-up: ${Math.round(w.purchasesApprovedPerS)} purchases/s`);
    }
    // A fresh data directory has no WAL segments to reuse: PostgreSQL would create one (16 MB, zero-filled and
    // fsynced, every commit waiting) every few seconds of every run until its first checkpoint cycle, which a
    // running switch's Postgres long since had (wal.ts). Both sides meet the same steady state.
    if (walWarmupMb > 0) {
      log(`WAL warm-up: writing ${walWarmupMb} MB of WAL and checkpointing, so the runs reuse segments as a running Postgres does`);
      const ready = await prepareWal(c, walWarmupMb);
      log(`WAL warm-up: ${ready.segmentsAhead} segments ready for reuse (${(ready.ms / 1000).toFixed(1)} s)`);
    }
    type Disk = DiskProbeReport | { absent: string };
    const rounds: Array<{ peak: LoadReport; cpu: Record<string, number>; pgbench: PgbenchResult | { absent: string }; pgCpu: Record<string, number>; switchFirst: boolean; disk: Disk; pgbenchDisk: Disk; window: Window; pgbenchWindow: Window; wal: WalUse; pgbenchWal: WalUse }> = [];
    const switchPeak = async (i: number) => {
      log(`round ${i}/${roundsCount}: switch at max rate, ${terminals} connections, ${seconds} s, the disk probe beside it`);
      const probe = startDiskProbe(scratch, seconds);
      const run = await measured({ ...common, rate: 'max', onProgress: progress(`round ${i} max`) });
      const disk = await probe;
      process.stdout.write(`${formatReport(run.report)}\n${'absent' in disk ? disk.absent : formatDiskReport(disk)}\n\n`);
      return { ...run, disk };
    };
    const pgbenchPeak = async () => {
      // A second longer than pgbench's run, so that its CPU is not counted as pgbench's client's below.
      const probe = typeof pgbench === 'function' ? startDiskProbe(scratch, seconds + 1) : Promise.resolve({ absent: 'pgbench absent' });
      const pgBefore = treeCpuSeconds(switchPid);
      const clientBefore = exitedChildrenCpuSeconds();
      const { result: base, window: pgbenchWindow, wal: pgbenchWal } = await inPostgres(async () => (typeof pgbench === 'function' ? pgbench() : pgbench));
      const pgSeconds = (pgbenchWindow.to - pgbenchWindow.from) / 1000;
      const pgCpu = cpuPercent(pgBefore, treeCpuSeconds(switchPid), pgSeconds);
      // pgbench's own client, comparable with the simulator's share in the switch run
      pgCpu.pgbench = Math.round(((exitedChildrenCpuSeconds() - clientBefore) / pgSeconds) * 100);
      return { base, pgCpu, pgbenchDisk: await probe, pgbenchWindow, pgbenchWal };
    };
    // Which goes first alternates (switch, pgbench; then pgbench, switch; …): when the machine speeds up or slows
    // down through the bench, the one that always ran second would gain or lose in every round.
    for (let i = 1; i <= roundsCount; i++) {
      const switchFirst = i % 2 === 1;
      const first = switchFirst ? await switchPeak(i) : null;
      const { base, pgCpu, pgbenchDisk, pgbenchWindow, pgbenchWal } = await pgbenchPeak();
      const run = first ?? await switchPeak(i);
      rounds.push({ peak: run.report, cpu: run.cpu, pgbench: base, pgCpu, switchFirst, disk: run.disk, pgbenchDisk, window: run.window, pgbenchWindow, wal: run.wal, pgbenchWal });
    }
    const peakMedian = median(rounds.map((r) => r.peak.purchasesApprovedPerS));
    const half = Math.max(1, Math.round(peakMedian / 2));
    const halves: Array<{ run: LoadReport; cpu: Record<string, number>; pgbench: PgbenchResult | { absent: string }; disk: Disk; pgbenchDisk: Disk; window: Window; pgbenchWindow: Window | null; wal: WalUse; pgbenchWal: WalUse | null }> = [];
    const resends: Array<{ run: LoadReport; disk: Disk; window: Window; wal: WalUse }> = [];
    for (let i = 1; i <= roundsCount; i++) {
      log(`half-rate round ${i}/${roundsCount}: switch at ${half}/s (half the median peak), ${seconds} s, the disk probe beside it`);
      const probe = startDiskProbe(scratch, seconds);
      const m = await measured({ ...common, rate: half, onProgress: progress(`half ${i}`) });
      const disk = await probe;
      process.stdout.write(`${formatReport(m.report)}\n${'absent' in disk ? disk.absent : formatDiskReport(disk)}\n\n`);
      // In the same round, so that both meet the same disk: the same rate with retransmissions.
      if (resendPercent > 0) {
        log(`half-rate round ${i}/${roundsCount}: switch at ${half}/s with ${resendPercent} % retransmissions, ${seconds} s, the disk probe beside it`);
        const rProbe = startDiskProbe(scratch, seconds);
        const r = await measured({ ...common, rate: half, mix: { purchase: 100 - resendPercent, balance: 0, void: 0, resend: resendPercent }, onProgress: progress(`resend ${i}`) });
        const rDisk = await rProbe;
        process.stdout.write(`${formatReport(r.report)}\n${'absent' in rDisk ? rDisk.absent : formatDiskReport(rDisk)}\n\n`);
        resends.push({ run: r.report, disk: rDisk, window: r.window, wal: r.wal });
      }
      let pgbenchDisk: Disk = { absent: 'pgbench absent' };
      let pgbenchHalf: PgbenchResult | { absent: string } = pgbench as { absent: string };
      let pgbenchWindow: Window | null = null;
      let pgbenchWal: WalUse | null = null;
      if (typeof pgbench === 'function') {
        const pgProbe = startDiskProbe(scratch, seconds);
        ({ result: pgbenchHalf, window: pgbenchWindow, wal: pgbenchWal } = await inPostgres(() => pgbench(half)));
        pgbenchDisk = await pgProbe;
      }
      halves.push({ run: m.report, cpu: m.cpu, pgbench: pgbenchHalf, disk, pgbenchDisk, window: m.window, pgbenchWindow, wal: m.wal, pgbenchWal });
    }

    await watch.stop();
    const checkpoints = watch.done;
    const checkpointText = (w: Window) => formatCheckpoints(overlapping(checkpoints, w.from, w.to), w.from);
    const diskText = (d: Disk) => ('absent' in d ? d.absent : `max ${d.latency?.maxMs ?? '-'} ms, ${d.over25} over 25 ms, ${d.over100} over 100 ms`);
    const cpuText = (cpu: Record<string, number>) => Object.entries(cpu).map(([k, v]) => `${k} ${v}%`).join(', ');
    const lat = (r: LoadReport) => `p50 ${r.latency?.p50Ms} ms  p90 ${r.latency?.p90Ms}  p99 ${r.latency?.p99Ms}  p99.9 ${r.latency?.p999Ms}  max ${r.latency?.maxMs}`;
    const pgTps = (b: PgbenchResult | { absent: string }) => ('absent' in b ? Number.NaN : Math.round(b.tps));
    const lines = [
      `bench:switch — ${os.cpus().length} CPUs, Postgres ${settings.server_version} synchronous_commit=${settings.synchronous_commit} fsync=${settings.fsync}, ${terminals} terminals, ${cards} cards, ${seconds} s a run, ${roundsCount} rounds`,
      `  switch log level ${switchLogLevel}, written to ${switchLog}${switchLog === '/dev/null' ? '' : ` (${logLines(switchLog).toLocaleString('en-US')} lines so far)`}`,
      '  round   switch purchases/s   pgbench debits/s   switch/pgbench   switch latency at peak',
    ];
    rounds.forEach((r, i) => {
      const p = pgTps(r.pgbench);
      lines.push(`  ${String(i + 1).padStart(5)}   ${String(Math.round(r.peak.purchasesApprovedPerS)).padStart(18)}   ${String(p).padStart(16)}   ${(r.peak.purchasesApprovedPerS / p).toFixed(2).padStart(14)}   ${lat(r.peak)}   ${r.peak.ok ? 'reconciled' : 'NOT RECONCILED'}   ${r.switchFirst ? 'switch first' : 'pgbench first'}`);
      lines.push(`          CPU (% of one core) switch run: ${cpuText(r.cpu)}; pgbench run: postgres ${r.pgCpu.postgres ?? '?'}%, pgbench client ${r.pgCpu.pgbench ?? '?'}%`);
      lines.push(`          disk (8 KB write + fdatasync, 100/s): during the switch's run ${diskText(r.disk)}; during pgbench's ${diskText(r.pgbenchDisk)}`);
      lines.push(`          PostgreSQL: during the switch's run ${formatWal(r.wal)}, ${checkpointText(r.window)}; during pgbench's ${formatWal(r.pgbenchWal)}, ${checkpointText(r.pgbenchWindow)}`);
    });
    const pgMedian = median(rounds.map((r) => pgTps(r.pgbench)));
    const ratios = rounds.map((r) => r.peak.purchasesApprovedPerS / pgTps(r.pgbench));
    lines.push(`  median  ${String(Math.round(peakMedian)).padStart(18)}   ${String(Math.round(pgMedian)).padStart(16)}   ${median(ratios).toFixed(2).padStart(14)}   (target: above 1.00)`);
    const stalled = (d: Disk) => !('absent' in d) && d.over100 > 0;
    const calmPeaks = rounds.filter((r) => !stalled(r.disk) && !stalled(r.pgbenchDisk));
    lines.push(`  rounds whose disk probe saw no flush over 100 ms in either run: ${calmPeaks.length} of ${rounds.length}${calmPeaks.length ? `; their ratios ${calmPeaks.map((r) => (r.peak.purchasesApprovedPerS / pgTps(r.pgbench)).toFixed(2)).join(', ')}` : ''}`);
    lines.push(`  at half the median peak, ${half}/s (target: switch p99 at most 25 ms); pgbench held to the same rate is the control for disk stalls`);
    lines.push('  round   switch purchases/s   switch latency                                                   pgbench latency (same rate)');
    const pgLat = (b: PgbenchResult | { absent: string }) => ('absent' in b || !b.latency ? 'absent' : `p50 ${b.latency.p50Ms} ms  p99 ${b.latency.p99Ms}  p99.9 ${b.latency.p999Ms}  max ${b.latency.maxMs}`);
    halves.forEach((h, i) => {
      lines.push(`  ${String(i + 1).padStart(5)}   ${String(Math.round(h.run.purchasesApprovedPerS)).padStart(18)}   ${lat(h.run).padEnd(62)}   ${pgLat(h.pgbench)}   ${h.run.ok ? 'reconciled' : 'NOT RECONCILED'}`);
      lines.push(`          CPU (% of one core): ${cpuText(h.cpu)}`);
      lines.push(`          disk (8 KB write + fdatasync, 100/s): during the switch's run ${diskText(h.disk)}; during pgbench's ${diskText(h.pgbenchDisk)}`);
      lines.push(`          PostgreSQL: during the switch's run ${formatWal(h.wal)}, ${checkpointText(h.window)}; during pgbench's ${h.pgbenchWindow && h.pgbenchWal ? `${formatWal(h.pgbenchWal)}, ${checkpointText(h.pgbenchWindow)}` : 'pgbench absent'}`);
    });
    const p99s = halves.map((h) => h.run.latency?.p99Ms ?? Number.NaN);
    const pgP99s = halves.map((h) => ('absent' in h.pgbench || !h.pgbench.latency ? Number.NaN : h.pgbench.latency.p99Ms));
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    lines.push(`  median p99: switch ${r3(median(p99s))} ms, pgbench ${r3(median(pgP99s))} ms; rounds with switch p99 at most 25 ms: ${p99s.filter((p) => p <= 25).length} of ${halves.length}`);
    const calm = halves.filter((h) => !('absent' in h.disk) && h.disk.over100 === 0);
    lines.push(`  rounds whose disk probe saw no flush over 100 ms during the switch's run: ${calm.length} of ${halves.length}; the switch's p99 at most 25 ms in ${calm.filter((h) => (h.run.latency?.p99Ms ?? Infinity) <= 25).length} of them`);
    if (resends.length) {
      lines.push(`  at ${half}/s with ${resendPercent} % of requests retransmissions (each must get its original approval and debit nothing)`);
      lines.push('  round   answers/s   switch latency                                                   retransmissions');
      resends.forEach((r, i) => {
        const rs = r.run.byType.resend;
        lines.push(`  ${String(i + 1).padStart(5)}   ${String(Math.round(r.run.throughputPerS)).padStart(9)}   ${lat(r.run).padEnd(62)}   ${rs?.sent ?? 0} sent, ${r.run.resendMismatches === 0 ? 'each answered with its original approval' : `${r.run.resendMismatches} NOT answered with their original approval`}   ${r.run.ok ? 'reconciled' : 'NOT RECONCILED'}`);
        lines.push(`          disk (8 KB write + fdatasync, 100/s): ${diskText(r.disk)}; PostgreSQL: ${formatWal(r.wal)}, ${checkpointText(r.window)}`);
      });
      const rp99 = resends.map((r) => r.run.latency?.p99Ms ?? Number.NaN);
      lines.push(`  median p99 with retransmissions ${r3(median(rp99))} ms, without (the half-rate rounds above, each just before) ${r3(median(p99s))} ms`);
    }
    if (rounds.some((r) => 'absent' in r.pgbench)) lines.push(`  pgbench ABSENT: ${(rounds[0]!.pgbench as { absent: string }).absent}`);
    const summary = lines.join('\n');
    process.stdout.write(`${summary}\n`);
    let file = jsonFile;
    if (!file) {
      mkdirSync('bench-results', { recursive: true });
      file = path.join('bench-results', `switch-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    }
    const r2 = (x: number) => Math.round(x * 100) / 100;
    writeBenchJson(file, 'bench:switch', {
      postgres: settings, switchLog: { level: switchLogLevel, to: switchLog }, secondsPerRun: seconds, terminals, cards, walWarmupMb,
      peak: {
        medianPurchasesPerS: Math.round(peakMedian), medianRatioToBaseline: r2(median(ratios)),
        rounds: rounds.map((r) => ({ switchFirst: r.switchFirst, purchasesPerS: Math.round(r.peak.purchasesApprovedPerS), ratioToBaseline: r2(r.peak.purchasesApprovedPerS / pgTps(r.pgbench)), report: r.peak, cpu: r.cpu, disk: r.disk, wal: r.wal, window: r.window })),
      },
      halfRate: {
        ratePerS: half, medianP99Ms: r3(median(p99s)), targetP99Ms: 25,
        rounds: halves.map((h) => ({ p99Ms: h.run.latency?.p99Ms ?? null, report: h.run, cpu: h.cpu, disk: h.disk, wal: h.wal, window: h.window })),
      },
      resends: { percent: resendPercent, rounds: resends.map((r) => ({ p99Ms: r.run.latency?.p99Ms ?? null, report: r.run, disk: r.disk, wal: r.wal, window: r.window })) },
      checkpoints,
    }, {
      pgbench: {
        clients: pgbenchClients, medianDebitsPerS: Math.round(pgMedian),
        peak: rounds.map((r) => ({ result: r.pgbench, cpu: r.pgCpu, disk: r.pgbenchDisk, wal: r.pgbenchWal, window: r.pgbenchWindow })),
        halfRate: { medianP99Ms: r3(median(pgP99s)), rounds: halves.map((h) => ({ result: h.pgbench, disk: h.pgbenchDisk, wal: h.pgbenchWal, window: h.pgbenchWindow })) },
      },
    });
    log(`written ${file === '-' ? 'the figures to stdout' : file}`);
    return rounds.every((r) => r.peak.ok) && halves.every((h) => h.run.ok) && resends.every((r) => r.run.ok) ? 0 : 1;
  } finally {
    await watch?.stop();
    await pgc?.end().catch(() => {});
    await sw?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
