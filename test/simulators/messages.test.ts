// The pure parts of the simulator: request builders, amounts, balance field, load maths, scenario format.
import t from 'tap';
import { decode, encode, encodeWithMac, parseField60, parseField61, verifyMac } from '../../protocol/index.js';
import { pointsFor } from '../../src/ledger/points.js';
import { yuanToFen, fenToYuan, loadCardNo, loadTerminalId } from '../../simulators/demo.js';
import { atRate, parseMix, parseRate, summarise } from '../../simulators/load.js';
import * as m from '../../simulators/messages.js';
import { parseScenario } from '../../simulators/scenario.js';

const ctx = { terminalId: '10000001', merchantId: '898310048160001', trace: '000042', batchNo: '000007', acquirerId: '48160000' };
const card = { cardNo: '8860000000000002', expiry: '3012' };
const original = { rrn: '000000000123', authCode: 'A1B2C3', batchNo: '000006', trace: '000017', date: '1122' };

function roundTrip(msg: ReturnType<typeof m.purchase>) {
  const body = encodeWithMac(msg, 'ecb', Buffer.alloc(16, 0x22));
  const d = decode(body);
  if (!d.ok) throw new Error(d.error.message);
  return { body, msg: d.message };
}

t.test('each request of the POS set has the MTI, processing code and 60.1 of the profile and decodes as sent', async (t) => {
  const cases: Array<[string, ReturnType<typeof m.purchase>, string, string | undefined, string]> = [
    ['sign-on', m.signOn(ctx), '0800', undefined, '00'],
    ['sign-off', m.signOff(ctx), '0820', undefined, '00'],
    ['balance', m.balance(ctx, card), '0200', '310000', '01'],
    ['purchase', m.purchase(ctx, card, 1234), '0200', '000000', '22'],
    ['void', m.voidPurchase(ctx, card, 1234, original), '0200', '200000', '23'],
    ['refund', m.refund(ctx, card, 500, original), '0220', '200000', '25'],
    ['batch-close', m.batchClose(ctx, { debitFen: 1234, debitCount: 1, creditFen: 0, creditCount: 0 }), '0500', undefined, '00'],
    ['upload', m.upload(ctx, card.cardNo, 1234, { trace: '000017', rrn: original.rrn, kind: 'purchase' }), '0320', '000000', '00'],
  ];
  for (const [name, msg, mti, pc, txnType] of cases) {
    const { body, msg: d } = roundTrip(msg);
    t.equal(d.mti, mti, `${name}: MTI`);
    t.equal(d.fields[3], pc, `${name}: processing code`);
    const f60 = parseField60(String(d.fields[60]));
    t.equal(f60.txnType, txnType, `${name}: 60.1`);
    t.equal(f60.batchNo, '000007', `${name}: 60.2 is the terminal's batch`);
    t.equal(d.fields[11], '000042', `${name}: trace`);
    t.equal(d.fields[41], '10000001');
    t.ok(verifyMac(body, 'ecb', Buffer.alloc(16, 0x22)), `${name}: MAC verifies`);
  }
  t.equal(parseField60(String(m.signOn(ctx).fields[60])).netMgmtCode, '003', 'sign-on asks for double-length keys');
  t.equal(parseField60(String(m.batchClose(ctx, { debitFen: 0, debitCount: 0, creditFen: 0, creditCount: 0 }).fields[60])).netMgmtCode, '201');
});

t.test('a void and a refund name their original in 37 and 61', async (t) => {
  const v = roundTrip(m.voidPurchase(ctx, card, 1234, original)).msg;
  t.equal(v.fields[37], original.rrn);
  t.equal(v.fields[38], original.authCode);
  t.same(parseField61(String(v.fields[61])), { batchNo: '000006', trace: '000017', rest: '' });
  const r = roundTrip(m.refund(ctx, card, 500, original)).msg;
  t.equal(r.fields[4], '000000000500');
  t.equal(parseField61(String(r.fields[61])).date, '1122');
  const byRrn = m.refund(ctx, card, 500, { rrn: original.rrn });
  t.equal(byRrn.fields[61], undefined, 'a refund of another terminal\'s purchase names it by RRN only');
});

t.test('a PIN block sets entry mode 021 and fields 26, 52 and 53; without one the entry mode is 022', async (t) => {
  const withPin = m.purchase(ctx, { ...card, pinBlock: Buffer.alloc(8, 7) }, 100);
  t.equal(withPin.fields[22], '021');
  t.ok(Buffer.isBuffer(withPin.fields[52]));
  t.equal(withPin.fields[26], '06');
  const noPin = m.purchase(ctx, card, 100);
  t.equal(noPin.fields[22], '022');
  t.equal(noPin.fields[52], undefined);
  t.equal(noPin.fields[35], '8860000000000002D3012101', 'track 2 carries PAN, separator and expiry');
});

