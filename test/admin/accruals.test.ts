// The accrual feed over real HTTP, Postgres and Redis: lines credited once per key, conflicts and bad lines named,
// a CSV streamed a chunk at a time with a result file for every line, and the ledger still auditing clean.
import t from 'tap';
import { audit } from '../../src/ledger/audit.js';
import { testEnv } from '../support/db.js';
import { balanceOf, seed, startSwitch } from '../switch/support/app.js';
import { TestTerminal } from '../switch/support/terminal.js';
import { adminCaller } from './support.js';

t.test('the accrual feed', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const billing = await adminCaller(app, 'billing');
  const operator = await adminCaller(app, 'operator');
  const card = '8860000000000003';

  await t.test('a JSON feed credits each good line once and names what is wrong with the others', async (t) => {
    const before = await balanceOf(app, card);
    const lines = [
      { key: 'bill-1', cardNo: card, points: 120 },
      { key: 'bill-2', cardNo: card, amountFen: 1999, qualifying: true },
      { key: 'bill-3', cardNo: '8869999999999999', points: 5 },
      { key: 'bill-4', cardNo: card, points: 5, amountFen: 500 },
      { key: 'bill-5', cardNo: card, amountFen: 99 },
      { key: 'bill-6', cardNo: '1234', points: 5 },
      { cardNo: card, points: 5 },
      { key: 'bill-8', cardNo: card, points: 5, colour: 'red' },
      { key: 'bill-1', cardNo: card, points: 120 },
      { key: 'bill-2', cardNo: card, amountFen: 2999 },
    ];
    const r = await billing('POST', '/accruals', { name: 'november billing', lines });
    t.equal(r.statusCode, 200, r.body);
    const out = r.json();
    t.same(out.lines.map((l: { outcome: string }) => l.outcome), [
      'credited', 'credited', 'unknown-card', 'bad-line', 'bad-line', 'bad-line', 'bad-line', 'bad-line', 'already-credited', 'conflict',
    ]);
    t.match(out.lines[3].reason, /either points or amount_fen/);
    t.match(out.lines[4].reason, /earns no whole point/);
    t.match(out.lines[5].reason, /12 to 19 digits/);
    t.match(out.lines[6].reason, /key/);
    t.match(out.lines[7].reason, /unknown field "colour"/);
    t.equal(out.lines[1].balanceAfter, before + 120 + 19, '1,999 fen at 1 point a yuan earns 19 points (rounded down)');
    t.same([out.feed.credited, out.feed.alreadyCredited, out.feed.conflicts, out.feed.badLines, out.feed.unknownCards, out.feed.lines, out.feed.pointsCredited],
      [2, 1, 1, 5, 1, 10, 139]);
    t.equal(await balanceOf(app, card), before + 139);

    const again = await billing('POST', '/accruals', { lines: lines.slice(0, 2) });
    t.same(again.json().lines.map((l: { outcome: string }) => l.outcome), ['already-credited', 'already-credited'], 'sent again: nothing twice');
    t.equal(await balanceOf(app, card), before + 139);
    t.equal((await operator('POST', '/accruals', { lines: lines.slice(0, 1) })).statusCode, 403, 'only billing feeds points');
    t.equal((await billing('POST', '/accruals', { lines: [], extra: 1 })).statusCode, 400);
    const huge = await billing('POST', '/accruals', { lines: Array.from({ length: 4000 }, (_, i) => ({ key: `huge-${i}`.padEnd(100, 'x'), cardNo: card, points: 1, qualifying: true, amountFen: undefined, padding: 'y'.repeat(200) })) });
    t.equal(huge.statusCode, 413, 'a JSON body over 1 MB is refused whole');
    t.equal(huge.json().type, 'about:blank#too-large');
  });

  await t.test('points credited are spendable at once: the cached balance moves with them', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort });
    t.teardown(() => term.close());
    await term.signOn();
    const spender = '8860000000000002';
    const bal = await term.send(term.balanceMessage(spender));
    t.equal(bal.fields[39], '00');
    const have = await balanceOf(app, spender);
    await billing('POST', '/accruals', { lines: [{ key: 'top-up', cardNo: spender, points: 100_000 }] });
    // 2,000 yuan at 50 points a yuan: 100,000 points, more than the card had before the top-up.
    const spend = Math.floor((have + 100_000) / 50) * 100;
    t.ok(spend / 2 > have, 'the purchase needs the credited points');
    t.equal((await term.send(term.purchaseMessage(spender, spend))).fields[39], '00', 'approved: no stale balance declined it');
  });

  await t.test('a CSV feed is streamed a chunk at a time, and its result file gives every line', async (t) => {
    const n = 7_500;
    const rows = ['key,card_no,points,amount_fen,qualifying'];
    for (let i = 1; i <= n; i++) rows.push(`csv-${i},886000000000000${1 + (i % 7)},${i % 13 === 0 ? '' : 3},${i % 13 === 0 ? 12345 : ''},${i % 2 === 0}`);
    rows.push('csv-bad,123,3,,');
    const body = `${rows.join('\n')}\n`;
    const before = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((k) => balanceOf(app, `886000000000000${k}`)));
    const r = await billing('POST', '/accruals/csv?name=big', undefined, { body, contentType: 'text/csv' });
    t.equal(r.statusCode, 200, r.body);
    const s = r.json();
    t.same([s.lines, s.credited, s.badLines, s.state], [n + 1, n, 1, 'done']);
    const expected = Array.from({ length: n }, (_, k) => k + 1).reduce((sum, i) => sum + (i % 13 === 0 ? 123 : 3), 0);
    t.equal(s.pointsCredited, expected);
    const after = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((k) => balanceOf(app, `886000000000000${k}`)));
    t.equal(after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0), expected, 'the balances moved by exactly the points credited');
    const result = await billing('GET', s.resultCsv);
    t.equal(result.statusCode, 200);
    t.match(result.headers['content-type'], /text\/csv/);
    const lines = result.body.trim().split('\n');
    t.equal(lines[0], 'line,key,card_no,points,outcome,reason');
    t.equal(lines.length, n + 2, 'one row a line, and the header');
    t.match(lines[1], /^2,csv-1,886000\*\*\*\*\*\*0002,3,credited,$/, 'card numbers masked in the file');
    t.match(lines[n + 1], /^7502,csv-bad,,,bad-line,card_no: a card number is 12 to 19 digits$/);
    const again = await billing('POST', '/accruals/csv', undefined, { body, contentType: 'text/csv' });
    t.same([again.json().credited, again.json().alreadyCredited], [0, n], 'the same file again credits nothing');
  });

  await t.test('a line the CSV parser cannot read is a bad line and the feed goes on; a bad header stops it', async (t) => {
    const body = 'key,card_no,points\nok-1,8860000000000004,10\nbad"quote,8860000000000004,10\nok-2,8860000000000004,10\n"broken,8860000000000004,10\n';
    const r = await billing('POST', '/accruals/csv', undefined, { body, contentType: 'text/csv' });
    t.equal(r.statusCode, 200, r.body);
    t.same([r.json().state, r.json().credited, r.json().badLines], ['done', 2, 2]);
    const result = (await billing('GET', r.json().resultCsv)).body.trim().split('\n');
    t.match(result[2], /^3,,,,bad-line,"unreadable CSV: Invalid Opening Quote/);
    t.match(result[4], /^5,,,,bad-line,"?unreadable CSV: Quote Not Closed/);
    const header = await billing('POST', '/accruals/csv', undefined, { body: 'key,card,points\nx,8860000000000004,1\n', contentType: 'text/csv' });
    t.equal(header.statusCode, 422);
    t.equal(header.json().state, 'failed');
    t.match(header.json().failure, /header must name key, card_no/);
  });

  await t.test('the ledger audits clean after the feeds', async (t) => {
    t.same((await audit(app.ledger.pool)).problems, []);
  });
});
