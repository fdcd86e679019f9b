// GET /transactions and /transactions/{id} over the real switch: a purchase, its void, a partial refund and a
// reversal, found by card, RRN, merchant, terminal, kind, state and date, newest first and paged; one transaction's
// whole story with the ledger rows of each step.
import t from 'tap';
import { testEnv } from '../support/db.js';
import { seed, startSwitch } from '../switch/support/app.js';
import { TestTerminal } from '../switch/support/terminal.js';
import { adminCaller } from './support.js';

t.test('finding transactions', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const operator = await adminCaller(app, 'operator');
  const term = await TestTerminal.connect({ port: app.posPort });
  t.teardown(() => term.close());
  await term.signOn();
  const card = '8860000000000007';
  const buy = async (fen: number) => {
    const m = term.purchaseMessage(card, fen);
    const a = await term.send(m);
    t.equal(a.fields[39], '00');
    return { m, rrn: String(a.fields[37]), trace: String(m.fields[11]) };
  };
  const p1 = await buy(1000);
  const p2 = await buy(2000);
  const p3 = await buy(3000);
  t.equal((await term.send(term.voidMessage(card, 1000, { rrn: p1.rrn, trace: p1.trace }))).fields[39], '00');
  t.equal((await term.send(term.refundMessage(card, 500, { rrn: p2.rrn }))).fields[39], '00');
  t.equal((await term.send(term.reversalMessage(p3.m))).fields[39], '00');

  await t.test('by card: newest first, numbers masked, paged by cursor', async (t) => {
    const r = await operator('GET', `/transactions?cardNo=${card}&limit=3`);
    t.equal(r.statusCode, 200, r.body);
    const page = r.json();
    t.same(page.transactions.map((x: { kind: string }) => x.kind), ['refund', 'void', 'purchase']);
    t.ok(page.transactions.every((x: { cardNo: string }) => x.cardNo === '886000******0007'));
    t.notOk(r.body.includes(card), 'the full number is never answered');
    const next = (await operator('GET', `/transactions?cardNo=${card}&limit=3&before=${page.next}`)).json();
    t.equal(page.transactions[2].state, 'reversed', 'the third purchase, reversed');
    t.same(next.transactions.map((x: { kind: string; state: string }) => `${x.kind}:${x.state}`), ['purchase:partially_refunded', 'purchase:voided']);
    t.equal(next.next, null, 'the last page says so');
  });

  await t.test('by RRN, merchant, terminal, kind, state and dates', async (t) => {
    const byRrn = (await operator('GET', `/transactions?rrn=${p2.rrn}`)).json().transactions;
    t.same(byRrn.map((x: { rrn: string; state: string }) => [x.rrn, x.state]), [[p2.rrn, 'partially_refunded']]);
    const merchant = (await operator('GET', '/transactions?merchantId=898310048160001&kind=purchase')).json().transactions;
    t.equal(merchant.length, 3);
    t.equal((await operator('GET', `/transactions?terminalId=10000001&state=voided`)).json().transactions.length, 1);
    const today = merchant[0].businessDate as string;
    t.equal((await operator('GET', `/transactions?cardNo=${card}&from=${today}&to=${today}`)).json().transactions.length, 5);
    t.equal((await operator('GET', `/transactions?cardNo=${card}&to=2000-01-01`)).json().transactions.length, 0);
    const bad = await operator('GET', '/transactions?cardNo=12&colour=red');
    t.equal(bad.statusCode, 400);
    t.same((bad.json().errors as Array<{ field: string }>).map((e) => e.field).sort(), ['querystring', 'querystring.cardNo']);
  });

  await t.test('one transaction\'s story: the purchase, its refund, and the ledger rows of each', async (t) => {
    const refund = (await operator('GET', `/transactions?cardNo=${card}&kind=refund`)).json().transactions[0];
    const r = await operator('GET', `/transactions/${refund.id}`);
    t.equal(r.statusCode, 200, r.body);
    const story = r.json();
    t.equal(story.original.rrn, p2.rrn);
    t.same(story.related, [], 'no other step than this refund');
    t.same(story.postings.map((p: { kind: string; memberPoints: number }) => [p.kind, p.memberPoints]), [['purchase', -1000], ['refund', 250]]);
    const reversed = (await operator('GET', `/transactions?rrn=${p3.rrn}`)).json().transactions[0];
    const rev = (await operator('GET', `/transactions/${reversed.id}`)).json();
    t.equal(rev.reversed, true);
    t.same(rev.postings.map((p: { kind: string; memberPoints: number }) => [p.kind, p.memberPoints]), [['purchase', -1500], ['reversal', 1500]]);
    t.equal((await operator('GET', '/transactions/999999999')).statusCode, 404);
  });

  await t.test('billing may not read transactions; clearing and auditors may', async (t) => {
    t.equal((await (await adminCaller(app, 'billing'))('GET', '/transactions')).statusCode, 403);
    t.equal((await (await adminCaller(app, 'clearing'))('GET', '/transactions')).statusCode, 200);
    t.equal((await (await adminCaller(app, 'auditor'))('GET', '/transactions')).statusCode, 200);
  });
});
