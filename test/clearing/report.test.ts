// The report file itself, without a browser: the same data give the same bytes, the data cannot break out of
// their <script>, the page can request nothing, and data that disagree with their own totals are refused.
// What the page shows is report-page.test.ts.
import t from 'tap';
import { renderReport, reportProblems, scriptJson, type ReportData } from '../../src/clearing/report.js';
import { reportFixture, scriptName } from './support/report-fixture.js';

const dataJsonOf = (html: string): string => {
  const m = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  if (!m) throw new Error('no #report-data in the page');
  return m[1]!;
};

/** The same data built with every object's keys in reverse order. */
function reversedKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(reversedKeys) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)])) as T;
  return v;
}

t.test('the same data give byte-identical pages, whatever the order of their keys', async (t) => {
  const a = renderReport(reportFixture());
  t.equal(renderReport(reportFixture()), a);
  t.equal(renderReport(reversedKeys(reportFixture())), a);
  t.not(renderReport(reportFixture({ provisional: false })), a, 'and different data a different page');
});

t.test('a merchant named </script> stays inside the JSON: no < in it, and it parses back to the name', async (t) => {
  const html = renderReport(reportFixture());
  const json = dataJsonOf(html);
  t.notOk(json.includes('<'), 'no < in the JSON at all');
  t.equal(html.match(/<\/script/gi)?.length, 2, 'only the two script elements close');
  const parsed = JSON.parse(json) as { merchants: { fields: string[]; rows: unknown[][] } };
  const at = parsed.merchants.fields.indexOf('merchantName');
  t.equal(parsed.merchants.rows[1]![at], scriptName);
  t.equal(scriptJson({ s: 'a\u2028b<!--' }), '{"s":"a\\u2028b\\u003c!--"}', 'line separators and <!-- are escaped too');
});

t.test('the page can request nothing: no src, href, url() or @import, and a policy that forbids requests', async (t) => {
  const html = renderReport(reportFixture());
  t.notMatch(html, /\s(src|href)=/i);
  t.notMatch(html, /url\(|@import/i);
  t.same([...new Set(html.match(/https?:\/\/[^'"\s]*/g))], ['http://www.w3.org/2000/svg'], 'the only address is the SVG namespace');
  t.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
});

t.test('data that disagree with their own totals are refused, naming what disagrees', async (t) => {
  const off = (change: (d: ReportData) => void): ReportData => { const d = reportFixture(); change(d); return d; };
  t.same(reportProblems(reportFixture()), []);
  t.same(reportProblems(off((d) => { d.totals.averageFeeRate = '-0.50'; })), [], 'a negative rate (fees given back) is a rate');
  t.throws(() => renderReport(off((d) => { d.totals.averageFeeRate = '0.5'; })), /averageFeeRate "0.5" is not a percent with 2 decimals/);
  t.throws(() => renderReport(off((d) => { d.merchants[0]!.feeFen += 1; })), /merchants' feeFen sum to \d+, totals say/);
  t.throws(() => renderReport(off((d) => { d.merchants.pop(); })), /249 merchant rows, totals say 250/);
  t.throws(() => renderReport(off((d) => { d.terminals[0]!.feeFen += 1; })), /terminals' fees sum/);
  t.throws(() => renderReport(off((d) => { d.daily[0]!.valueFen = 1.5; })), /daily\[0\]\.valueFen is 1.5, not an integer/);
  t.throws(() => renderReport(off((d) => { d.period = '2026-13'; })), /period "2026-13" is not YYYY-MM/);
  t.throws(() => renderReport(off((d) => { d.files[0]!.sha256 = 'abc'; })), /files\[0\]\.sha256/);
});

t.test('a month at the scale of a real one renders, as rows of values rather than objects', async (t) => {
  const html = renderReport(reportFixture({ merchants: 100_000, terminals: 300_000 }));
  t.ok(html.length < 25_000_000, `${html.length} characters for 100,000 merchants and 300,000 terminals`);
});
