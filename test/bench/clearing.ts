// `npm run bench:clearing`: the monthly clearing (src/clearing) on a month of 1,000,000 and of 10,000,000
// transactions across 100,000 merchants and 300,000 terminals (clearing-data.ts; generated first, not timed). The run
// is a child process of its own (clearing-run.ts), so its peak RSS is the run's: with set-based SQL and streamed
// files it must not grow with the transactions. Beside each run, on the same database in the same minutes, the floor:
// one plain scan of the ledger grouped by merchant (and one of the authorisations), what any clearing must at least
// read. Targets: a run of 10,000,000 in ≤ 60 s; peak RSS the same at every size (within 10 %).
// Flags: --sizes 1000000,10000000; --reuse keeps each size's database in $TMPDIR/pointswitch-bench-clearing/<size>
// and uses it again while the options and migrations are the same; --statements lists the SQL statements that took
// longest in the run (pg_stat_statements); --explain FILE appends the plans (EXPLAIN ANALYZE, by auto_explain) of
// every statement of the run that took a second or more; --json FILE.
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { clearingDataDefaults, generateDatabase, generatedBefore, type GeneratedData } from './clearing-data.js';
import type { ClearingRunOutput } from './clearing-run.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';

const bench = 'bench:clearing';
const runSecondsMax = 60;
const rssSpreadMax = 0.1;
const jsonFile = jsonFileOption(bench);
const args = process.argv.slice(2);
const reuse = args.includes('--reuse');
const statements = args.includes('--statements');
const explainFile = (() => {
  const i = args.indexOf('--explain');
  if (i < 0) return undefined;
  const f = args[i + 1];
  if (!f || f.startsWith('--')) { process.stderr.write(`${bench}: --explain needs a file to write the plans to\n`); process.exit(2); }
  return path.resolve(f);
})();

function log(s: string): void { process.stderr.write(`${bench}: ${s}\n`); }

function sizesArg(): number[] {
  const i = args.indexOf('--sizes');
  if (i < 0) return [1_000_000, 10_000_000];
  const sizes = (args[i + 1] ?? '').split(',').map((s) => Number(s.replaceAll('_', '')));
  if (sizes.length === 0 || sizes.some((n) => !Number.isSafeInteger(n) || n <= 0)) {
    log('--sizes needs transactions counts, comma-separated (1000000,10000000)');
    process.exit(2);
  }
  return sizes;
}

interface Statement { calls: number; totalMs: number; meanMs: number; rows: number; query: string }
interface SizeFigures {
  transactions: number; merchants: number; terminals: number;
  /** The run as the engine sees it (runClearing called to returned), and the child process from spawn to exit. */
  runSeconds: number; processSeconds: number;
  peakRssMb: number;
  /** The same child loading the same modules and connecting, without a run: the process's floor. */
  idlePeakRssMb: number;
  merchantsCsvRows: number | null; provisional: boolean;
  steps: ClearingRunOutput['steps'];
  /** The run's totals against the generator's: counts and points of each kind, and the net. */
  totalsAgree: boolean;
  files: ClearingRunOutput['result']['files'];
  generationSeconds: number; generatedNow: boolean;
  statements?: Statement[];
}
interface SizeBaseline { ledgerScanSeconds: number; authorisationsScanSeconds: number }

/** Runs clearing-run.ts as a child and returns the JSON line it printed, with the child's time from spawn to exit. */
function runChild<T>(childArgs: string[]): Promise<T & { processMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/bench/clearing-run.ts'), ...childArgs],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      const processMs = performance.now() - started;
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`the clearing run exited ${code}${out ? `: ${out.slice(-500)}` : ''}`));
      else resolve({ ...(JSON.parse(line) as T), processMs });
    });
  });
}

/** Lines of a file after its header, counted as it streams past. */
async function dataLines(file: string): Promise<number | null> {
  if (!existsSync(file)) return null;
  let n = 0;
  for await (const chunk of createReadStream(file)) for (const b of chunk as Buffer) if (b === 10) n++;
  return n - 1;
}

async function timed(c: pg.Client, sql: string): Promise<number> {
  const started = performance.now();
  await c.query(sql);
  return (performance.now() - started) / 1000;
}

/** The floor: one scan of each big table, grouped by merchant (run once before the run to warm the cache too). */
async function baseline(c: pg.Client): Promise<SizeBaseline> {
  const ledger = 'SELECT merchant_id, sum(member_points) FROM ledger_txns GROUP BY 1';
  const auths = 'SELECT merchant_id, count(*), sum(points) FROM authorisations GROUP BY 1';
  return { ledgerScanSeconds: await timed(c, ledger), authorisationsScanSeconds: await timed(c, auths) };
}

