// `pointswitch clearing`: clearing staff's commands. run computes a month (provisional until it has ended) and
// writes its files; show prints a period's summary on one screen; close closes an ended month for good; files
// writes a closed month's files again. Runs and closes are in the audit trail. Exit codes: 0 done, 1 a fault,
// 2 bad arguments, 3 not now (not ended, not started, already closed, out of order, another run under way),
// 4 a control total disagreed (nothing was written).
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { cliActor, recordAudit } from '../admin/audit-trail.js';
import { withDatabaseUrl } from '../db/connect.js';
import { createPool, type Pool } from '../db/pool.js';
import { formatTable } from '../ledger/audit.js';
import {
  closePeriod, listPeriods, parsePeriod, periodFiles, periodStatus, PeriodError, runClearing, steps,
  type ClearingParams, type FileInfo, type RunResult, type Step, type Totals,
} from '../clearing/index.js';
import type { Config } from '../config/index.js';
import { CliError } from './errors.js';
import { commandConfig } from './settings.js';

const keys = ['databaseUrl', 'dataDir', 'clearingTimeZone', 'clearingGraceDays', 'terminalMonthlyFeeFen'] as const;
type Settings = Pick<Config, (typeof keys)[number]>;

/** 1234567 fen -> "12,345.67"; negative amounts keep their sign. Exact: integer arithmetic only. */
export function yuan(fen: number): string {
  const neg = fen < 0;
  const a = Math.abs(fen);
  return `${neg ? '-' : ''}${Math.floor(a / 100).toLocaleString('en')}.${String(a % 100).padStart(2, '0')}`;
}
const int = (n: number) => n.toLocaleString('en');

function asCliError(err: unknown): unknown {
  if (!(err instanceof PeriodError)) return err;
  const code = err.kind === 'bad-period' ? 2 : err.kind === 'mismatch' ? 4 : 3;
  return new CliError(err.message, code);
}

async function withPool<T>(s: Pick<Config, 'databaseUrl' | 'dataDir'>, fn: (pool: Pool) => Promise<T>): Promise<T> {
  return withDatabaseUrl(s, async (url) => {
    const pool = createPool(url, { poolSize: 3, applicationName: 'pointswitch clearing' });
    try { return await fn(pool); } catch (err) { throw asCliError(err); } finally { await pool.end(); }
  });
}

/** The CLI user, as the audit trail names them. */
const cliName = () => { const a = cliActor(); return 'cli' in a ? `cli:${a.cli}` : 'cli'; };

const paramsOf = (s: Settings): ClearingParams =>
  ({ timeZone: s.clearingTimeZone, graceDays: s.clearingGraceDays, terminalFeeFen: s.terminalMonthlyFeeFen });

function period(v: string): string {
  try { return parsePeriod(v).period; } catch (err) { throw asCliError(err); }
}

