// The clearing report page in a real browser: Debian's chromium driven by puppeteer-core. What the page SHOWS is
// read back from the DOM as text and parsed strictly (a yuan amount must look like "-1,234.56"), so a wrong
// format fails as surely as a wrong number. checkReportAgainstCsv compares a run directory's report.html with
// the merchants.csv and summary.json beside it; the e2e tests of the clearing call it on a real run.
// page.evaluate is given source text, not functions: tsx compiles functions with helpers (`__name`) that do
// not exist in the page.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { Test } from 'tap';
import { totalsFields, type ReportTotals } from '../../../src/clearing/report.js';
import { rowsPerPage } from '../../../src/clearing/report-page.js';

export const launchTimeoutMs = 30_000;
export const stepTimeoutMs = 15_000;
/** Up to this many pages of merchants are walked one by one; beyond it the first pages and the last are read. */
export const pagesWalkMax = 20;

/** The chromium to drive: $CHROMIUM_PATH, /usr/bin/chromium, or `chromium` on the PATH. Throws with the fix. */
export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist; unset it or run: apt-get install -y chromium`);
    return fromEnv;
  }
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no chromium found (CHROMIUM_PATH, /usr/bin/chromium, PATH): the report page tests need it; run: apt-get install -y chromium');
  }
}

export async function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: findChromium(), headless: true, timeout: launchTimeoutMs,
    // Root in a container: no user namespaces for the sandbox; /dev/shm is often tiny there.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
  });
}

/** Runs `use` with a browser that is closed whatever happens. */
export async function withChromium<T>(use: (b: Browser) => Promise<T>): Promise<T> {
  const browser = await launchChromium();
  try { return await use(browser); } finally { await browser.close(); }
}

export interface OpenedReport { page: Page; requests: string[]; errors: string[] }

/** Opens report.html from the disk; records any request that is not the file itself, and any script error. */
export async function openReport(browser: Browser, file: string): Promise<OpenedReport> {
  const page = await browser.newPage();
  page.setDefaultTimeout(stepTimeoutMs);
  await page.setViewport({ width: 1400, height: 1000 });
  const url = pathToFileURL(file).href;
  const requests: string[] = [], errors: string[] = [];
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (req.url() === url) void req.continue();
    else { requests.push(req.url()); void req.abort(); }
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]');
  return { page, requests, errors };
}

export async function evalIn<T>(page: Page, source: string): Promise<T> {
  return (await page.evaluate(source)) as T;
}

export const textOf = (page: Page, selector: string): Promise<string | null> =>
  evalIn(page, `(() => { const e = document.querySelector(${JSON.stringify(selector)}); return e && e.textContent; })()`);

/** The cells' text of the rows a section's table shows now. */
export const shownRows = (page: Page, section: string): Promise<string[][]> =>
  evalIn(page, `Array.from(document.querySelectorAll('#${section} > .scroll tbody tr')).map((r) => Array.from(r.cells).map((c) => c.textContent))`);

/** The shown totals by their field name (data-total), as text. */
export const shownTotals = (page: Page): Promise<Record<string, string>> =>
  evalIn(page, `Object.fromEntries(Array.from(document.querySelectorAll('#totals [data-total]')).map((e) => [e.dataset.total, e.textContent]))`);

export const status = async (page: Page, section: string): Promise<string> => (await textOf(page, `#${section} > .controls .status`)) ?? '';

/** "Rows 1–100 of 1,234 merchants …" -> 1234. */
export function rowCountOf(statusText: string): number {
  const m = /of ([\d,]+) [a-z]+/.exec(statusText);
  if (!m) throw new Error(`no row count in the status "${statusText}"`);
  return parsePoints(m[1]!);
}

export function parsePoints(s: string): number {
  if (!/^-?\d{1,3}(,\d{3})*$/.test(s)) throw new Error(`"${s}" is not an integer with thousands separators`);
  return Number(s.replace(/,/g, ''));
}

/** "1,234.56" -> 123456 fen; "owed by merchant ¥12.34" -> -1234. Exact: the digits are read, never divided. */
export function parseYuan(s: string): number {
  const owed = /^owed by merchants? ¥(.*)$/.exec(s);
  if (owed) return -parseYuan(owed[1]!);
  const m = /^(-?)(\d{1,3}(?:,\d{3})*)\.(\d{2})$/.exec(s);
  if (!m) throw new Error(`"${s}" is not yuan with 2 decimals`);
  return (m[1] ? -1 : 1) * (Number(m[2]!.replace(/,/g, '')) * 100 + Number(m[3]));
}

/** "1.20 %; 1.15 %" -> "120;115". */
export function parseRates(s: string): string {
  return s.split('; ').map((r) => {
    const m = /^(.*) %$/.exec(r);
    if (!m) throw new Error(`"${r}" is not a percent`);
    return String(parseYuan(m[1]!));
  }).join(';');
}

export const clickSort = (page: Page, section: string, field: string) => page.click(`#${section} th[data-field="${field}"] button`);
export const clickPager = (page: Page, section: string, which: 'first' | 'prev' | 'next' | 'last') =>
  page.click(`#${section} > .controls button.${which}`);

export type CsvMerchant = Record<string, string>;