async function topStatements(c: pg.Client): Promise<Statement[]> {
  const { rows } = await c.query<{ calls: string; total: number; mean: number; rows: string; query: string }>(
    // track=all, to see the statements run by triggers (foreign key checks) too; a CREATE TABLE … AS is then listed
    // twice, as the statement and as its query: only the statement is kept.
    `SELECT * FROM (
       SELECT DISTINCT ON (query) calls, total_exec_time AS total, mean_exec_time AS mean, rows, query FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%'
       ORDER BY query, toplevel DESC) s
     ORDER BY total DESC LIMIT 10`);
  return rows.map((r) => ({ calls: Number(r.calls), totalMs: Math.round(r.total), meanMs: Math.round(r.mean * 10) / 10, rows: Number(r.rows),
    query: r.query.replace(/\s+/g, ' ').slice(0, 400) }));
}

/** Server settings for --statements and --explain (neither: none, the bench's own). */
function diagnosticSettings(): Record<string, string> {
  const libraries = [...(statements ? ['pg_stat_statements'] : []), ...(explainFile ? ['auto_explain'] : [])];
  return {
    ...(libraries.length ? { shared_preload_libraries: libraries.join(',') } : {}),
    ...(statements ? { 'pg_stat_statements.track': 'all' } : {}),
    ...(explainFile ? { 'auto_explain.log_min_duration': '1000', 'auto_explain.log_analyze': 'on', 'auto_explain.log_buffers': 'on',
      'auto_explain.log_nested_statements': 'on' } : {}),
  };
}
/** While the run is on: the server's log lines then go to the --explain file. */
let explaining = false;

