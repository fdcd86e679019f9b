// A run's files, streamed from its stored rows (keyset pages, so memory does not grow with the rows) into a
// temporary directory beside the output one; manifest.json last, with each file's SHA-256; then the directory is
// renamed into place. The files hold nothing that differs between two runs of the same numbers (no run id, no run
// time: `asOf` is the period's closing time once it is closed), so a closed period's files come out byte-identical.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { PoolClient } from '../db/pool.js';
import type { ClearingParams, ControlTotals, Totals } from './compute.js';
import { renderReport, type MerchantRow, type ReportData } from './report.js';

export interface FileInfo { name: string; sha256: string; rows: number; bytes: number }

export interface RunHeader {
  period: string; provisional: boolean; asOf: string; params: ClearingParams; totals: Totals; control: ControlTotals;
  daysInPeriod: number;
}

export const merchantColumns = ['period', 'merchant_id', 'merchant_name', 'purchase_count', 'purchase_points', 'void_count', 'void_points',
  'refund_count', 'refund_points', 'reversal_count', 'reversal_points', 'net_points', 'gross_fen', 'fee_rates_bp', 'fee_fen', 'net_payable_fen'] as const;
export const feeLineColumns = ['period', 'merchant_id', 'fee_rate_bp', 'first_date', 'last_date', 'net_points', 'gross_fen', 'fee_fen'] as const;
export const terminalColumns = ['period', 'terminal_id', 'merchant_id', 'days_enabled', 'days_in_period', 'monthly_fee_fen', 'fee_fen'] as const;

const pageSize = 5000;

/** The totals in the one order every file lists them (a run's stored totals come back from jsonb in another). */
const totalKeys = ['merchants', 'purchaseCount', 'purchasePoints', 'voidCount', 'voidPoints', 'refundCount', 'refundPoints',
  'reversalCount', 'reversalPoints', 'netPoints', 'grossFen', 'feeFen', 'netPayableFen', 'terminals', 'terminalDays',
  'terminalFeeFen', 'issuerOwesFen', 'acquirerRevenueFen', 'averageFeeRate', 'averageFeeAboveLimit'] as const satisfies readonly (keyof Totals)[];
function inOrder(t: Totals): Totals {
  return Object.fromEntries(totalKeys.map((k) => [k, t[k]])) as unknown as Totals;
}
const paramsInOrder = (p: ClearingParams): ClearingParams => ({ timeZone: p.timeZone, graceDays: p.graceDays, terminalFeeFen: p.terminalFeeFen });

/** Every row of run `runId` in `table` (a clearing table: a constant of this file), ordered by `keys`, a page at a time. */
async function* rowsOf(c: PoolClient, table: 'clearing_merchants' | 'clearing_fee_lines' | 'clearing_terminals', runId: number,
  keys: string[]): AsyncGenerator<Record<string, string | number>> {
  let after: unknown[] | null = null;
  for (;;) {
    const where: string = after ? `AND (${keys.join(', ')}) > (${keys.map((_, i) => `$${i + 2}`).join(', ')})` : '';
    const { rows }: { rows: Record<string, string | number>[] } = await c.query<Record<string, string | number>>(
      `SELECT * FROM ${table} WHERE run_id = $1 ${where} ORDER BY ${keys.join(', ')} LIMIT ${pageSize}`, after ? [runId, ...after] : [runId]);
    yield* rows;
    if (rows.length < pageSize) return;
    const last: Record<string, string | number> = rows[rows.length - 1]!;
    after = keys.map((k: string): unknown => last[k]);
  }
}

async function writeCsv(file: string, columns: readonly string[], rows: AsyncIterable<unknown[]>): Promise<number> {
  let count = 0;
  const csv = stringify({ header: true, columns: columns as string[], eof: true, record_delimiter: 'unix', cast: { boolean: (b) => String(b) } });
  const source = (async function* () {
    for await (const r of rows) { count++; yield r; }
  })();
  await pipeline(source, csv, createWriteStream(file));
  return count;
}

async function sha256Of(file: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return { sha256: h.digest('hex'), bytes: (await stat(file)).size };
}

export interface PreparedFiles {
  files: FileInfo[];
  /** Renames the written directory into `outDir` (a directory there before is replaced). */
  place(): Promise<void>;
  /** Removes the written directory. */
  discard(): Promise<void>;
}

/**
 * Writes the files of `runId` into a temporary directory beside `outDir` and returns them with their hashes;
 * `manifest` adds the run's own facts (id, time) to manifest.json, which is not one of the hashed files. The caller
 * commits the run, then places the directory.
 */
