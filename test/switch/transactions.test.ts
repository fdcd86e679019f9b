// Sign-on, then each transaction of the profile over real TCP against real Postgres and Redis.
import t from 'tap';
import { parseField60, parseBatchTotals, parseSignOnKeys, verifyMac } from '../../protocol/index.js';
import { encode } from '../../protocol/index.js';
import { testEnv } from '../support/db.js';
import { balanceOf, seed, startSwitch } from './support/app.js';
import { TestTerminal } from './support/terminal.js';

const gold = '8860000000000001'; // 100000 points, PIN 123456
const silver = '8860000000000002'; // 500 points, no PIN
const diamond = '8860000000000007'; // 1000000 points

t.test('the POS transaction set', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const term = await TestTerminal.connect({ port: app.posPort });
  t.teardown(() => term.close());

  /** The answer's MAC verifies under the terminal's MAK (re-encode: field 64 is last). */
  const macOk = (m: Parameters<typeof encode>[0]) => verifyMac(encode(m), 'ecb', term.mak!);

  await t.test('sign-on issues working keys under the TMK with check values and names the batch', async (t) => {
    const answer = await term.signOn('004');
    t.equal(answer.mti, '0810');
    t.equal(answer.fields[39], '00');
    t.ok(parseSignOnKeys(answer.fields[62] as Buffer, term.tmk)?.tdk, 'PIK, MAK and TDK each pass their check value');
    t.equal(parseField60(answer.fields[60] as string).batchNo.length, 6);
    t.equal(answer.tpdu.destination, '0000', 'TPDU addresses swapped');
    t.equal(answer.tpdu.source, '0003');
    t.equal(answer.header, '603100310100', 'header kept');
  });

  await t.test('a purchase is approved with RRN, auth code, balance in 54 and a MAC; points are rounded up', async (t) => {
    const before = await balanceOf(app, diamond);
    const req = term.purchaseMessage(diamond, 1234);
    const answer = await term.send(req);
    t.equal(answer.mti, '0210');
    t.equal(answer.fields[39], '00');
    t.match(answer.fields[37], /^.{12}$/);
    t.match(answer.fields[38], /^.{6}$/);
    for (const f of [3, 4, 11, 25, 41, 42, 49, 60]) t.same(answer.fields[f], req.fields[f], `field ${f} echoed`);
    const points = Math.ceil((1234 * 50) / 100);
    t.equal(await balanceOf(app, diamond), before - points);
    t.equal(answer.fields[54], `1002156C${String(before - points).padStart(12, '0')}`);
    t.ok(macOk(answer), 'response MAC verifies');
  });

  await t.test('a purchase with the right PIN is approved, with a wrong PIN declined 55 and nothing moves', async (t) => {
    const ok = await term.send(term.purchaseMessage(gold, 100, { pin: '123456' }));
    t.equal(ok.fields[39], '00');
    const before = await balanceOf(app, gold);
    const bad = await term.send(term.purchaseMessage(gold, 100, { pin: '654321' }));
    t.equal(bad.fields[39], '55');
    t.equal(bad.fields[37], undefined, 'a decline carries no RRN');
    t.equal(bad.fields[38], undefined, 'a decline carries no auth code');
    t.equal(await balanceOf(app, gold), before);
  });

  await t.test('card declines map to their response codes', async (t) => {
    const cases: Array<[string, string, string]> = [
      ['8860000000000003', '41', 'lost'], ['8860000000000004', '62', 'frozen'], ['8860000000000005', '54', 'expired'],
      ['8860000000000006', '58', 'not enrolled'], ['8869999999999999', '14', 'unknown card'],
    ];
    for (const [card, code, what] of cases) {
      const answer = await term.send(term.purchaseMessage(card, 100, card.endsWith('5') ? { expiry: '2001' } : {}));
      t.equal(answer.fields[39], code, what);
      t.ok(macOk(answer), `${what}: the decline is MACed too`);
    }
  });

  await t.test('insufficient points is declined 51 with the balance in 54, and nothing moves', async (t) => {
    const before = await balanceOf(app, silver);
    const answer = await term.send(term.purchaseMessage(silver, 2000)); // 1000 points > 500
    t.equal(answer.fields[39], '51');
    t.equal(answer.fields[54], `1002156C${String(before).padStart(12, '0')}`);
    t.equal(await balanceOf(app, silver), before);
  });

  await t.test('a zero amount is declined 13', async (t) => {
    const answer = await term.send(term.purchaseMessage(diamond, 0));
    t.equal(answer.fields[39], '13');
  });

  await t.test('a balance inquiry answers the balance in points in 54', async (t) => {
    const answer = await term.send(term.balanceMessage(gold, { pin: '123456' }));
    t.equal(answer.fields[39], '00');
    t.equal(answer.fields[54], `1002156C${String(await balanceOf(app, gold)).padStart(12, '0')}`);
    const wrong = await term.send(term.balanceMessage(gold, { pin: '000000' }));
    t.equal(wrong.fields[39], '55');
  });

  await t.test('a void gives the points back once; a second void of it is declined', async (t) => {
    const before = await balanceOf(app, diamond);
    const p = term.purchaseMessage(diamond, 5000);
    const bought = await term.send(p);
    t.equal(bought.fields[39], '00');
    t.equal(await balanceOf(app, diamond), before - 2500);
    const original = { rrn: bought.fields[37] as string, trace: p.fields[11] as string };
    const voided = await term.send(term.voidMessage(diamond, 5000, original));
    t.equal(voided.fields[39], '00');
    t.not(voided.fields[37], bought.fields[37], 'the void has its own RRN');
    t.equal(await balanceOf(app, diamond), before);
    const again = await term.send(term.voidMessage(diamond, 5000, original));
    t.not(again.fields[39], '00');
    t.equal(await balanceOf(app, diamond), before);
    const missing = await term.send(term.voidMessage(diamond, 5000, { rrn: '999999999999', trace: '999999' }));
    t.equal(missing.fields[39], '25', 'void of an unknown original: 25');
  });

  await t.test('a refund (0220) credits part of a purchase back and cannot exceed it', async (t) => {
    const p = term.purchaseMessage(diamond, 10000);
    const bought = await term.send(p);
    t.equal(bought.fields[39], '00');
    const before = await balanceOf(app, diamond);
    const original = { rrn: bought.fields[37] as string, trace: p.fields[11] as string, batchNo: term.batchNo };
    const refunded = await term.send(term.refundMessage(diamond, 4000, original));
    t.equal(refunded.mti, '0230');
    t.equal(refunded.fields[39], '00');
    t.equal(await balanceOf(app, diamond), before + 2000);
    const tooMuch = await term.send(term.refundMessage(diamond, 7000, original));
    t.equal(tooMuch.fields[39], '61');
    t.equal(await balanceOf(app, diamond), before + 2000);
  });

  await t.test('batch close (0500) answers balanced when the totals agree, unbalanced otherwise', async (t) => {
    const other = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => other.close());
    await other.signOn();
    t.equal((await other.send(other.purchaseMessage(diamond, 300))).fields[39], '00');
    t.equal((await other.send(other.purchaseMessage(diamond, 700))).fields[39], '00');
    const balanced = await other.send(other.batchCloseMessage({ debitFen: 1000, debitCount: 2, creditFen: 0, creditCount: 0 }));
    t.equal(balanced.mti, '0510');
    t.equal(balanced.fields[39], '00');
    t.equal(parseBatchTotals(balanced.fields[48] as string).batchCloseCode, '1');
    const wrong = await other.send(other.batchCloseMessage({ debitFen: 999, debitCount: 1, creditFen: 0, creditCount: 0 }));
    t.equal(wrong.fields[39], '00', 'UnionPay style: 39 stays 00');
    t.equal(parseBatchTotals(wrong.fields[48] as string).batchCloseCode, '2', '48 says not balanced');
  });

  await t.test('batch upload (0320) is acknowledged with 0330', async (t) => {
    const answer = await term.send(term.uploadMessage(diamond, 1234, '000001'));
    t.equal(answer.mti, '0330');
    t.equal(answer.fields[39], '00');
  });

  await t.test('an unsupported transaction is answered 40', async (t) => {
    const m = term.purchaseMessage(diamond, 100);
    m.fields[3] = '190000';
    const answer = await term.send(m);
    t.equal(answer.fields[39], '40');
  });

  await t.test('after sign-off the terminal is refused 97 until it signs on again', async (t) => {
    const off = await term.send(term.signOffMessage());
    t.equal(off.mti, '0830');
    t.equal(off.fields[39], '00');
    const before = await balanceOf(app, diamond);
    term.mak = null; // it has no MAK any more
    const refused = await term.send(term.purchaseMessage(diamond, 100), { mac: false });
    t.equal(refused.fields[39], '97');
    t.equal(await balanceOf(app, diamond), before);
    await term.signOn();
    t.equal((await term.send(term.purchaseMessage(diamond, 100))).fields[39], '00');
  });

  await t.test('a single-length sign-on (60.3 001) gives 8-byte keys that MAC and PIN-encrypt', async (t) => {
    const single = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => single.close());
    const on = await single.signOn('001');
    t.equal(on.fields[39], '00');
    t.equal(single.mak?.length, 8);
    t.equal(single.pik?.length, 8);
    const answer = await single.send(single.purchaseMessage(gold, 100, { pin: '123456' }));
    t.equal(answer.fields[39], '00');
    t.ok(verifyMac(encode(answer), 'ecb', single.mak!));
  });

  await t.test('one log line per transaction, card masked, never the full card number', async (t) => {
    const txns = app.logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'txn');
    t.ok(txns.length >= 20);
    const purchase = txns.find((l) => l.type === 'purchase' && l.responseCode === '00');
    t.match(purchase, { terminal: '10000001', merchant: '898310048160001', mti: '0200', processingCode: '000000' });
    t.type(purchase.latencyMs, 'number');
    t.match(purchase.card, /^886000\*+\d{4}$/);
    const all = app.logLines.join('\n');
    for (const card of [gold, silver, diamond]) t.notOk(all.includes(card), `${card.slice(-4)} never logged in full`);
  });

  await t.test('/metrics counts transactions by type and response code', async (t) => {
    const r = await app.admin.inject({ method: 'GET', url: '/metrics' });
    t.match(r.body, /pointswitch_transactions_total\{type="purchase",response_code="00"\} \d+/);
    t.match(r.body, /pointswitch_transactions_total\{type="purchase",response_code="51"\} 1/);
    t.match(r.body, /pointswitch_connections_open \d/);
    t.match(r.body, /pointswitch_ledger_batches_total \d/);
    t.match(r.body, /^pointswitch_ledger_batch_key_conflicts_total \d+$/m);
    t.match(r.body, /^pointswitch_ledger_batches_keyed_total \d+$/m);
  });

  await t.test('/metrics shows ledger batch sizes and times as histograms, and the Redis hit rate', async (t) => {
    const body = (await app.admin.inject({ method: 'GET', url: '/metrics' })).body;
    const value = (re: RegExp) => Number(re.exec(body)?.[1] ?? Number.NaN);
    const batches = value(/^pointswitch_ledger_batches_total (\d+)$/m);
    t.ok(batches > 0, `${batches} batches`);
    t.equal(value(/^pointswitch_ledger_batch_debits_count (\d+)$/m), batches, 'one size observation per batch');
    t.equal(value(/^pointswitch_ledger_batch_debits_sum (\d+)$/m), value(/^pointswitch_ledger_batched_debits_total (\d+)$/m),
      'the sizes add up to the debits batched');
    t.equal(value(/^pointswitch_ledger_batch_debits_bucket\{le="\+Inf"\} (\d+)$/m), batches);
    t.ok(value(/^pointswitch_ledger_batch_duration_seconds_sum ([\d.e-]+)$/m) > 0, 'batch time is measured');
    t.equal(value(/^pointswitch_ledger_batch_queue_seconds_count (\d+)$/m), batches);
    const hits = value(/^pointswitch_cache_reads\{cache="redis",result="hit"\} (\d+)$/m);
    const misses = value(/^pointswitch_cache_reads\{cache="redis",result="miss"\} (\d+)$/m);
    t.ok(hits > 0, `Redis answered reads with an entry (${hits}) and without (${misses})`);
    t.equal(value(/^pointswitch_cache_hit_ratio\{cache="redis"\} ([\d.e-]+)$/m), hits / (hits + misses));
    t.match(body, /^pointswitch_ledger_precheck_total\{result="skipped"\} \d+$/m);
  });
});
