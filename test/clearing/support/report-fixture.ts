// A month of clearing data made up without a database, for the report page's tests: deterministic rows with the
// cases the page must show right (a negative net payable, a rate that changed, a name that is markup, big sums),
// and the run directory the lead's clearing writes (merchants.csv and summary.json beside report.html).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { renderReport, type MerchantRow, type ReportData } from '../../../src/clearing/report.js';

export interface FixtureOptions { merchants: number; terminals: number; provisional: boolean; feeRateBp: number }

export const scriptName = '</script><b>bold</b>';
/** The merchant whose refunds exceed its purchases: it owes 12.34 yuan. */
export const owingMerchantId = 'M000003';

export function reportFixture(o: Partial<FixtureOptions> = {}): ReportData {
  const { merchants: n = 250, terminals: tn = 310, provisional = true, feeRateBp = 120 } = o;
  const merchants: MerchantRow[] = [];
  for (let i = 1; i <= n; i++) {
    const purchasePoints = ((i * 7919) % 99_991) * 10 + 5_000;
    const voidPoints = (i * 31) % 700, refundPoints = (i * 17) % 900, reversalPoints = (i * 13) % 300;
    const netPoints = purchasePoints - voidPoints - refundPoints - reversalPoints;
    const feeRatesBp = i === 5 ? `${feeRateBp};${feeRateBp - 5}` : String(feeRateBp);
    const feeFen = Math.floor((netPoints * feeRateBp) / 10_000);
    merchants.push({
      merchantId: `M${String(i).padStart(6, '0')}`, merchantName: i === 2 ? scriptName : `Shop ${(i * 37) % 1000} 店`,
      purchaseCount: 10 + ((i * 7) % 90), purchasePoints, voidCount: (i * 3) % 5, voidPoints, refundCount: (i * 5) % 7, refundPoints,
      reversalCount: i % 3, reversalPoints, netPoints, grossFen: netPoints, feeRatesBp, feeFen, netPayableFen: netPoints - feeFen,
    });
  }
  const owing = merchants[2]!;
  Object.assign(owing, { purchaseCount: 0, purchasePoints: 0, voidCount: 0, voidPoints: 0, refundCount: 2, refundPoints: 1234,
    reversalCount: 0, reversalPoints: 0, netPoints: -1234, grossFen: -1234, feeFen: 0, netPayableFen: -1234 });
  const terminals = Array.from({ length: tn }, (_, i) => {
    const daysEnabled = 1 + ((i * 11) % 30);
    return { terminalId: `T${String(i + 1).padStart(7, '0')}`, merchantId: merchants[i % n]!.merchantId, daysEnabled, daysInPeriod: 30,
      feeFen: Math.floor((3000 * daysEnabled) / 30) };
  });
  const daily = Array.from({ length: 30 }, (_, i) => {
    const points = i === 6 ? -2_500 : 100_000 + ((i * 7_901) % 50_000);
    return { date: `2026-11-${String(i + 1).padStart(2, '0')}`, points, valueFen: points };
  });
  return {
    period: '2026-11', provisional, asOf: '2026-12-03T02:00:00.000Z', timeZone: 'Asia/Shanghai', totals: totalsOf(merchants, terminals),
    merchants, terminals, daily,
    files: ['merchants.csv', 'merchant-fees.csv', 'terminals.csv', 'summary.csv', 'summary.json'].map((name, i) => ({
      name, sha256: createHash('sha256').update(name).digest('hex'), rows: i * 100 })),
  };
}

/** The totals of these rows, as the clearing adds them up (the issuer owes the gross; the acquirer keeps the fees). */
export function totalsOf(merchants: MerchantRow[], terminals: ReportData['terminals']): ReportData['totals'] {
  const sum = (k: keyof MerchantRow) => merchants.reduce((s, m) => s + (m[k] as number), 0);
  const grossFen = sum('grossFen'), feeFen = sum('feeFen');
  const rateCentiPercent = grossFen === 0 ? 0 : Math.round((feeFen * 10_000) / grossFen);
  const terminalFeeFen = terminals.reduce((s, r) => s + r.feeFen, 0);
  return {
    merchants: merchants.length, purchaseCount: sum('purchaseCount'), purchasePoints: sum('purchasePoints'), voidCount: sum('voidCount'),
    voidPoints: sum('voidPoints'), refundCount: sum('refundCount'), refundPoints: sum('refundPoints'),
    reversalCount: sum('reversalCount'), reversalPoints: sum('reversalPoints'), netPoints: sum('netPoints'), grossFen, feeFen,
    netPayableFen: sum('netPayableFen'), terminals: terminals.length, terminalDays: terminals.reduce((s, r) => s + r.daysEnabled, 0),
    terminalFeeFen, issuerOwesFen: grossFen, acquirerRevenueFen: feeFen + terminalFeeFen,
    averageFeeRate: `${Math.floor(rateCentiPercent / 100)}.${String(rateCentiPercent % 100).padStart(2, '0')}`,
    averageFeeAboveLimit: rateCentiPercent > 100,
  };
}

export const merchantCsvColumns = ['period', 'merchant_id', 'merchant_name', 'purchase_count', 'purchase_points', 'void_count',
  'void_points', 'refund_count', 'refund_points', 'reversal_count', 'reversal_points', 'net_points', 'gross_fen', 'fee_rates_bp',
  'fee_fen', 'net_payable_fen'] as const;

/** The files of a run directory the report page is checked against, as the clearing writes them. */
export function writeRunDir(dir: string, d: ReportData): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'report.html'), renderReport(d));
  writeFileSync(path.join(dir, 'merchants.csv'), stringify(d.merchants.map((m) => [d.period, m.merchantId, m.merchantName,
    m.purchaseCount, m.purchasePoints, m.voidCount, m.voidPoints, m.refundCount, m.refundPoints, m.reversalCount, m.reversalPoints,
    m.netPoints, m.grossFen, m.feeRatesBp, m.feeFen, m.netPayableFen]), { header: true, columns: [...merchantCsvColumns] }));
  writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ period: d.period, provisional: d.provisional, totals: d.totals }, null, 2));
}
