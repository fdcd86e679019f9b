// report.html, the clearing run's page for clearing staff: one self-contained file that opens from the disk
// (inline CSS and JS, no request of any kind). It shows the period and `asOf`, a PROVISIONAL banner for an open
// period, a warning when the average fee rate charged is above 1 %, the totals, the merchants (sortable by any
// column, filtered by id or name, 100 rows a page), the terminals (their totals and a paged table), a bar chart
// of the net redeemed value per business date, and the hashes of the run's files. Amounts are integer fen shown
// as yuan by string arithmetic (-1234 -> "-12.34"); a negative net payable reads "owed by merchant ¥12.34".
// The data travel as JSON in <script type="application/json"> with every `<` escaped, and the page's script
// (report-page.ts) renders them with textContent, so a merchant named `</script>` stays text. Rows travel as
// arrays of values, not objects, so a month of 100,000 merchants and 300,000 terminals stays a loadable file.
// The same data give the same bytes. Tests: report.test.ts (the file), report-page.test.ts (the page in chromium).
import { pageScript, pageStyle } from './report-page.js';

export interface ReportData {
  period: string; provisional: boolean; asOf: string /* ISO instant */; timeZone: string;
  totals: { merchants: number; purchaseCount: number; purchasePoints: number; voidCount: number; voidPoints: number;
    refundCount: number; refundPoints: number; reversalCount: number; reversalPoints: number; netPoints: number;
    grossFen: number; feeFen: number; netPayableFen: number; terminals: number; terminalDays: number;
    terminalFeeFen: number; issuerOwesFen: number; acquirerRevenueFen: number;
    averageFeeRate: string /* percent, e.g. "0.83" */; averageFeeAboveLimit: boolean };
  merchants: MerchantRow[];   // same fields as merchants.csv, camelCase, numbers
  terminals: { terminalId: string; merchantId: string; daysEnabled: number; daysInPeriod: number; feeFen: number }[];
  daily: { date: string /* YYYY-MM-DD */; points: number; valueFen: number }[]; // net redeemed per business date
  files: { name: string; sha256: string; rows: number }[];
}

export interface MerchantRow { merchantId: string; merchantName: string; purchaseCount: number; purchasePoints: number;
  voidCount: number; voidPoints: number; refundCount: number; refundPoints: number; reversalCount: number;
  reversalPoints: number; netPoints: number; grossFen: number; feeRatesBp: string; feeFen: number; netPayableFen: number }

export type ReportTotals = ReportData['totals'];
export type TerminalRow = ReportData['terminals'][number];

/** More rows than these make a page no browser opens comfortably; the run is refused instead. */
export const reportMerchantsMax = 1_000_000;
export const reportTerminalsMax = 3_000_000;

/** The order the fields travel in, fixed here so that key order in the caller's objects cannot change the bytes. */
export const merchantFields = ['merchantId', 'merchantName', 'purchaseCount', 'purchasePoints', 'voidCount', 'voidPoints',
  'refundCount', 'refundPoints', 'reversalCount', 'reversalPoints', 'netPoints', 'grossFen', 'feeRatesBp', 'feeFen',
  'netPayableFen'] as const satisfies readonly (keyof MerchantRow)[];
export const terminalFields = ['terminalId', 'merchantId', 'daysEnabled', 'daysInPeriod', 'feeFen'] as const satisfies
  readonly (keyof TerminalRow)[];
export const totalsFields = ['merchants', 'purchaseCount', 'purchasePoints', 'voidCount', 'voidPoints', 'refundCount',
  'refundPoints', 'reversalCount', 'reversalPoints', 'netPoints', 'grossFen', 'feeFen', 'netPayableFen', 'terminals',
  'terminalDays', 'terminalFeeFen', 'issuerOwesFen', 'acquirerRevenueFen', 'averageFeeRate', 'averageFeeAboveLimit',
] as const satisfies readonly (keyof ReportTotals)[];

/** Merchant columns that are sums: the totals must equal the column's sum (a control total, as in the files). */
const summedMerchantFields = ['purchaseCount', 'purchasePoints', 'voidCount', 'voidPoints', 'refundCount', 'refundPoints',
  'reversalCount', 'reversalPoints', 'netPoints', 'grossFen', 'feeFen', 'netPayableFen'] as const;

