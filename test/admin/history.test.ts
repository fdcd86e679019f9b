// Reference data with history over the real switch: a merchant's rates changed from a date on (kept, and moved onto
// the merchant when the date comes), a terminal disabled and enabled (kept for the usage fee), its master key
// replaced, and a card's status changes and PIN.
import t from 'tap';
import { applyDueRates } from '../../src/ledger/merchant-rates.js';
import { businessDateOf } from '../../src/ledger/card-rules.js';
import { testEnv } from '../support/db.js';
import { seed, startSwitch } from '../switch/support/app.js';
import { TestTerminal } from '../switch/support/terminal.js';
import { adminCaller } from './support.js';

const dayAfter = (ymd: string, days: number) => new Date(Date.parse(`${ymd}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

t.test('reference data with history', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const operator = await adminCaller(app, 'operator');
  const merchant = '898310048160002';
  const today = businessDateOf();

  await t.test('a rate change dated ahead is kept, and moved onto the merchant when its date comes', async (t) => {
    const was = (await operator('GET', `/merchants/${merchant}`)).json();
    const tomorrow = dayAfter(today, 1);
    const r = await operator('POST', `/merchants/${merchant}/rates`, { feeRateBp: 75, effectiveFrom: tomorrow });
    t.equal(r.statusCode, 200, r.body);
    t.same(r.json(), [
      { effectiveFrom: null, pointsPerYuan: was.pointsPerYuan, feeRateBp: was.feeRateBp },
      { effectiveFrom: tomorrow, pointsPerYuan: was.pointsPerYuan, feeRateBp: 75 },
    ], 'the rates before any change stand "since always"; the change keeps the points rate it did not name');
    t.equal((await operator('GET', `/merchants/${merchant}`)).json().feeRateBp, was.feeRateBp, 'not in force yet');
    t.same(await applyDueRates(app.ledger.pool, today), [], 'nothing due today');
    t.same(await applyDueRates(app.ledger.pool, tomorrow), [merchant], 'due tomorrow');
    t.equal((await operator('GET', `/merchants/${merchant}`)).json().feeRateBp, 75);
    t.same(await applyDueRates(app.ledger.pool, tomorrow), [], 'applied once');
  });

  await t.test('a points rate changed today takes effect at once, on the wire too, and is kept', async (t) => {
    const r = await operator('PATCH', `/merchants/${merchant}`, { pointsPerYuan: 60 });
    t.equal(r.json().pointsPerYuan, 60);
    const history = (await operator('GET', `/merchants/${merchant}/rates`)).json() as Array<{ effectiveFrom: string | null; pointsPerYuan: number }>;
    t.same(history.find((h) => h.effectiveFrom === today)?.pointsPerYuan, 60);
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: merchant });
    t.teardown(() => term.close());
    await term.signOn();
    const a = await term.send(term.purchaseMessage('8860000000000007', 1000));
    t.equal(a.fields[39], '00');
    const { rows } = await app.ledger.pool.query('SELECT points, points_per_yuan FROM authorisations WHERE rrn = $1', [String(a.fields[37])]);
    t.same([Number(rows[0].points), rows[0].points_per_yuan], [600, 60], '10 yuan at 60 points a yuan');
    t.equal((await operator('POST', `/merchants/${merchant}/rates`, { effectiveFrom: today })).statusCode, 400, 'a change names a rate');
    t.equal((await operator('POST', '/merchants/898310048169876/rates', { feeRateBp: 1 })).statusCode, 404);
  });

  await t.test('a terminal disabled and enabled again: refused meanwhile, and the history kept', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => term.close());
    await term.signOn();
    t.equal((await operator('PATCH', '/terminals/10000002', { status: 'suspended' })).json().status, 'suspended');
    t.not((await term.send(term.purchaseMessage('8860000000000007', 100))).fields[39], '00', 'a disabled terminal is refused');
    t.equal((await operator('PATCH', '/terminals/10000002', { status: 'active' })).json().status, 'active');
    const h = (await operator('GET', '/terminals/10000002/history')).json() as Array<{ status: string; from: string }>;
    t.same(h.map((x) => x.status), ['active', 'suspended', 'active'], 'since it was made, disabled, enabled');
    t.ok(h.every((x, i) => i === 0 || Date.parse(x.from) >= Date.parse(h[i - 1]!.from)), 'in time order');
    t.same((await operator('GET', '/terminals/10000001/history')).json().map((x: { status: string }) => x.status), ['active'], 'a terminal never changed: its status since it was made');
  });

  await t.test('a new master key: the terminal signs on under it, never under the old one; the key is never returned', async (t) => {
    const tmkHex = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
    const r = await operator('POST', '/terminals/10000001/master-key', { tmkHex });
    t.equal(r.statusCode, 200, r.body);
    t.equal(r.json().signedOn, false, 'it must sign on again');
    t.notOk(r.body.toUpperCase().includes(tmkHex));
    const fresh = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001', tmk: Buffer.from(tmkHex, 'hex') });
    t.teardown(() => fresh.close());
    t.equal((await fresh.signOn()).fields[39], '00');
    t.equal((await fresh.send(fresh.balanceMessage('8860000000000007'))).fields[39], '00', 'MACs verify under keys sent under the new TMK');
    const { rows } = await app.ledger.pool.query("SELECT after FROM audit_log WHERE action = 'terminal.master-key'");
    t.notOk(JSON.stringify(rows).toUpperCase().includes(tmkHex), 'the audit trail never holds the key');
  });

  await t.test('a card: frozen and unfrozen; lost only to closed; closed for good; a PIN set and removed', async (t) => {
    const card = '8860000000000002';
    t.equal((await operator('PATCH', `/cards/${card}`, { status: 'frozen' })).json().status, 'frozen');
    t.equal((await operator('PATCH', `/cards/${card}`, { status: 'active' })).json().status, 'active');
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: merchant });
    t.teardown(() => term.close());
    await term.signOn();
    const pin = await operator('PUT', `/cards/${card}/pin`, { pin: '2468' });
    t.equal(pin.json().pinRequired, true);
    t.equal((await term.send(term.purchaseMessage(card, 100))).fields[39], '55', 'without the PIN: incorrect PIN');
    t.equal((await term.send(term.purchaseMessage(card, 100, { pin: '2468' }))).fields[39], '00', 'with it: approved');
    t.equal((await operator('PUT', `/cards/${card}/pin`, { pin: null })).json().pinRequired, false);
    t.equal((await term.send(term.purchaseMessage(card, 100))).fields[39], '00', 'removed: no PIN asked');
    t.equal((await operator('PUT', `/cards/${card}/pin`, { pin: '12' })).statusCode, 400);
    t.equal((await operator('PATCH', `/cards/${card}`, { status: 'lost' })).json().status, 'lost');
    const back = await operator('PATCH', `/cards/${card}`, { status: 'active' });
    t.equal(back.statusCode, 409);
    t.match(back.json().detail, /a lost card cannot become active \(only closed\)/);
    t.equal((await operator('PATCH', `/cards/${card}`, { status: 'closed' })).json().status, 'closed');
    t.equal((await operator('PATCH', `/cards/${card}`, { status: 'frozen' })).statusCode, 409, 'closed for good');
    const { rows } = await app.ledger.pool.query("SELECT before, after FROM audit_log WHERE action = 'card.pin'");
    t.notOk(JSON.stringify(rows).includes('2468'), 'the audit trail never holds a PIN');
  });
});
