// The report page in chromium (puppeteer-core): what it SHOWS, read from the DOM as text, against the data it was
// given: totals, the merchant table's pages, sorting over the whole data, the filter, the banners, a negative
// net payable, a name that is markup, the terminals, one chart bar per day, the hashes, print and a screenshot.
// No chromium is a failure that says how to install it, never a skip: CI installs it (.ci/run).
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import type { MerchantRow, ReportData } from '../../src/clearing/report.js';
import { owingMerchantId, reportFixture, scriptName, totalsOf, writeRunDir } from './support/report-fixture.js';
import {
  checkReportAgainstCsv, clickPager, clickSort, evalIn, findChromium, launchChromium, openReport, parsePoints, parseYuan,
  rowCountOf, screenshot, shownRows, status, textOf,
} from './support/page.js';

t.setTimeout(240_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-report-page-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const data = reportFixture();                                          // provisional, fee rate 1.20 %
const closed = reportFixture({ provisional: false, feeRateBp: 60 });   // closed, fee rate 0.60 %
const runDir = path.join(work, 'provisional'), closedDir = path.join(work, 'closed');
writeRunDir(runDir, data);
writeRunDir(closedDir, closed);

let browser: Browser;

/** Runs `use` on the page of a run directory in a new tab, then checks that it made no request and threw nothing. */
async function withPage(t: Test, dir: string, use: (page: Page) => Promise<void>): Promise<void> {
  const { page, requests, errors } = await openReport(browser, path.join(dir, 'report.html'));
  try {
    await use(page);
    t.same(requests, [], 'no request beyond the file');
    t.same(errors, [], 'no script error');
  } finally {
    await page.close();
  }
}

/** Replaces the filter's text as a person would, and waits until the table has been filtered by it. */
async function typeFilter(page: Page, section: string, text: string): Promise<void> {
  const before = await status(page, section);
  await page.click(`#${section} input.filter`);
  await page.keyboard.down('Control'); await page.keyboard.press('KeyA'); await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.type(`#${section} input.filter`, text);
  await page.waitForFunction(`document.querySelector('#${section} .status').textContent !== ${JSON.stringify(before)}`);
}

const merchantIdsShown = async (page: Page) => (await shownRows(page, 'merchants')).map((r) => r[0]);
const ids = (rows: MerchantRow[]) => rows.map((m) => m.merchantId);
/** The data sorted as the page sorts: by the value, ties in data order. */
function sortedBy(rows: MerchantRow[], key: keyof MerchantRow, dir: 1 | -1): MerchantRow[] {
  return rows.map((m, i) => ({ m, i })).sort((a, b) => (a.m[key] < b.m[key] ? -dir : a.m[key] > b.m[key] ? dir : a.i - b.i)).map((x) => x.m);
}

let chromium: string | Error;
try { chromium = findChromium(); } catch (e) { chromium = e as Error; }

if (chromium instanceof Error) {
  t.fail(chromium.message);
} else {
  t.comment(`chromium: ${chromium}`);
  browser = await launchChromium();
  try {
    await tests();
  } finally {
    await browser.close();
  }
}

async function tests(): Promise<void> {
  await t.test('the page shows the totals and every merchant as merchants.csv and summary.json have them', async (t) => {
    await checkReportAgainstCsv(t, runDir);
    await checkReportAgainstCsv(t, closedDir);
  });

  await t.test('amounts are yuan with 2 decimals and grouped digits; a negative net payable reads as owed by the merchant', async (t) => withPage(t, runDir, async (page) => {
    t.equal(await textOf(page, '[data-total="grossFen"]'), '1,255,737.54');
    t.equal(await textOf(page, '[data-total="purchasePoints"]'), '125,806,080');
    const owing = (await shownRows(page, 'merchants')).find((r) => r[0] === owingMerchantId)!;
    t.same([owing[10], owing[11], owing[14]], ['-1,234', '-12.34', 'owed by merchant ¥12.34']);
    t.equal(await evalIn(page, `document.querySelector('#merchants tbody tr:nth-child(3) td:last-child').className`), 'num owed', 'styled as owed');
    t.equal(await evalIn(page, `getComputedStyle(document.querySelector('#merchants tbody .owed')).color`), 'rgb(164, 0, 0)');
    t.equal((await shownRows(page, 'merchants'))[4]![12], '1.20 %; 1.15 %', 'a rate that changed in the month shows both');
  }));

  await t.test('a negative total net payable reads as owed by the merchants', async (t) => {
    const owing = reportFixture({ merchants: 3, terminals: 2 });
    owing.merchants = owing.merchants.map((m) => ({ ...m, refundPoints: m.refundPoints + m.netPoints + 100, netPoints: -100,
      grossFen: -100, feeFen: 0, netPayableFen: -100 }));
    owing.totals = totalsOf(owing.merchants, owing.terminals);
    const dir = path.join(work, 'owing');
    writeRunDir(dir, owing);
    await withPage(t, dir, async (page) => {
      t.equal(await textOf(page, '[data-total="netPayableFen"]'), 'owed by merchants ¥3.00');
      t.equal(await evalIn(page, `document.querySelector('[data-total="netPayableFen"]').className`), 'owed');
    });
    await checkReportAgainstCsv(t, dir);
  });

  await t.test('a provisional run says PROVISIONAL prominently, and warns of a fee rate above 1 %; a closed one does neither', async (t) => withPage(t, runDir, async (page) => {
    t.match(await textOf(page, '#provisional'), /^PROVISIONAL\b/);
    t.ok(await evalIn<number>(page, `parseFloat(getComputedStyle(document.getElementById('provisional')).fontSize)`) >= 20, 'in large type');
    t.match(await page.title(), /PROVISIONAL/);
    t.match(await textOf(page, '#fee-warning'), /1\.20 %, is above the 1 % limit/);
    await withPage(t, closedDir, async (shut) => {
      t.equal(await shut.$('#provisional'), null);
      t.equal(await shut.$('#fee-warning'), null);
      t.notMatch(await shut.title(), /PROVISIONAL/);
      t.equal(await textOf(shut, '[data-total="averageFeeRate"]'), '0.60');
    });
  }));

  await t.test('the merchant table shows 100 rows a page, with next, previous, first and last', async (t) => withPage(t, runDir, async (page) => {
    t.equal(await status(page, 'merchants'), 'Rows 1–100 of 250 merchants, page 1 of 3');
    t.same(await merchantIdsShown(page), ids(data.merchants.slice(0, 100)));
    t.equal(await evalIn(page, `document.querySelector('#merchants button.prev').disabled`), true, 'no previous page on the first');
    await clickPager(page, 'merchants', 'next');
    t.equal(await status(page, 'merchants'), 'Rows 101–200 of 250 merchants, page 2 of 3');
    t.same(await merchantIdsShown(page), ids(data.merchants.slice(100, 200)));
    await clickPager(page, 'merchants', 'last');
    t.same(await merchantIdsShown(page), ids(data.merchants.slice(200)));
    t.equal(await evalIn(page, `document.querySelector('#merchants button.next').disabled`), true, 'no next page on the last');
    await clickPager(page, 'merchants', 'prev');
    t.match(await status(page, 'merchants'), /page 2 of 3$/);
    await clickPager(page, 'merchants', 'first');
    t.match(await status(page, 'merchants'), /page 1 of 3$/);
  }));

  await t.test('clicking a header sorts the whole data by that column, and again the other way', async (t) => withPage(t, runDir, async (page) => {
    await clickSort(page, 'merchants', 'netPayableFen');
    t.equal(await evalIn(page, `document.querySelector('#merchants th[data-field="netPayableFen"]').getAttribute('aria-sort')`), 'ascending');
    t.same(await merchantIdsShown(page), ids(sortedBy(data.merchants, 'netPayableFen', 1).slice(0, 100)));
    t.equal((await merchantIdsShown(page))[0], owingMerchantId, 'the merchant that owes comes first');
    await clickSort(page, 'merchants', 'netPayableFen');
    const desc = sortedBy(data.merchants, 'netPayableFen', -1);
    t.same(await merchantIdsShown(page), ids(desc.slice(0, 100)));
    t.ok(data.merchants.indexOf(desc[0]!) >= 100, 'the largest is not on the unsorted first page: the sort is over all rows');
    const payables = (await shownRows(page, 'merchants')).map((r) => parseYuan(r[14]!));
    t.same(payables, [...payables].sort((a, b) => b - a), 'the shown amounts descend');
    await clickSort(page, 'merchants', 'merchantName');
    t.same(await merchantIdsShown(page), ids(sortedBy(data.merchants, 'merchantName', 1).slice(0, 100)), 'a text column sorts too');
    t.equal(await evalIn(page, `document.querySelector('#merchants th[data-field="netPayableFen"]').getAttribute('aria-sort')`), null);
  }));

  await t.test('the filter finds merchants by id or name; a name that is markup is shown as text', async (t) => withPage(t, runDir, async (page) => {
    await typeFilter(page, 'merchants', '/script');
    t.equal(await status(page, 'merchants'), 'Rows 1–1 of 1 merchants (filtered from 250), page 1 of 1');
    t.equal((await shownRows(page, 'merchants'))[0]![1], scriptName, 'the name is its own text');
    t.equal(await evalIn(page, `document.querySelectorAll('#merchants tbody b, body > b').length`), 0, 'no <b> element came of it');
    await typeFilter(page, 'merchants', 'm00012');
    t.equal(await status(page, 'merchants'), 'Rows 1–10 of 10 merchants (filtered from 250), page 1 of 1', 'ids match without regard to case');
    t.same(await merchantIdsShown(page), Array.from({ length: 10 }, (_, i) => `M00012${i}`));
    await typeFilter(page, 'merchants', 'shop 37 店');
    t.same(await merchantIdsShown(page), ids(data.merchants.filter((m) => m.merchantName === 'Shop 37 店')), 'and by name');
    await typeFilter(page, 'merchants', '');
    t.equal(await status(page, 'merchants'), 'Rows 1–100 of 250 merchants, page 1 of 3', 'an empty filter shows all again');
  }));

  await t.test('the terminal fees: their totals, and a paged, sortable table', async (t) => withPage(t, runDir, async (page) => {
    const total = async (k: string) => (await textOf(page, `#terminals [data-total="${k}"]`)) ?? '';
    t.equal(parsePoints(await total('terminals')), data.totals.terminals);
    t.equal(parsePoints(await total('terminalDays')), data.totals.terminalDays);
    t.equal(parseYuan(await total('terminalFeeFen')), data.totals.terminalFeeFen);
    t.equal(rowCountOf(await status(page, 'terminals')), 310);
    const shown = (await shownRows(page, 'terminals')).map((r) => ({ terminalId: r[0]!, merchantId: r[1]!, daysEnabled: parsePoints(r[2]!),
      daysInPeriod: parsePoints(r[3]!), feeFen: parseYuan(r[4]!) }));
    t.same(shown, data.terminals.slice(0, 100));
    await clickSort(page, 'terminals', 'feeFen');
    await clickSort(page, 'terminals', 'feeFen');
    const fees = (await shownRows(page, 'terminals')).map((r) => parseYuan(r[4]!));
    t.equal(fees[0], Math.max(...data.terminals.map((r) => r.feeFen)), 'the largest fee first');
    t.same(fees, [...fees].sort((a, b) => b - a));
  }));

  await t.test('the chart has one bar per business date, labelled in yuan, a negative day below the axis', async (t) => withPage(t, runDir, async (page) => {
    const bars = await evalIn<{ date: string; cls: string; title: string }[]>(page, `Array.from(document.querySelectorAll('#daily svg.chart rect.bar'))
      .map((b) => ({ date: b.dataset.date, cls: b.getAttribute('class'), title: b.textContent }))`);
    t.same(bars.map((b) => b.date), data.daily.map((d) => d.date));
    t.same(bars[6], { date: '2026-11-07', cls: 'bar neg', title: '2026-11-07: ¥-25.00, -2,500 points' });
    const ticks = await evalIn<string[]>(page, `Array.from(document.querySelectorAll('#daily .tick-y')).map((e) => e.textContent)`);
    t.ok(ticks.length >= 2, `y labels ${ticks.join(' ')}`);
    t.ok(ticks.every((s) => Number.isInteger(parseYuan(s))), 'every y label is yuan');
    t.equal(await evalIn(page, `document.querySelectorAll('#daily .tick-x').length`), data.daily.length, 'a date label under each bar');
    const top = Math.max(...data.daily.map((d) => d.valueFen));
    t.ok(parseYuan(ticks[ticks.length - 1]!) >= top, 'the axis reaches the highest day');
  }));

  await t.test('the files of the run with their rows and SHA-256, in monospace', async (t) => withPage(t, runDir, async (page) => {
    t.same(await shownRows(page, 'files'), data.files.map((f) => [f.name, String(f.rows), f.sha256]));
    t.match(await evalIn(page, `getComputedStyle(document.querySelector('#files td.hash')).fontFamily`), /mono/i);
  }));

  await t.test('the tables have a sticky header and right-aligned numbers; print drops the controls', async (t) => withPage(t, runDir, async (page) => {
    t.equal(await evalIn(page, `getComputedStyle(document.querySelector('#merchants th')).position`), 'sticky');
    t.equal(await evalIn(page, `getComputedStyle(document.querySelector('#merchants td.num')).textAlign`), 'right');
    await page.emulateMediaType('print');
    t.equal(await evalIn(page, `getComputedStyle(document.querySelector('#merchants .controls')).display`), 'none');
    t.ok((await page.pdf({ format: 'A4', landscape: true })).length > 1000, 'it prints to a PDF');
    await page.emulateMediaType(undefined);
    await screenshot(t, page, path.join(work, 'printed.png'));
  }));

  await t.test('a month of 100,000 merchants and 300,000 terminals opens, sorts and filters', async (t) => {
    const big = reportFixture({ merchants: 100_000, terminals: 300_000 });
    const dir = path.join(work, 'big');
    writeRunDir(dir, big);
    const started = Date.now();
    await withPage(t, dir, async (page) => {
      t.equal(await status(page, 'merchants'), 'Rows 1–100 of 100,000 merchants, page 1 of 1,000');
      t.equal(rowCountOf(await status(page, 'terminals')), 300_000);
      await clickSort(page, 'merchants', 'grossFen');
      await clickSort(page, 'merchants', 'grossFen');
      t.same(await merchantIdsShown(page), ids(sortedBy(big.merchants, 'grossFen', -1).slice(0, 100)));
      await typeFilter(page, 'merchants', 'M09999');
      const found = big.merchants.filter((m) => m.merchantId.startsWith('M09999'));
      t.same(await merchantIdsShown(page), ids(sortedBy(found, 'grossFen', -1)), 'the filtered rows keep the sort');
    });
    t.comment(`opened, sorted twice and filtered in ${Date.now() - started} ms`);
  });
}