t.test('a reversal carries the fields of the request it reverses, 39 = 98, and no PIN data', async (t) => {
  const p = m.purchase(ctx, { ...card, pinBlock: Buffer.alloc(8, 7) }, 1234);
  const r = m.reversal(p);
  t.equal(r.mti, '0400');
  t.equal(r.fields[39], '98');
  for (const f of [2, 3, 4, 11, 14, 22, 25, 35, 41, 42, 49, 60]) t.same(r.fields[f], p.fields[f], `field ${f} as in the original`);
  for (const f of [26, 52, 53, 64]) t.equal(r.fields[f], undefined, `no field ${f}`);
  t.ok(decode(encode(r)).ok);
});

t.test('amounts: yuan to fen is exact and refuses what is not an amount', async (t) => {
  t.equal(yuanToFen('12'), 1200);
  t.equal(yuanToFen('12.5'), 1250);
  t.equal(yuanToFen('0.07'), 7);
  t.equal(yuanToFen('20.01'), 2001);
  for (const bad of ['', '-1', '1.234', 'abc', '1e3']) t.throws(() => yuanToFen(bad), `refuses ${JSON.stringify(bad)}`);
  t.equal(fenToYuan(2001), '20.01');
  t.throws(() => m.amountField(-1));
  t.equal(m.amountField(1234), '000000001234');
});

t.test('points are rounded up to the whole point (the ledger\'s rule, which the simulator no longer copies), and load names follow the seed', async (t) => {
  t.equal(pointsFor(2001, 50), 1001);
  t.equal(pointsFor(1, 45), 1);
  t.equal(pointsFor(1000, 45), 450);
  t.equal(loadTerminalId(1), '90000001');
  t.equal(loadCardNo(1), '8861000000000001');
  t.equal(loadCardNo(10000), '8861000000010000');
});

t.test('the load accepts a purchase\'s points when they are its amount at the rate to the whole point, either way rounded', async (t) => {
  t.ok(atRate(1001, 2001, 50), '1000.5 rounded up');
  t.ok(atRate(1000, 2001, 50), '1000.5 rounded down');
  t.ok(atRate(450, 1000, 45), 'exact');
  t.ok(atRate(1, 1, 45));
  t.notOk(atRate(2002, 2001, 50), 'debited twice');
  t.notOk(atRate(999, 2001, 50), 'a point short');
  t.notOk(atRate(1002, 2001, 50), 'a point over');
  t.notOk(atRate(0, 2001, 50), 'nothing debited');
  for (const [amountFen, ppy] of [[1, 45], [99, 50], [2001, 50], [5000, 45], [123_457, 37]] as const) {
    t.ok(atRate(pointsFor(amountFen, ppy), amountFen, ppy), `the ledger's figure for ${amountFen} fen at ${ppy} passes`);
  }
});

t.test('field 54 gives the balance in points with its sign', async (t) => {
  t.equal(m.parseBalanceField('1002156C000000012345'), 12345);
  t.equal(m.parseBalanceField('1002156D000000000010'), -10);
  t.equal(m.parseBalanceField(undefined), null);
  t.equal(m.parseBalanceField('garbage'), null);
});

t.test('latency percentiles are nearest-rank over every sample', async (t) => {
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
  const s = summarise(xs.reverse())!;
  t.equal(s.p50Ms, 500);
  t.equal(s.p90Ms, 900);
  t.equal(s.p99Ms, 990);
  t.equal(s.p999Ms, 999);
  t.equal(s.maxMs, 1000);
  t.equal(s.count, 1000);
  t.equal(summarise([]), null);
  t.equal(summarise([7])!.p999Ms, 7);
});

t.test('the load mix and rate options are parsed strictly', async (t) => {
  t.same(parseMix('purchase=80,balance=15,void=5'), { purchase: 80, balance: 15, void: 5 });
  t.same(parseMix('purchase=1'), { purchase: 1, balance: 0, void: 0 });
  t.same(parseMix('purchase=70,resend=30'), { purchase: 70, balance: 0, void: 0, resend: 30 });
  t.throws(() => parseMix('resend=5'), /resend only repeats approved purchases/);
  t.throws(() => parseMix('refund=5'));
  t.throws(() => parseMix('purchase=0'));
  t.equal(parseRate('max'), 'max');
  t.equal(parseRate('250'), 250);
  t.throws(() => parseRate('0'));
  t.throws(() => parseRate('fast'));
});

t.test('a scenario is YAML or JSON; a step has exactly one action; unknown keys are refused', async (t) => {
  const sc = parseScenario('steps:\n  - signon\n  - purchase: { card: "8860000000000007", yuan: 1 }\n    expect: { code: "00" }\n', 'a.yaml');
  t.equal(sc.steps.length, 2);
  t.equal(parseScenario(JSON.stringify({ steps: ['batch-close'] }), 'a.json').steps.length, 1);
  t.throws(() => parseScenario('steps:\n  - purchase: { card: "8860000000000007", yuan: 1 }\n    balance: { card: "8860000000000007" }\n', 'b.yaml'), /exactly one action/);
  t.throws(() => parseScenario('steps:\n  - purchase: { card: "8860000000000007", yuan: 1 }\n    expect: { colour: red }\n', 'c.yaml'), /expect/);
  t.throws(() => parseScenario('steps: []\n', 'd.yaml'), /steps/);
  t.throws(() => parseScenario('steps:\n  - dance\n', 'e.yaml'));
});
