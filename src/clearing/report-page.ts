// The style and script inlined into report.html (see report.ts). The script is plain ES2020 kept as text: it
// runs in the browser, reads the JSON in #report-data and draws every section with textContent and DOM nodes,
// never innerHTML, so no value from the data is ever parsed as markup. Money is integer fen formatted by string
// arithmetic, never by division.

export const rowsPerPage = 100;
/** Filter input is applied this long after the last keystroke, so typing over 100,000 rows stays smooth. */
export const filterWaitMs = 150;

export const pageStyle = `
:root { color-scheme: light; --line: #c8ccd0; --head: #eef1f4; --owed: #a40000; --warn: #fff1c2; --warn-line: #b58900; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #111; margin: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
.banner { border: 3px solid var(--warn-line); background: var(--warn); padding: .6rem 1rem; margin: .75rem 0; font-weight: 600; }
.banner.provisional { font-size: 1.6rem; letter-spacing: .08em; border-color: var(--owed); color: var(--owed); background: #ffe9e9; }
dl.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .25rem 1.5rem; margin: 0; }
dl.totals div { display: flex; justify-content: space-between; border-bottom: 1px dotted var(--line); padding: .15rem 0; }
dl.totals dt { color: #444; } dl.totals dd { margin: 0 0 0 1rem; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .5rem 0; }
.controls input { font: inherit; padding: .2rem .4rem; min-width: 16rem; }
.controls button, th button { font: inherit; }
.scroll { max-height: 75vh; overflow: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .5rem; border-bottom: 1px solid #e3e6e9; white-space: nowrap; text-align: left; }
thead th { position: sticky; top: 0; background: var(--head); z-index: 1; border-bottom: 1px solid var(--line); }
th button { border: 0; background: none; padding: 0; cursor: pointer; font-weight: 600; text-align: inherit; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; } th[aria-sort="descending"] button::after { content: " \\25BC"; }
.num { text-align: right; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
tbody tr:nth-child(even) { background: #f8f9fa; }
.owed { color: var(--owed); font-weight: 600; }
.hash { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .9em; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg.chart .bar { fill: #3b6ea5; } svg.chart .bar.neg { fill: var(--owed); }
svg.chart .axis { stroke: #555; } svg.chart .grid { stroke: #e3e6e9; }
@media print {
  body { margin: 0; font-size: 11px; }
  .controls { display: none; }
  .scroll { max-height: none; overflow: visible; border: 0; }
  .banner { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  section { break-inside: avoid-page; }
}
`;

