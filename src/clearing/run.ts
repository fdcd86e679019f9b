// Runs, closes and shows clearing periods. A run computes a period into the clearing tables and its files in one
// transaction (nothing is left of a run that failed or was killed); a close sets the ledger's watermark first,
// waits for every transaction that began before it, then runs the period for good. A closed period keeps its
// closing run: its numbers, its parameters, its files' hashes.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Pool, PoolClient } from '../db/pool.js';
import { computePeriod, steps, type ClearingParams, type ControlTotals, type Step, type Totals } from './compute.js';
import { prepareRunFiles, type FileInfo } from './files.js';
import { addDays, dateIn, notEnded, notStarted, parsePeriod, periodPhase, PeriodError, previousPeriod, type Period } from './periods.js';

export interface RunResult {
  runId: number; period: string; provisional: boolean; closed: boolean; asOf: string; outDir: string | null;
  params: ClearingParams; totals: Totals; control: ControlTotals; files: FileInfo[];
  /** For a closed period: whether this run's files are byte-identical to the closing run's (by SHA-256). */
  sameAsClosed?: boolean;
  seconds: number;
}

export interface RunOptions {
  period: string;
  /** where the files go; null/undefined: computed and hashed, not kept */
  outDir?: string | null;
  actor: string;
  options: ClearingParams;
  onProgress?: (step: Step, index: number, total: number) => void;
  now?: Date;
}

interface ClosedInfo { runId: number; closedAt: string; closedBy: string; params: ClearingParams; files: FileInfo[] }

async function closedInfo(c: Pool | PoolClient, period: string): Promise<ClosedInfo | null> {
  const { rows } = await c.query<{ run_id: number; closed_at: Date; closed_by: string; params: ClearingParams; files: FileInfo[] }>(
    `SELECT p.run_id, p.closed_at, p.closed_by, r.params, r.files FROM clearing_periods p JOIN clearing_runs r USING (run_id)
     WHERE p.period = $1`, [period]);
  const r = rows[0];
  return r ? { runId: r.run_id, closedAt: r.closed_at.toISOString(), closedBy: r.closed_by, params: r.params, files: r.files } : null;
}

const sameFiles = (a: FileInfo[], b: FileInfo[]) =>
  a.length === b.length && a.every((f) => b.some((g) => g.name === f.name && g.sha256 === f.sha256));

/** Computes `period` and writes its files; `closing` (from closePeriod) records it as the period's close. */
async function run(pool: Pool, o: RunOptions & { closing?: { at: Date } }): Promise<RunResult> {
  const started = Date.now();
  const p = parsePeriod(o.period);
  const now = o.now ?? new Date();
  const phase = periodPhase(p, now, o.options.timeZone, o.options.graceDays);
  const refusal = notStarted(p, now, o.options.timeZone, o.options.graceDays);
  if (refusal) throw refusal;
  const c = await pool.connect();
  let prepared: Awaited<ReturnType<typeof prepareRunFiles>> | null = null;
  try {
    // One snapshot for every statement: the ledger, the authorisations and the reference data agree.
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const { rows: [lock] } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok', [`clearing:${p.period}`]);
    if (!lock!.ok) throw new PeriodError(`another run of ${p.period} is under way; try again when it has finished`, 'busy');
    const closed = await closedInfo(c, p.period);
    if (closed && o.closing) throw new PeriodError(`${p.period} was closed at ${closed.closedAt} by ${closed.closedBy}`, 'closed');
    const params = closed ? closed.params : o.options;
    const provisional = !closed && !o.closing && phase !== 'ended';
    const asOf = closed ? closed.closedAt : (o.closing ? o.closing.at : now).toISOString();
    const { rows: [ids] } = await c.query<{ id: number }>("SELECT nextval(pg_get_serial_sequence('clearing_runs', 'run_id')) AS id");
    const runId = ids!.id;
    await c.query(
      `INSERT INTO clearing_runs (run_id, period, started_at, actor, provisional, params, totals) VALUES ($1, $2, $3, $4, $5, $6, '{}')`,
      [runId, p.period, new Date(started), o.actor, provisional, JSON.stringify(params)]);
    const progress = (s: Step) => o.onProgress?.(s, steps.indexOf(s), steps.length);
    const { totals, control } = await computePeriod(c, runId, p, params,
      { namesFrom: closed?.runId ?? null, onStep: progress, ...(provisional ? { daysThrough: dateIn(params.timeZone, now) } : {}) });
    progress('files');
    const outDir = o.outDir ? path.resolve(o.outDir) : null;
    prepared = await prepareRunFiles(c, runId, { period: p.period, provisional, asOf, params, totals, control, daysInPeriod: p.days },
      outDir ?? path.join(os.tmpdir(), `pointswitch-clearing-${randomBytes(4).toString('hex')}`),
      { runId, runAt: new Date(started).toISOString(), actor: o.actor });
    await c.query('UPDATE clearing_runs SET totals = $2, files = $3, finished_at = clock_timestamp() WHERE run_id = $1',
      [runId, JSON.stringify({ ...totals, control, asOf }), JSON.stringify(prepared.files)]);
    if (o.closing) {
      await c.query('INSERT INTO clearing_periods (period, closed_at, closed_by, run_id) VALUES ($1, $2, $3, $4)', [p.period, o.closing.at, o.actor, runId]);
    }
    // A period keeps its closing run and its latest run.
    await c.query('DELETE FROM clearing_runs WHERE period = $1 AND run_id <> $2 AND run_id NOT IN (SELECT run_id FROM clearing_periods)', [p.period, runId]);
    await c.query('COMMIT');
    if (outDir) await prepared.place(); else await prepared.discard();
    const files = prepared.files;
    prepared = null;
    return {
      runId, period: p.period, provisional, closed: Boolean(closed || o.closing), asOf, outDir, params, totals, control, files,
      ...(closed ? { sameAsClosed: sameFiles(files, closed.files) } : {}),
      seconds: (Date.now() - started) / 1000,
    };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    await prepared?.discard();
    throw err;
  } finally {
    c.release();
  }
}

