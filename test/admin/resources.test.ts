// The admin API's merchants, terminals and cards over the real database, and problem+json naming the field.
import t from 'tap';
import { testEnv } from '../support/db.js';
import { adminCaller } from './support.js';
import { seed, startSwitch } from '../switch/support/app.js';
import { TestTerminal } from '../switch/support/terminal.js';

t.test('admin resources', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const call = await adminCaller(app, 'operator');

  await t.test('an invalid body is answered 400 problem+json naming each bad field', async (t) => {
    const r = await call('POST', '/merchants', { merchantId: '12', name: '', pointsPerYuan: 0, feeRateBp: 5 });
    t.equal(r.statusCode, 400);
    t.match(r.headers['content-type'], /application\/problem\+json/);
    const fields = (r.json().errors as Array<{ field: string }>).map((e) => e.field).sort();
    t.same(fields, ['body.merchantId', 'body.name', 'body.pointsPerYuan']);
  });

  await t.test('a merchant is added, read, listed and changed', async (t) => {
    const m = { merchantId: '898310048169999', name: 'Tea House', pointsPerYuan: 40, feeRateBp: 50 };
    const made = await call('POST', '/merchants', m);
    t.equal(made.statusCode, 201);
    t.same(made.json(), { ...m, status: 'active' });
    const again = await call('POST', '/merchants', m);
    t.equal(again.statusCode, 409);
    t.match(again.json().detail, /merchantId/);
    t.equal((await call('GET', '/merchants/898310048169999')).json().name, 'Tea House');
    t.ok((await call('GET', '/merchants')).json().length >= 3);
    const changed = await call('PATCH', '/merchants/898310048169999', { pointsPerYuan: 60 });
    t.equal(changed.json().pointsPerYuan, 60);
    t.equal((await app.ledger.merchant('898310048169999'))?.pointsPerYuan, 60, 'the ledger sees the new rate at once, not when its cache expires');
    t.equal((await call('GET', '/merchants/898310048160404')).statusCode, 404);
  });

  await t.test('a terminal added through the API signs on with its master key; keys are never returned', async (t) => {
    const tmkHex = '11223344556677888877665544332211';
    const made = await call('POST', '/terminals', { terminalId: '30000001', merchantId: '898310048169999', tmkHex });
    t.equal(made.statusCode, 201);
    t.notOk(JSON.stringify(made.json()).includes(tmkHex), 'TMK not echoed');
    const bad = await call('POST', '/terminals', { terminalId: '30000002', merchantId: '898310048100000', tmkHex });
    t.equal(bad.statusCode, 422);
    t.match(bad.json().detail, /body\.merchantId/);
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '30000001', merchantId: '898310048169999', tmk: Buffer.from(tmkHex, 'hex') });
    t.teardown(() => term.close());
    t.equal((await term.signOn()).fields[39], '00');
    t.equal((await call('GET', '/terminals/30000001')).json().signedOn, true);
  });

  await t.test('a card is issued with an opening balance through the ledger and frozen at once', async (t) => {
    const made = await call('POST', '/cards', { cardNo: '8860000000009999', expiry: '3012', openingPoints: 5000 });
    t.equal(made.statusCode, 201);
    t.equal(made.json().balancePoints, 5000);
    const term = await TestTerminal.connect({ port: app.posPort });
    t.teardown(() => term.close());
    await term.signOn();
    t.equal((await term.send(term.purchaseMessage('8860000000009999', 1000))).fields[39], '00');
    t.equal((await call('GET', '/cards/8860000000009999')).json().balancePoints, 4500);
    t.equal((await call('PATCH', '/cards/8860000000009999', { status: 'frozen' })).json().status, 'frozen');
    t.equal((await term.send(term.purchaseMessage('8860000000009999', 100))).fields[39], '62', 'declined at once');
    const bad = await call('PATCH', '/cards/8860000000009999', { status: 'melted' });
    t.equal(bad.statusCode, 400);
    t.equal(bad.json().errors[0].field, 'body.status');
  });

  await t.test('the OpenAPI document lists every resource', async (t) => {
    const doc = (await call('GET', '/docs/json')).json();
    for (const p of ['/merchants/', '/terminals/', '/cards/', '/cards/{cardNo}', '/health', '/metrics']) t.ok(doc.paths[p], p);
  });
});

t.test('with --demo yes, start seeds the demo merchants, terminals and cards, and a second start keeps them', async (t) => {
  const env = await testEnv(t);
  const first = await startSwitch(t, env, { demo: 'yes' });
  t.equal((await first.ledger.terminal('10000001'))?.merchantId, '898310048160001');
  t.equal((await first.ledger.merchant('898310048160002'))?.pointsPerYuan, 45);
  t.ok(first.logLines.some((l) => l.includes('demo data seeded')), 'the log says what it seeded');
  await first.stop();
  const second = await startSwitch(t, env, { demo: 'yes' });
  t.ok(second.logLines.some((l) => l.includes('demo data present')), 'a second start finds the data and keeps it');
  const { rows } = await second.ledger.pool.query<{ n: string }>("SELECT count(*) AS n FROM terminals WHERE terminal_id IN ('10000001','10000002','20000001')");
  t.equal(Number(rows[0]?.n), 3);
});

t.test('by default (demo auto) a switch on a given DATABASE_URL seeds nothing', async (t) => {
  const env = await testEnv(t);
  const app = await startSwitch(t, env);
  t.equal(await app.ledger.terminal('10000001'), null);
});