async function measure(transactions: number, scratch: string): Promise<{ figures: SizeFigures; baseline: SizeBaseline }> {
  const options = { ...clearingDataDefaults, transactions };
  const dataDir = reuse ? path.join(os.tmpdir(), 'pointswitch-bench-clearing', String(transactions)) : path.join(scratch, String(transactions));
  let made: GeneratedData | null = reuse ? generatedBefore(dataDir, options) : null;
  const generatedNow = made === null;
  if (made) log(`${transactions.toLocaleString('en')}: reusing the database generated in ${dataDir} (${made.seconds} s then)`);
  else {
    log(`${transactions.toLocaleString('en')}: generating into ${dataDir}`);
    made = await generateDatabase(dataDir, { ...options, log });
    log(`${transactions.toLocaleString('en')}: generated in ${made.seconds} s`);
  }
  const server = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), persistent: true, settings: diagnosticSettings(),
    ...(explainFile ? { onLog: (line: string) => { if (explaining) appendFileSync(explainFile, `${line}\n`); } } : {}) });
  const c = new pg.Client({ connectionString: server.url });
  try {
    await c.connect();
    // The function files as they are now (a database reused from before a change of one), and no run of the
    // period left from before: each run then does the same work (a run deletes the period's previous run).
    await migrate(server.url, { quiet: true });
    await c.query('DELETE FROM clearing_runs WHERE period = $1 AND run_id NOT IN (SELECT run_id FROM clearing_periods)', [options.period]);
    for (const t of ['clearing_runs', 'clearing_merchants', 'clearing_fee_lines', 'clearing_terminals', 'clearing_days']) await c.query(`VACUUM ${t}`);
    log(`${transactions.toLocaleString('en')}: warming the cache (two scans)`);
    await baseline(c);
    if (statements) {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await c.query('SELECT pg_stat_statements_reset()');
    }
    const outDir = mkdtempSync(path.join(scratch, 'out-'));
    log(`${transactions.toLocaleString('en')}: clearing ${options.period} in a child process`);
    if (explainFile) {
      appendFileSync(explainFile, `\n==== ${bench}: ${transactions.toLocaleString('en')} transactions, statements of 1 s and more ====\n`);
      explaining = true;
    }
    const run = await runChild<ClearingRunOutput>(['--database-url', server.url, '--period', options.period, '--out-dir', outDir])
      .finally(() => { explaining = false; });
    const idle = await runChild<{ peakRssMb: number }>(['--database-url', server.url, '--idle']);
    const top = statements ? await topStatements(c) : undefined;
    const floor = await baseline(c);
    const csvRows = await dataLines(path.join(run.result.outDir ?? outDir, 'merchants.csv'));
    const reported = run.result.files.find((f) => f.name === 'merchants.csv')?.rows;
    if (reported !== undefined && csvRows !== null && reported !== csvRows) log(`merchants.csv: the run says ${reported} rows, the file has ${csvRows}`);
    rmSync(outDir, { recursive: true, force: true });
    const t = run.result.totals;
    const g = made.totals;
    const totalsAgree = t.purchaseCount === g.purchaseCount && t.purchasePoints === g.purchasePoints && t.voidCount === g.voidCount
      && t.voidPoints === g.voidPoints && t.refundCount === g.refundCount && t.refundPoints === g.refundPoints
      && t.reversalCount === g.reversalCount && t.reversalPoints === g.reversalPoints && t.netPoints === -g.netPoints && t.merchants === g.merchants;
    if (!totalsAgree) log(`the run's totals differ from the generator's: run ${JSON.stringify(t)}, generated ${JSON.stringify(g)}`);
    const figures: SizeFigures = {
      transactions, merchants: options.merchants, terminals: options.terminals,
      runSeconds: Math.round(run.ms / 100) / 10, processSeconds: Math.round(run.processMs / 100) / 10, peakRssMb: run.peakRssMb,
      idlePeakRssMb: idle.peakRssMb,
      merchantsCsvRows: csvRows, provisional: run.result.provisional,
      steps: run.steps, totalsAgree, files: run.result.files, generationSeconds: made.seconds, generatedNow,
      ...(top ? { statements: top } : {}),
    };
    log(`${transactions.toLocaleString('en')}: ${figures.runSeconds} s, peak RSS ${figures.peakRssMb} MB; the ledger scan ${floor.ledgerScanSeconds.toFixed(1)} s`);
    return { figures, baseline: { ledgerScanSeconds: round1(floor.ledgerScanSeconds), authorisationsScanSeconds: round1(floor.authorisationsScanSeconds) } };
  } finally {
    await c.end().catch(() => {});
    await server.stop();
    if (!reuse) rmSync(dataDir, { recursive: true, force: true });
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function table(sizes: Array<{ figures: SizeFigures; baseline: SizeBaseline }>): string[] {
  const head = '  transactions  merchants  terminals   run s  process s  peak RSS MB (idle)  merchants.csv rows   ledger scan s  auths scan s   generated s';
  const rows = sizes.map(({ figures: f, baseline: b }) => [
    f.transactions.toLocaleString('en').padStart(12), f.merchants.toLocaleString('en').padStart(9), f.terminals.toLocaleString('en').padStart(9),
    f.runSeconds.toFixed(1).padStart(7), f.processSeconds.toFixed(1).padStart(9), `${f.peakRssMb} (${f.idlePeakRssMb})`.padStart(17),
    String(f.merchantsCsvRows ?? '?').padStart(18), b.ledgerScanSeconds.toFixed(1).padStart(14), b.authorisationsScanSeconds.toFixed(1).padStart(12),
    `${f.generationSeconds.toFixed(0)}${f.generatedNow ? '' : ' (reused)'}`.padStart(13),
  ].join('  '));
  return [head, ...rows.map((r) => `  ${r}`)];
}

async function main(): Promise<number> {
  const sizes = sizesArg();
  if (explainFile) writeFileSync(explainFile, '');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-bench-'));
  chmodSync(scratch, 0o755);
  try {
    const measured: Array<{ figures: SizeFigures; baseline: SizeBaseline }> = [];
    for (const n of sizes) measured.push(await measure(n, scratch));
    const largest = measured.reduce((a, b) => (b.figures.transactions > a.figures.transactions ? b : a));
    const rss = measured.map((m) => m.figures.peakRssMb);
    const rssSpread = (Math.max(...rss) - Math.min(...rss)) / Math.min(...rss);
    const timeOk = largest.figures.runSeconds <= runSecondsMax;
    const rssOk = rssSpread <= rssSpreadMax;
    const totalsOk = measured.every((m) => m.figures.totalsAgree);
    const out = [
      `${bench} — ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; period ${clearingDataDefaults.period} (${clearingDataDefaults.timeZone}); the run in a child process; baseline: one grouped scan of each table, same database, after the run`,
      '',
      ...table(measured),
      '',
      `  target: ${largest.figures.transactions.toLocaleString('en')} transactions cleared in ≤ ${runSecondsMax} s: ${largest.figures.runSeconds} s — ${timeOk ? 'met' : 'MISSED'}`,
      `  totals: the run's counts and points of each kind equal the generator's at every size — ${totalsOk ? 'yes' : 'NO'}`,
      `  target: peak RSS the same at every size (within ${rssSpreadMax * 100} %): ${rss.join(' / ')} MB, spread ${(rssSpread * 100).toFixed(1)} % — ${rssOk ? 'met' : 'MISSED'}`,
    ];
    for (const m of measured) {
      // each step's seconds, and the peak RSS when it ended (the next one began; the last: the run's peak)
      const steps = m.figures.steps.map((s, i, all) => `${s.step} ${(((all[i + 1]?.atMs ?? m.figures.runSeconds * 1000) - s.atMs) / 1000).toFixed(1)} s`
        + ` (peak ${all[i + 1]?.peakRssMb ?? m.figures.peakRssMb} MB)`);
      if (steps.length) out.push(`  steps at ${m.figures.transactions.toLocaleString('en')}: ${steps.join(', ')}`);
      for (const s of m.figures.statements ?? []) out.push(`    ${String(s.totalMs).padStart(7)} ms  ${String(s.calls).padStart(6)} calls  ${s.query.slice(0, 160)}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    if (jsonFile) {
      writeBenchJson(jsonFile, bench, { sizes: measured.map((m) => m.figures), targets: { runSecondsMax, rssSpreadMax, timeOk, rssOk, rssSpread }, totalsOk },
        { sizes: measured.map((m) => ({ transactions: m.figures.transactions, ...m.baseline })) });
    }
    return timeOk && rssOk && totalsOk ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => { log(err instanceof Error ? err.stack ?? err.message : String(err)); process.exit(1); });