/** What is wrong with the data, one sentence each; empty when the page may be written. */
export function reportProblems(d: ReportData): string[] {
  const problems: string[] = [];
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(d.period)) problems.push(`period ${JSON.stringify(d.period)} is not YYYY-MM`);
  if (Number.isNaN(Date.parse(d.asOf))) problems.push(`asOf ${JSON.stringify(d.asOf)} is not an instant`);
  if (!/^-?\d+\.\d{2}$/.test(d.totals.averageFeeRate)) problems.push(`averageFeeRate ${JSON.stringify(d.totals.averageFeeRate)} is not a percent with 2 decimals`);
  for (const k of totalsFields) {
    const v = d.totals[k];
    if (typeof v === 'number' && !Number.isSafeInteger(v)) problems.push(`totals.${k} is ${v}, not an integer`);
  }
  if (d.merchants.length > reportMerchantsMax) problems.push(`${d.merchants.length} merchants, more than ${reportMerchantsMax}`);
  if (d.terminals.length > reportTerminalsMax) problems.push(`${d.terminals.length} terminals, more than ${reportTerminalsMax}`);
  if (d.merchants.length !== d.totals.merchants) problems.push(`${d.merchants.length} merchant rows, totals say ${d.totals.merchants}`);
  if (d.terminals.length !== d.totals.terminals) problems.push(`${d.terminals.length} terminal rows, totals say ${d.totals.terminals}`);
  for (const k of summedMerchantFields) {
    let sum = 0;
    for (const m of d.merchants) sum += m[k];
    if (!Number.isSafeInteger(sum) || sum !== d.totals[k]) problems.push(`merchants' ${k} sum to ${sum}, totals say ${d.totals[k]}`);
  }
  let terminalFeeFen = 0;
  let terminalDays = 0;
  for (const r of d.terminals) { terminalFeeFen += r.feeFen; terminalDays += r.daysEnabled; }
  if (terminalFeeFen !== d.totals.terminalFeeFen) problems.push(`terminals' fees sum to ${terminalFeeFen}, totals say ${d.totals.terminalFeeFen}`);
  if (terminalDays !== d.totals.terminalDays) problems.push(`terminals' days sum to ${terminalDays}, totals say ${d.totals.terminalDays}`);
  const notInteger = (where: string, v: number) => { if (!Number.isSafeInteger(v)) problems.push(`${where} is ${v}, not an integer`); };
  d.merchants.forEach((m, i) => { for (const k of merchantFields) { const v = m[k]; if (typeof v === 'number') notInteger(`merchants[${i}].${k}`, v); } });
  d.terminals.forEach((r, i) => { for (const k of terminalFields) { const v = r[k]; if (typeof v === 'number') notInteger(`terminals[${i}].${k}`, v); } });
  d.daily.forEach((x, i) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(x.date)) problems.push(`daily[${i}].date ${JSON.stringify(x.date)} is not YYYY-MM-DD`);
    notInteger(`daily[${i}].points`, x.points);
    notInteger(`daily[${i}].valueFen`, x.valueFen);
  });
  d.files.forEach((f, i) => { if (!/^[0-9a-f]{64}$/.test(f.sha256)) problems.push(`files[${i}].sha256 is not a SHA-256 in hex`); });
  return problems.slice(0, 20);
}

/** JSON that is safe inside <script>: no `<` at all, so neither `</script>` nor `<!--` can appear. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The page's data: fields in a fixed order, rows as arrays of values (the column names travel once). */
function payload(d: ReportData): unknown {
  return {
    period: d.period, provisional: d.provisional, asOf: d.asOf, timeZone: d.timeZone,
    totals: Object.fromEntries(totalsFields.map((k) => [k, d.totals[k]])),
    merchants: { fields: merchantFields, rows: d.merchants.map((m) => merchantFields.map((k) => m[k])) },
    terminals: { fields: terminalFields, rows: d.terminals.map((r) => terminalFields.map((k) => r[k])) },
    daily: d.daily.map((x) => ({ date: x.date, points: x.points, valueFen: x.valueFen })),
    files: d.files.map((f) => ({ name: f.name, sha256: f.sha256, rows: f.rows })),
  };
}

export function renderReport(d: ReportData): string {
  const problems = reportProblems(d);
  if (problems.length > 0) throw new Error(`clearing report for ${d.period}: ${problems.join('; ')}`);
  const title = `Clearing ${d.period}${d.provisional ? ' (PROVISIONAL)' : ''}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${pageStyle}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p id="as-of"></p>
<div id="banners"></div>
<noscript><p class="banner">This page draws its tables with JavaScript; the same figures are in the run's CSV files.</p></noscript>
</header>
<main>
<section id="totals" aria-labelledby="totals-h"><h2 id="totals-h">Totals</h2></section>
<section id="merchants" aria-labelledby="merchants-h"><h2 id="merchants-h">Merchants</h2></section>
<section id="terminals" aria-labelledby="terminals-h"><h2 id="terminals-h">Terminal fees</h2></section>
<section id="daily" aria-labelledby="daily-h"><h2 id="daily-h">Net redeemed value per business date</h2></section>
<section id="files" aria-labelledby="files-h"><h2 id="files-h">Files of this run</h2></section>
</main>
<script type="application/json" id="report-data">${scriptJson(payload(d))}</script>
<script>${pageScript}</script>
</body>
</html>
`;
}