/** A shown merchant row, read back into merchants.csv's columns and spelling. */
export function merchantRowAsCsv(period: string, cells: string[]): CsvMerchant {
  const [id, name, pc, pp, vc, vp, rc, rp, xc, xp, np, gross, rates, fee, payable] = cells as (string | undefined)[];
  const n = (s: string | undefined) => String(parsePoints(s ?? '?'));
  const y = (s: string | undefined) => String(parseYuan(s ?? '?'));
  return { period, merchant_id: id ?? '', merchant_name: name ?? '', purchase_count: n(pc), purchase_points: n(pp), void_count: n(vc),
    void_points: n(vp), refund_count: n(rc), refund_points: n(rp), reversal_count: n(xc), reversal_points: n(xp), net_points: n(np),
    gross_fen: y(gross), fee_rates_bp: parseRates(rates ?? '?'), fee_fen: y(fee), net_payable_fen: y(payable) };
}

const totalKinds: Record<keyof ReportTotals, 'count' | 'fen' | 'text' | 'flag'> = {
  merchants: 'count', purchaseCount: 'count', purchasePoints: 'count', voidCount: 'count', voidPoints: 'count', refundCount: 'count',
  refundPoints: 'count', reversalCount: 'count', reversalPoints: 'count', netPoints: 'count', grossFen: 'fen', feeFen: 'fen',
  netPayableFen: 'fen', terminals: 'count', terminalDays: 'count', terminalFeeFen: 'fen', issuerOwesFen: 'fen',
  acquirerRevenueFen: 'fen', averageFeeRate: 'text', averageFeeAboveLimit: 'flag',
};

/** Each total the page shows (the Totals section and the terminal totals), read back to its value. */
export async function shownTotalValues(page: Page): Promise<Partial<Record<keyof ReportTotals, string | number>>> {
  const shown: Record<string, string> = await evalIn(page,
    `Object.fromEntries(Array.from(document.querySelectorAll('[data-total]')).map((e) => [e.dataset.total, e.textContent]))`);
  const out: Partial<Record<keyof ReportTotals, string | number>> = {};
  for (const [k, text] of Object.entries(shown)) {
    const kind = totalKinds[k as keyof ReportTotals];
    out[k as keyof ReportTotals] = kind === 'count' ? parsePoints(text) : kind === 'fen' ? parseYuan(text) : text;
  }
  return out;
}

/** A PNG of the whole page to file; checks that it is a PNG of some size. */
export async function screenshot(t: Test, page: Page, file: string): Promise<void> {
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  const bytes = readFileSync(file);
  t.ok(bytes.length > 1000, `the screenshot ${file} has ${bytes.length} bytes`);
  t.same([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the screenshot is a PNG');
}

/** Merchants sorted as the page sorts a text column: by code unit, then in file order. */
const byMerchantId = (a: CsvMerchant, b: CsvMerchant) => (a.merchant_id! < b.merchant_id! ? -1 : a.merchant_id! > b.merchant_id! ? 1 : 0);

/**
 * Opens dir/report.html and checks what it shows against dir/merchants.csv and dir/summary.json: the period, the
 * provisional banner and fee warning (present exactly when the summary says so), every total, the merchant count,
 * and the merchant table sorted by id (every page when there are at most pagesWalkMax, else the first and last).
 * The screenshot goes beside dir (dir + ".report.png"), never into it: the run's files are the manifest's.
 */
export async function checkReportAgainstCsv(t: Test, dir: string): Promise<void> {
  const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { period: string; provisional: boolean; totals: ReportTotals };
  const csv = (parse(readFileSync(path.join(dir, 'merchants.csv')), { columns: true, skip_empty_lines: true }) as CsvMerchant[]).sort(byMerchantId);
  await withChromium(async (browser) => {
    const { page, requests, errors } = await openReport(browser, path.join(dir, 'report.html'));
    t.match(await textOf(page, 'h1'), summary.period, 'the heading names the period');
    t.equal(await page.$('#provisional') !== null, summary.provisional, `a PROVISIONAL banner exactly when the run is provisional (${summary.provisional})`);
    t.equal(await page.$('#fee-warning') !== null, summary.totals.averageFeeAboveLimit, 'the fee warning exactly when the average fee rate is above the limit');
    const shown = await shownTotalValues(page);
    for (const k of totalsFields) {
      if (k !== 'averageFeeAboveLimit') t.equal(shown[k], summary.totals[k], `total ${k} shown as in summary.json`);
    }
    t.equal(rowCountOf(await status(page, 'merchants')), csv.length, 'the merchant count is the rows of merchants.csv');
    await clickSort(page, 'merchants', 'merchantId');
    const pages = Math.ceil(csv.length / rowsPerPage);
    const check = async (p: number) => {
      const rows = (await shownRows(page, 'merchants')).map((cells) => merchantRowAsCsv(summary.period, cells));
      t.same(rows, csv.slice(p * rowsPerPage, (p + 1) * rowsPerPage), `merchants page ${p + 1} of ${pages}, sorted by id, shown as in merchants.csv`);
    };
    for (let p = 0; p < Math.min(pages, pagesWalkMax); p++) {
      if (p > 0) await clickPager(page, 'merchants', 'next');
      await check(p);
    }
    if (pages > pagesWalkMax) { await clickPager(page, 'merchants', 'last'); await check(pages - 1); }
    await screenshot(t, page, `${dir.replace(/\/+$/, '')}.report.png`);
    t.same(requests, [], 'the page made no request beyond its own file');
    t.same(errors, [], 'no script errors');
  });
}