export async function prepareRunFiles(c: PoolClient, runId: number, h: RunHeader, outDir: string,
  manifest: { runId: number; runAt: string; actor: string }): Promise<PreparedFiles> {
  const parent = path.dirname(path.resolve(outDir));
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(outDir)}.tmp-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const files: FileInfo[] = [];
    const done = async (name: string, rows: number) => { files.push({ name, rows, ...(await sha256Of(path.join(tmp, name))) }); };

    const merchants: MerchantRow[] = [];
    const mRows = await writeCsv(path.join(tmp, 'merchants.csv'), merchantColumns, (async function* () {
      for await (const r of rowsOf(c, 'clearing_merchants', runId, ['merchant_id'])) {
        {
          merchants.push({
            merchantId: String(r.merchant_id), merchantName: String(r.merchant_name), purchaseCount: Number(r.purchase_count),
            purchasePoints: Number(r.purchase_points), voidCount: Number(r.void_count), voidPoints: Number(r.void_points),
            refundCount: Number(r.refund_count), refundPoints: Number(r.refund_points), reversalCount: Number(r.reversal_count),
            reversalPoints: Number(r.reversal_points), netPoints: Number(r.net_points), grossFen: Number(r.gross_fen),
            feeRatesBp: String(r.fee_rates_bp), feeFen: Number(r.fee_fen), netPayableFen: Number(r.net_payable_fen),
          });
          yield merchantColumns.map((k) => (k === 'period' ? h.period : r[k]));
        }
      }
    })());
    await done('merchants.csv', mRows);

    const fRows = await writeCsv(path.join(tmp, 'merchant-fees.csv'), feeLineColumns, (async function* () {
      for await (const r of rowsOf(c, 'clearing_fee_lines', runId, ['merchant_id', 'fee_rate_bp'])) yield feeLineColumns.map((k) => (k === 'period' ? h.period : r[k]));
    })());
    await done('merchant-fees.csv', fRows);

    const terminals: ReportData['terminals'] = [];
    const tRows = await writeCsv(path.join(tmp, 'terminals.csv'), terminalColumns, (async function* () {
      for await (const r of rowsOf(c, 'clearing_terminals', runId, ['terminal_id'])) {
        {
          terminals.push({ terminalId: String(r.terminal_id), merchantId: String(r.merchant_id), daysEnabled: Number(r.days_enabled), daysInPeriod: h.daysInPeriod, feeFen: Number(r.fee_fen) });
          yield [h.period, r.terminal_id, r.merchant_id, r.days_enabled, h.daysInPeriod, h.params.terminalFeeFen, r.fee_fen];
        }
      }
    })());
    await done('terminals.csv', tRows);

    const { rows: days } = await c.query<{ business_date: string; net_points: number }>(
      'SELECT business_date, net_points FROM clearing_days WHERE run_id = $1 ORDER BY business_date', [runId]);
    const daily = days.map((d) => ({ date: d.business_date, points: Number(d.net_points), valueFen: Number(d.net_points) * 2 }));

    const summaryRows: [string, string | number | boolean][] = [
      ['period', h.period], ['provisional', h.provisional], ['as_of', h.asOf], ['time_zone', h.params.timeZone],
      ['terminal_monthly_fee_fen', h.params.terminalFeeFen],
      ...totalKeys.map((k) => [k.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`), h.totals[k]] as [string, string | number | boolean]),
    ];
    const sRows = await writeCsv(path.join(tmp, 'summary.csv'), ['item', 'value'], (async function* () { for (const r of summaryRows) yield r; })());
    await done('summary.csv', sRows);
    const summary = { period: h.period, provisional: h.provisional, asOf: h.asOf, params: paramsInOrder(h.params), totals: inOrder(h.totals), daily };
    await writeFile(path.join(tmp, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    await done('summary.json', 1);

    const report: ReportData = {
      period: h.period, provisional: h.provisional, asOf: h.asOf, timeZone: h.params.timeZone, totals: inOrder(h.totals),
      merchants, terminals, daily, files: files.map((f) => ({ name: f.name, sha256: f.sha256, rows: f.rows })),
    };
    await writeFile(path.join(tmp, 'report.html'), renderReport(report));
    await done('report.html', merchants.length);

    const m = {
      period: h.period, provisional: h.provisional, asOf: h.asOf, runId: manifest.runId, runAt: manifest.runAt, actor: manifest.actor,
      params: h.params, rowCounts: Object.fromEntries(files.map((f) => [f.name, f.rows])), controlTotals: h.control, totals: h.totals, files,
    };
    await writeFile(path.join(tmp, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);

    const discard = () => rm(tmp, { recursive: true, force: true });
    const place = async () => {
      // the old directory (a run before) aside, the new one in, the old one gone
      const old = `${tmp}.old`;
      const had = await stat(outDir).then(() => true, () => false);
      if (had) await rename(outDir, old);
      await rename(tmp, outDir);
      if (had) await rm(old, { recursive: true, force: true });
    };
    return { files, place, discard };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