export const pageScript = `
(function () {
'use strict';
var ROWS_PER_PAGE = ${rowsPerPage}, FILTER_WAIT_MS = ${filterWaitMs};
var data = JSON.parse(document.getElementById('report-data').textContent);

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function groupDigits(digits) {
  var out = '';
  for (var end = digits.length; end > 0; end -= 3) out = digits.slice(Math.max(0, end - 3), end) + (out ? ',' + out : '');
  return out;
}
/** Points: an integer with thousands separators. */
function points(n) { return (n < 0 ? '-' : '') + groupDigits(String(Math.abs(n))); }
/** Yuan from integer fen, by moving the decimal point in the digits: -1234 -> "-12.34". */
function yuan(fen) {
  var digits = String(Math.abs(fen)).padStart(3, '0');
  return (fen < 0 ? '-' : '') + groupDigits(digits.slice(0, -2)) + '.' + digits.slice(-2);
}
/** Basis points as a percent: "60;55" -> "0.60 %; 0.55 %". */
function rates(bp) { return String(bp).split(';').map(function (r) { return yuan(Number(r)) + ' %'; }).join('; '); }
/** A net payable: negative is money the merchant (for a total, the merchants) owes, said in words. */
function payable(who) {
  return function (fen, cell) {
    if (fen < 0) { cell.classList.add('owed'); cell.textContent = 'owed by ' + who + ' \\u00a5' + yuan(-fen); }
    else cell.textContent = yuan(fen);
  };
}
var show = {
  text: function (v, cell) { cell.textContent = v; },
  count: function (v, cell) { cell.textContent = points(v); },
  fen: function (v, cell) { cell.textContent = yuan(v); },
  payable: payable('merchant'),
  payableTotal: payable('merchants'),
  rates: function (v, cell) { cell.textContent = rates(v); },
  hash: function (v, cell) { cell.classList.add('hash'); cell.textContent = v; },
};
function sortKey(kind, v) { return kind === 'rates' ? Number(String(v).split(';')[0]) : v; }

/** A table over all of rows (arrays of values): sorted over the whole array, filtered, shown a page at a time. */
function pagedTable(root, o) {
  var rows = o.rows, columns = o.columns, noun = o.noun;
  var view = rows.map(function (_, i) { return i; }), page = 0, sortCol = -1, sortDir = 1, timer = 0;
  var controls = el('div', { class: 'controls' });
  var filter = null;
  if (o.filterBy) {
    filter = el('input', { type: 'search', class: 'filter', 'aria-label': 'Filter ' + noun + ' by ' + o.filterLabel,
      placeholder: 'Filter by ' + o.filterLabel });
    filter.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(apply, FILTER_WAIT_MS); });
    controls.appendChild(filter);
  }
  var nav = {};
  ['first', 'prev', 'next', 'last'].forEach(function (name) {
    var b = el('button', { type: 'button', class: name }, { first: '\\u00ab First', prev: '\\u2039 Previous', next: 'Next \\u203a', last: 'Last \\u00bb' }[name]);
    b.addEventListener('click', function () {
      var last = Math.max(0, Math.ceil(view.length / ROWS_PER_PAGE) - 1);
      page = { first: 0, prev: Math.max(0, page - 1), next: Math.min(last, page + 1), last: last }[name];
      draw();
    });
    nav[name] = b;
    controls.appendChild(b);
  });
  var status = el('span', { class: 'status', role: 'status', 'aria-live': 'polite' });
  controls.appendChild(status);
  var table = el('table'), thead = el('thead'), tbody = el('tbody'), tr = el('tr');
  table.appendChild(el('caption', { class: 'visually-hidden' }, o.caption));
  var ths = columns.map(function (c, ci) {
    var th = el('th', { scope: 'col', 'data-field': c.field, class: c.kind === 'text' || c.kind === 'hash' ? '' : 'num' });
    var b = el('button', { type: 'button' }, c.label);
    b.addEventListener('click', function () { sortBy(ci); });
    th.appendChild(b);
    tr.appendChild(th);
    return th;
  });
  thead.appendChild(tr); table.appendChild(thead); table.appendChild(tbody);
  var scroll = el('div', { class: 'scroll' }); scroll.appendChild(table);
  root.appendChild(controls); root.appendChild(scroll);

  function compare(a, b) {
    var c = columns[sortCol], x = sortKey(c.kind, rows[a][c.at]), y = sortKey(c.kind, rows[b][c.at]);
    if (x < y) return -sortDir;
    if (x > y) return sortDir;
    return a - b;
  }
  function sortBy(ci) {
    sortDir = ci === sortCol ? -sortDir : 1;
    sortCol = ci;
    ths.forEach(function (th, i) { if (i === ci) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending'); else th.removeAttribute('aria-sort'); });
    view.sort(compare);
    page = 0;
    draw();
  }
  function apply() {
    var q = filter ? filter.value.trim().toLowerCase() : '';
    view = [];
    for (var i = 0; i < rows.length; i++) {
      if (!q || o.filterBy.some(function (at) { return String(rows[i][at]).toLowerCase().indexOf(q) >= 0; })) view.push(i);
    }
    if (sortCol >= 0) view.sort(compare);
    page = 0;
    draw();
  }
  function draw() {
    var from = page * ROWS_PER_PAGE, to = Math.min(view.length, from + ROWS_PER_PAGE), pages = Math.max(1, Math.ceil(view.length / ROWS_PER_PAGE));
    var body = el('tbody');
    for (var i = from; i < to; i++) {
      var row = rows[view[i]], r = el('tr');
      columns.forEach(function (c) {
        var td = el('td', { class: c.kind === 'text' || c.kind === 'hash' ? '' : 'num' });
        show[c.kind](row[c.at], td);
        r.appendChild(td);
      });
      body.appendChild(r);
    }
    table.replaceChild(body, tbody); tbody = body;
    status.textContent = (view.length === 0 ? 'No ' + noun : 'Rows ' + points(from + 1) + '\\u2013' + points(to) + ' of ' + points(view.length) + ' ' + noun) +
      (view.length !== rows.length ? ' (filtered from ' + points(rows.length) + ')' : '') + ', page ' + points(page + 1) + ' of ' + points(pages);
    nav.first.disabled = nav.prev.disabled = page === 0;
    nav.next.disabled = nav.last.disabled = page >= pages - 1;
  }
  draw();
}

/** Columns over a {fields, rows} block: [field, label, kind]. */
function columnsOf(block, spec) {
  return spec.map(function (s) { return { field: s[0], label: s[1], kind: s[2], at: block.fields.indexOf(s[0]) }; });
}

function totalsList(root, items) {
  var dl = el('dl', { class: 'totals' });
  items.forEach(function (it) {
    var v = data.totals[it[0]], div = el('div'), dd = el('dd', { 'data-total': it[0] });
    show[it[2]](v, dd);
    div.appendChild(el('dt', {}, it[1])); div.appendChild(dd); dl.appendChild(div);
  });
  root.appendChild(dl);
}

function header() {
  document.getElementById('as-of').textContent = 'As of ' + data.asOf + '; business dates in ' + data.timeZone + '.';
  var banners = document.getElementById('banners');
  if (data.provisional) {
    banners.appendChild(el('p', { class: 'banner provisional', id: 'provisional', role: 'alert' },
      'PROVISIONAL \\u2014 period ' + data.period + ' is not closed; these figures can still change.'));
  }
  if (data.totals.averageFeeAboveLimit) {
    banners.appendChild(el('p', { class: 'banner', id: 'fee-warning', role: 'alert' },
      'Warning: the average fee rate charged, ' + data.totals.averageFeeRate + ' %, is above the 1 % limit.'));
  }
}

function totals() {
  var root = document.getElementById('totals');
  totalsList(root, [
    ['merchants', 'Merchants', 'count'], ['purchaseCount', 'Purchases', 'count'], ['purchasePoints', 'Purchase points', 'count'],
    ['voidCount', 'Voids', 'count'], ['voidPoints', 'Void points', 'count'], ['refundCount', 'Refunds', 'count'],
    ['refundPoints', 'Refund points', 'count'], ['reversalCount', 'Reversals', 'count'], ['reversalPoints', 'Reversal points', 'count'],
    ['netPoints', 'Net points', 'count'], ['grossFen', 'Gross value (\\u00a5)', 'fen'], ['feeFen', 'Merchant fees (\\u00a5)', 'fen'],
    ['averageFeeRate', 'Average fee rate (%)', 'text'], ['netPayableFen', 'Net payable to merchants (\\u00a5)', 'payableTotal'],
    ['terminalFeeFen', 'Terminal fees (\\u00a5)', 'fen'], ['issuerOwesFen', 'Issuer owes (\\u00a5)', 'fen'],
    ['acquirerRevenueFen', 'Acquirer revenue (\\u00a5)', 'fen'],
  ]);
}

function merchants() {
  var block = data.merchants;
  var columns = columnsOf(block, [
    ['merchantId', 'Merchant', 'text'], ['merchantName', 'Name', 'text'], ['purchaseCount', 'Purchases', 'count'],
    ['purchasePoints', 'Purchase pts', 'count'], ['voidCount', 'Voids', 'count'], ['voidPoints', 'Void pts', 'count'],
    ['refundCount', 'Refunds', 'count'], ['refundPoints', 'Refund pts', 'count'], ['reversalCount', 'Reversals', 'count'],
    ['reversalPoints', 'Reversal pts', 'count'], ['netPoints', 'Net pts', 'count'], ['grossFen', 'Gross \\u00a5', 'fen'],
    ['feeRatesBp', 'Fee rate', 'rates'], ['feeFen', 'Fee \\u00a5', 'fen'], ['netPayableFen', 'Net payable \\u00a5', 'payable'],
  ]);
  pagedTable(document.getElementById('merchants'), { rows: block.rows, columns: columns, noun: 'merchants',
    caption: 'Merchants of ' + data.period, filterBy: [columns[0].at, columns[1].at], filterLabel: 'merchant id or name' });
}

function terminals() {
  var root = document.getElementById('terminals'), block = data.terminals;
  totalsList(root, [['terminals', 'Terminals', 'count'], ['terminalDays', 'Terminal-days', 'count'], ['terminalFeeFen', 'Terminal fees (\\u00a5)', 'fen']]);
  var columns = columnsOf(block, [
    ['terminalId', 'Terminal', 'text'], ['merchantId', 'Merchant', 'text'], ['daysEnabled', 'Days enabled', 'count'],
    ['daysInPeriod', 'Days in period', 'count'], ['feeFen', 'Fee \\u00a5', 'fen'],
  ]);
  pagedTable(root, { rows: block.rows, columns: columns, noun: 'terminals', caption: 'Terminal fees of ' + data.period,
    filterBy: [columns[0].at, columns[1].at], filterLabel: 'terminal or merchant id' });
}

/** A step of 1, 2 or 5 times a power of ten fen, so that about four steps cover span. */
function niceStep(span) {
  var step = 1;
  while (step * 4 < span) step = String(step)[0] === '2' ? step / 2 * 5 : step * 2;
  return step;
}

function chart() {
  var root = document.getElementById('daily'), days = data.daily;
  if (days.length === 0) { root.appendChild(el('p', {}, 'No redemptions in this period.')); return; }
  var NS = 'http://www.w3.org/2000/svg', W = 900, H = 300, left = 90, right = 10, top = 12, bottom = 48;
  function s(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  var hi = 0, lo = 0;
  days.forEach(function (d) { hi = Math.max(hi, d.valueFen); lo = Math.min(lo, d.valueFen); });
  var step = niceStep(Math.max(1, hi - lo));
  var yHi = Math.ceil(hi / step) * step, yLo = Math.floor(lo / step) * step;
  if (yHi === yLo) yHi = yLo + step;
  var y = function (fen) { return top + (yHi - fen) / (yHi - yLo) * (H - top - bottom); };
  var band = (W - left - right) / days.length;
  var svg = s('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img',
    'aria-label': 'Bar chart: net redeemed value in yuan for each of ' + days.length + ' business dates' });
  for (var t = yLo; t <= yHi; t += step) {
    svg.appendChild(s('line', { class: 'grid', x1: left, x2: W - right, y1: y(t), y2: y(t) }));
    svg.appendChild(s('text', { class: 'tick-y', x: left - 6, y: y(t) + 4, 'text-anchor': 'end' }, yuan(t)));
  }
  days.forEach(function (d, i) {
    var x = left + i * band, y0 = y(0), y1 = y(d.valueFen);
    var bar = s('rect', { class: d.valueFen < 0 ? 'bar neg' : 'bar', 'data-date': d.date, x: x + band * 0.15, width: band * 0.7,
      y: Math.min(y0, y1), height: Math.abs(y1 - y0) });
    bar.appendChild(s('title', {}, d.date + ': \\u00a5' + yuan(d.valueFen) + ', ' + points(d.points) + ' points'));
    svg.appendChild(bar);
    svg.appendChild(s('text', { class: 'tick-x', x: x + band / 2, y: H - bottom + 14, 'text-anchor': 'middle' }, d.date.slice(8)));
  });
  svg.appendChild(s('line', { class: 'axis', x1: left, x2: W - right, y1: y(0), y2: y(0) }));
  svg.appendChild(s('line', { class: 'axis', x1: left, x2: left, y1: top, y2: H - bottom }));
  svg.appendChild(s('text', { x: left + (W - left - right) / 2, y: H - 8, 'text-anchor': 'middle' },
    'Business date (day of month, ' + days[0].date.slice(0, 7) + (days[0].date.slice(0, 7) !== days[days.length - 1].date.slice(0, 7) ? ' to ' + days[days.length - 1].date.slice(0, 7) : '') + ')'));
  svg.appendChild(s('text', { x: 14, y: top + (H - top - bottom) / 2, 'text-anchor': 'middle',
    transform: 'rotate(-90 14 ' + (top + (H - top - bottom) / 2) + ')' }, 'Net redeemed value (\\u00a5)'));
  root.appendChild(svg);
  var details = el('details'); details.appendChild(el('summary', {}, 'The same values as a table'));
  root.appendChild(details);
  var block = { fields: ['date', 'points', 'valueFen'], rows: days.map(function (d) { return [d.date, d.points, d.valueFen]; }) };
  pagedTable(details, { rows: block.rows, noun: 'days', caption: 'Net redeemed per business date',
    columns: columnsOf(block, [['date', 'Business date', 'text'], ['points', 'Points', 'count'], ['valueFen', 'Value \\u00a5', 'fen']]) });
}

function files() {
  var block = { fields: ['name', 'rows', 'sha256'], rows: data.files.map(function (f) { return [f.name, f.rows, f.sha256]; }) };
  pagedTable(document.getElementById('files'), { rows: block.rows, noun: 'files', caption: 'Files of this run and their SHA-256',
    columns: columnsOf(block, [['name', 'File', 'text'], ['rows', 'Rows', 'count'], ['sha256', 'SHA-256', 'hash']]) });
}

header(); totals(); merchants(); terminals(); chart(); files();
document.body.setAttribute('data-ready', 'true');
})();
`;

if (/<\/script|<!--/i.test(pageScript)) throw new Error('report-page.ts: the page script must not contain </script or <!--');