/** Computes a period (provisional until it has ended), as often as wanted; a closed one is checked against its close. */
export function runClearing(pool: Pool, o: RunOptions): Promise<RunResult> {
  return run(pool, o);
}

/**
 * Waits until every transaction of another session that began before `since` has ended: bookings that read the
 * watermark before it moved have committed (or rolled back) before the period is computed.
 */
async function waitForOlderTransactions(pool: Pool, since: Date, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ pid: number; xact_start: Date; application_name: string }>(
      `SELECT pid, xact_start, application_name FROM pg_stat_activity
       WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start < $1
       ORDER BY xact_start LIMIT 1`, [since]);
    const r = rows[0];
    if (!r) return;
    if (Date.now() > until) {
      throw new PeriodError(`a transaction open since ${r.xact_start.toISOString()} (pid ${r.pid}, ${r.application_name || 'no application name'}) is still running; `
        + 'the close waits for every transaction that began before it. End it and close again', 'busy');
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * Closes an ended period for good: the ledger's watermark moves to its last day (no purchase may be dated into it
 * any more; a late return is booked on the first open day), then the period is run and recorded as closed. Periods
 * close in order. A close that fails puts the watermark back.
 */
export async function closePeriod(pool: Pool, o: RunOptions & { waitMs?: number }): Promise<RunResult> {
  const p = parsePeriod(o.period);
  const now = o.now ?? new Date();
  const refusal = await closeRefusal(pool, p, now, o.options);
  if (refusal) throw refusal;
  const before = await moveWatermark(pool, p, o.options.timeZone);
  try {
    const { rows: [t] } = await pool.query<{ t: Date }>('SELECT clock_timestamp() AS t');
    await waitForOlderTransactions(pool, t!.t, o.waitMs ?? 60_000);
    return await run(pool, { ...o, closing: { at: new Date(Math.floor(Date.now() / 1000) * 1000) } });
  } catch (err) {
    await pool.query(
      `UPDATE clearing_watermark SET closed_through = $1
       WHERE closed_through = $2 AND NOT EXISTS (SELECT 1 FROM clearing_periods WHERE period = $3)`, [before, p.last, p.period]);
    throw err;
  }
}

/**
 * Why `p` may not be closed at `now`, or null: it has not ended (grace days included), it is closed already, or
 * closing it now would break the order of closes. The close checks the order again under the watermark's lock.
 */
export async function closeRefusal(pool: Pool, p: Period, now: Date, options: ClearingParams): Promise<PeriodError | null> {
  const early = notEnded(p, now, options.timeZone, options.graceDays);
  if (early) return early;
  const closed = await closedInfo(pool, p.period);
  if (closed) return new PeriodError(`${p.period} is already closed (at ${closed.closedAt} by ${closed.closedBy})`, 'closed');
  const { rows: [w] } = await pool.query<{ closed_through: string }>('SELECT closed_through FROM clearing_watermark');
  return orderRefusal(pool, p, w!.closed_through, options.timeZone);
}

/**
 * Why closing `p` would break the order of closes, the last closed period ending on `through` ('-infinity': none),
 * or null. The first close may be of any period with no activity before it.
 */