/** A progress bar over the run's steps, shown once the run has taken more than a second (and only on a terminal). */
function progress(): { onProgress: (s: Step, i: number, n: number) => void; stop: () => void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let last: { s: Step; i: number } = { s: steps[0]!, i: 0 };
  const timer = setTimeout(() => {
    if (!tty) return;
    bar = new cliProgress.SingleBar({ format: 'clearing [{bar}] {value}/{total} {step}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic);
    bar.start(steps.length, last.i, { step: last.s });
  }, 1000);
  return {
    onProgress: (s, i) => { last = { s, i }; bar?.update(i, { step: s }); },
    stop: () => { clearTimeout(timer); if (bar) { (bar as cliProgress.SingleBar).update(steps.length); (bar as cliProgress.SingleBar).stop(); } },
  };
}

/** The one-screen summary: the period's numbers, then the files. */
export function formatSummary(head: { period: string; state: string; asOf: string; params: ClearingParams }, t: Totals, files: FileInfo[] | null): string {
  const rows: [string, string][] = [
    ['period', `${head.period} (${head.state})`],
    ['as of', `${head.asOf} (${head.params.timeZone})`],
    ['merchants', int(t.merchants)],
    ['purchases', `${int(t.purchaseCount)} · ${int(t.purchasePoints)} points`],
    ['voids', `${int(t.voidCount)} · ${int(t.voidPoints)} points`],
    ['refunds', `${int(t.refundCount)} · ${int(t.refundPoints)} points`],
    ['reversals', `${int(t.reversalCount)} · ${int(t.reversalPoints)} points`],
    ['net points redeemed', int(t.netPoints)],
    ['gross (2 fen a point)', `¥${yuan(t.grossFen)}`],
    ['acquirer fees', `¥${yuan(t.feeFen)} (average ${t.averageFeeRate} %${t.averageFeeAboveLimit ? ' — ABOVE 1 %' : ''})`],
    ['paid to merchants', `¥${yuan(t.netPayableFen)}`],
    ['terminals', `${int(t.terminals)} · ${int(t.terminalDays)} terminal-days · fee ¥${yuan(t.terminalFeeFen)} (¥${yuan(head.params.terminalFeeFen)} a month)`],
    ['issuer owes acquirer', `¥${yuan(t.issuerOwesFen)}`],
    ['acquirer revenue', `¥${yuan(t.acquirerRevenueFen)}`],
  ];
  let out = formatTable(['', ''], rows).split('\n').slice(2).join('\n');
  if (files) out += `\n\n${formatTable(['file', 'rows', 'sha256'], files.map((f) => [f.name, int(f.rows), f.sha256]))}`;
  return out;
}

function printRun(r: RunResult, verb: string): void {
  const state = r.closed ? 'closed' : r.provisional ? 'PROVISIONAL: the month has not ended' : 'ended, not closed';
  process.stdout.write(`${verb} ${r.period} in ${r.seconds.toFixed(1)} s${r.outDir ? `: files in ${r.outDir}` : ''}\n\n`);
  process.stdout.write(`${formatSummary({ period: r.period, state, asOf: r.asOf, params: r.params }, r.totals, r.files)}\n`);
  process.stdout.write(`\ncontrol totals: the ledger's net ${int(r.control.ledgerNetPoints)} points × 2 fen = ¥${yuan(r.control.ledgerValueFen)} = Σ gross; `
    + `Σ gross = Σ paid + Σ fees; every merchant equals its side of the ledger; counts equal the authorisations (${int(r.control.authorisations.purchases)} purchases).\n`);
  if (r.sameAsClosed !== undefined) {
    process.stdout.write(r.sameAsClosed
      ? 'closed period: every file is byte-identical to the close (same SHA-256)\n'
      : 'closed period: the files DIFFER from the close — the ledger under a closed period has changed; investigate\n');
    if (!r.sameAsClosed) process.exitCode = 4;
  }
}

export function register(program: Command): void {
  const clearing = program.command('clearing').description('monthly clearing: run, show, close and write a month\'s settlement files');

  // run and close: the same options, the same progress and summary; close also moves the watermark.
  const compute = (name: 'run' | 'close', description: string, verb: string, fn: typeof runClearing) => {
    const cmd = clearing.command(name).description(description)
      .requiredOption('--period <YYYY-MM>', 'the month, e.g. 2026-11', period)
      .option('--out <dir>', 'directory for the files (default: clearing/<period>)');
    const configOf = commandConfig(cmd, keys);
    cmd.action(async (o: { period: string; out?: string }) => {
      const s = configOf(o);
      const bar = progress();
      const r = await withPool(s, async (pool) => {
        try {
          const res = await fn(pool, { period: o.period, outDir: o.out ?? `clearing/${o.period}`, actor: cliName(), options: paramsOf(s), onProgress: bar.onProgress });
          await recordAudit(pool, cliActor(), { action: `clearing.${name}`, subject: o.period, after: { runId: res.runId, provisional: res.provisional, totals: res.totals, files: res.files } });
          return res;
        } finally { bar.stop(); }
      });
      printRun(r, verb);
    });
  };
  compute('run', 'compute a month and write its files (provisional until the month has ended)', 'cleared', runClearing);
  compute('close', 'close an ended month for good: nothing more is booked into it', 'closed', closePeriod);

  const show = clearing.command('show').description('a period\'s summary on one screen (from its latest run; a closed one from its close)')
    .option('--period <YYYY-MM>', 'the month; without it, every period that has been run', period);
  const showConfig = commandConfig(show, ['databaseUrl', 'dataDir']);
  show.action(async (o: { period?: string }) => {
    const s = showConfig(o);
    await withPool(s, async (pool) => {
      if (!o.period) {
        const all = await listPeriods(pool);
        if (all.length === 0) { process.stdout.write('no period has been run yet: `pointswitch clearing run --period YYYY-MM`\n'); return; }
        process.stdout.write(`${formatTable(['period', 'state', 'last run', 'merchants', 'gross ¥', 'fees ¥', 'terminal fees ¥', 'issuer owes ¥'],
          all.map((p) => [p.period, p.state === 'closed' ? 'closed' : p.run?.provisional ? 'provisional' : 'open', p.run?.finishedAt.slice(0, 19).replace('T', ' ') ?? '-',
            int(p.run?.totals.merchants ?? 0), yuan(p.run?.totals.grossFen ?? 0), yuan(p.run?.totals.feeFen ?? 0), yuan(p.run?.totals.terminalFeeFen ?? 0),
            yuan(p.run?.totals.issuerOwesFen ?? 0)]))}\n`);
        return;
      }
      const st = await periodStatus(pool, o.period);
      if (!st.run) throw new CliError(`${o.period} has not been run: \`pointswitch clearing run --period ${o.period}\``, 3);
      const state = st.state === 'closed' ? `closed at ${st.closedAt} by ${st.closedBy}` : st.run.provisional ? 'PROVISIONAL' : 'ended, not closed';
      process.stdout.write(`${formatSummary({ period: st.period, state, asOf: st.run.asOf, params: st.run.params }, st.run.totals, st.run.files)}\n`);
    });
  });

  const files = clearing.command('files').description('write a closed month\'s files again, checked against the hashes of its close')
    .requiredOption('--period <YYYY-MM>', 'the month, e.g. 2026-11', period)
    .requiredOption('--out <dir>', 'directory for the files');
  const filesConfig = commandConfig(files, ['databaseUrl', 'dataDir']);
  files.action(async (o: { period: string; out: string }) => {
    const s = filesConfig(o);
    const r = await withPool(s, (pool) => periodFiles(pool, o.period, o.out));
    process.stdout.write(`${formatTable(['file', 'rows', 'sha256'], r.files.map((f) => [f.name, int(f.rows), f.sha256]))}\n\n`);
    if (r.sameAsClosed) process.stdout.write(`${o.period}: written to ${o.out}, byte-identical to the close\n`);
    else { process.stdout.write(`${o.period}: written to ${o.out}, but they DIFFER from the hashes recorded at the close\n`); process.exitCode = 4; }
  });
}