async function orderRefusal(c: Pool | PoolClient, p: Period, through: string, timeZone: string): Promise<PeriodError | null> {
  if (through === p.last) return null;               // a close that moved the watermark and did not finish
  if (through !== '-infinity' && through > p.last) {
    return new PeriodError(`${p.period} can no longer be closed: periods up to ${through} are closed`, 'order');
  }
  if (through === '-infinity') {
    const { rows: [a] } = await c.query<{ ledger: boolean; terminals: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ledger_txns WHERE counter_kind = 'merchant' AND business_date < $1) AS ledger,
              EXISTS (SELECT 1 FROM terminals WHERE (created_at AT TIME ZONE $2)::date < $1) AS terminals`, [p.first, timeZone]);
    return a!.ledger || a!.terminals
      ? new PeriodError(`${previousPeriod(p).period} is not closed, and there was ${a!.ledger ? 'ledger activity' : 'an enabled terminal'} before ${p.first}: `
        + 'close the periods in order, from the first one with activity', 'order')
      : null;
  }
  return through === addDays(p.first, -1) ? null
    : new PeriodError(`close ${previousPeriod(p).period} first: periods close in order, and the last closed ends on ${through}`, 'order');
}

/** Moves the watermark to `p`'s last day, checking the order of closes under its lock; returns where it was. */
async function moveWatermark(pool: Pool, p: Period, timeZone: string): Promise<string> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const { rows: [w] } = await c.query<{ closed_through: string }>('SELECT closed_through FROM clearing_watermark FOR UPDATE');
    const through = w!.closed_through;
    const refusal = await orderRefusal(c, p, through, timeZone);
    if (refusal) throw refusal;
    await c.query('UPDATE clearing_watermark SET closed_through = $1', [p.last]);
    await c.query('COMMIT');
    return through;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

export interface PeriodStatus {
  period: string;
  state: 'closed' | 'open';
  closedAt: string | null;
  closedBy: string | null;
  run: { runId: number; provisional: boolean; startedAt: string; finishedAt: string; actor: string; asOf: string;
    params: ClearingParams; totals: Totals; control: ControlTotals; files: FileInfo[] } | null;
}

type RunRow = { run_id: number; period: string; provisional: boolean; started_at: Date; finished_at: Date; actor: string;
  params: ClearingParams; totals: Totals & { control: ControlTotals; asOf: string }; files: FileInfo[]; closed_at: Date | null; closed_by: string | null };

function toStatus(r: RunRow): PeriodStatus {
  const { control, asOf, ...totals } = r.totals;
  return {
    period: r.period, state: r.closed_at ? 'closed' : 'open', closedAt: r.closed_at?.toISOString() ?? null, closedBy: r.closed_by,
    run: { runId: r.run_id, provisional: r.provisional, startedAt: r.started_at.toISOString(), finishedAt: r.finished_at.toISOString(),
      actor: r.actor, asOf, params: r.params, totals, control, files: r.files },
  };
}

const runSelect = `SELECT r.*, p.closed_at, p.closed_by FROM clearing_runs r LEFT JOIN clearing_periods p ON p.run_id = r.run_id`;

/** A period's standing: closed with its closing run, or open with its latest run (null when never run). */
export async function periodStatus(pool: Pool, period: string): Promise<PeriodStatus> {
  const p = parsePeriod(period);
  const { rows } = await pool.query<RunRow>(
    `${runSelect} WHERE r.period = $1 ORDER BY (p.run_id IS NOT NULL) DESC, r.run_id DESC LIMIT 1`, [p.period]);
  return rows[0] ? toStatus(rows[0]) : { period: p.period, state: 'open', closedAt: null, closedBy: null, run: null };
}

/** Every period that has been run, newest first. */
export async function listPeriods(pool: Pool): Promise<PeriodStatus[]> {
  const { rows } = await pool.query<RunRow>(
    `SELECT DISTINCT ON (r.period) r.*, p.closed_at, p.closed_by FROM clearing_runs r LEFT JOIN clearing_periods p ON p.run_id = r.run_id
     ORDER BY r.period DESC, (p.run_id IS NOT NULL) DESC, r.run_id DESC`);
  return rows.map(toStatus);
}

/** The run whose rows a period's tables and files come from: its closing run, else its latest. */
export async function currentRunId(pool: Pool, period: string): Promise<number | null> {
  return (await periodStatus(pool, period)).run?.runId ?? null;
}

/**
 * The files of run `runId` again, from its stored rows, into `outDir` (null when there is no such run). A closed
 * period's closing run gives the bytes hashed at the close; an open period's latest run the bytes of that run.
 */
export async function runFiles(pool: Pool, runId: number, outDir: string): Promise<FileInfo[] | null> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: [r] } = await c.query<RunRow>(`${runSelect} WHERE r.run_id = $1`, [runId]);
    if (!r) return null;
    const p = parsePeriod(r.period);
    const { control, asOf, ...totals } = r.totals;
    const prepared = await prepareRunFiles(c, runId,
      { period: p.period, provisional: r.provisional, asOf, params: r.params, totals, control, daysInPeriod: p.days },
      path.resolve(outDir), { runId, runAt: r.started_at.toISOString(), actor: r.actor });
    await c.query('COMMIT');
    await prepared.place();
    return prepared.files;
  } finally {
    await c.query('ROLLBACK').catch(() => {});
    c.release();
  }
}

/**
 * A closed period's files again, from its closing run's stored rows, into `outDir`; checked against the hashes
 * recorded at the close.
 */
export async function periodFiles(pool: Pool, period: string, outDir: string): Promise<{ files: FileInfo[]; sameAsClosed: boolean }> {
  const p = parsePeriod(period);
  const closed = await closedInfo(pool, p.period);
  if (!closed) throw new PeriodError(`${p.period} is not closed: \`clearing run --period ${p.period} --out DIR\` writes its files`, 'not-ended');
  const files = (await runFiles(pool, closed.runId, outDir))!;
  return { files, sameAsClosed: sameFiles(files, closed.files) };
}
