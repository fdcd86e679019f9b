// Refusals before any handler runs: nothing moves and the answer names the reason.
import t from 'tap';
import { encode, encodeWithMac, frame, verifyMac } from '../../protocol/index.js';
import { testEnv } from '../support/db.js';
import { balanceOf, seed, startSwitch } from './support/app.js';
import { TestTerminal } from './support/terminal.js';

const diamond = '8860000000000007';

t.test('session checks', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);

  await t.test('a request whose MAC does not verify is declined A0 and nothing moves', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort });
    t.teardown(() => term.close());
    await term.signOn();
    const before = await balanceOf(app, diamond);
    const body = encodeWithMac(term.purchaseMessage(diamond, 1000), 'ecb', term.mak!);
    body.writeUInt8(body.readUInt8(body.length - 1) ^ 0x01, body.length - 1); // one bit of the MAC
    const answer = term.nextAnswer();
    term.writeRaw(frame(body));
    t.equal((await answer).fields[39], 'A0');
    const tampered = encodeWithMac(term.purchaseMessage(diamond, 1000), 'ecb', term.mak!);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 20) ^ 0x01, tampered.length - 20); // a bit of the message, MAC left as it was
    const answer2 = term.nextAnswer();
    term.writeRaw(frame(tampered));
    t.equal((await answer2).fields[39], 'A0');
    const noMac = await term.send(term.purchaseMessage(diamond, 1000), { mac: false });
    t.equal(noMac.fields[39], 'A0', 'a purchase without a MAC is refused too');
    t.equal(await balanceOf(app, diamond), before);
    t.equal((await term.send(term.purchaseMessage(diamond, 1000))).fields[39], '00', 'the connection still serves');
  });

  await t.test('a MAC made with another terminal\'s key is declined A0', async (t) => {
    const a = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
    const b = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => Promise.all([a.close(), b.close()]));
    await a.signOn();
    await b.signOn();
    const before = await balanceOf(app, diamond);
    b.mak = a.mak;
    t.equal((await b.send(b.purchaseMessage(diamond, 1000))).fields[39], 'A0');
    t.equal(await balanceOf(app, diamond), before);
  });

  await t.test('a sign-on sent by someone else does not lock the terminal out of the keys it uses', async (t) => {
    const real = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    const other = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002', localAddress: '127.0.0.2' });
    t.teardown(() => Promise.all([real.close(), other.close()]));
    const proven = async () => (await app.ledger.pool.query(
      'SELECT keys_proven AS p, prev_mak_enc IS NOT NULL AS kept FROM terminals WHERE terminal_id = $1', ['10000002'])).rows[0] as { p: boolean; kept: boolean };
    const until = async (want: { p: boolean; kept: boolean }) => {
      for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 10))) {
        const now = await proven();
        if (now.p === want.p && now.kept === want.kept) return now;
      }
      return proven();
    };
    t.equal((await real.signOn()).fields[39], '00');
    const first = await real.send(real.purchaseMessage(diamond, 100));
    t.equal(first.fields[39], '00');
    t.same(await until({ p: true, kept: false }), { p: true, kept: false }, 'its first MAC\'d request proved its keys');
    const keys = real.mak!;
    for (let i = 0; i < 3; i++) t.equal((await other.signOn()).fields[39], '00', 'a sign-on needs no MAC: the switch answers it');
    t.notSame(other.mak, keys, 'the first of them brought new keys (the terminal\'s were proven)');
    t.same(await proven(), { p: false, kept: true }, 'the keys the terminal proved are kept beside the new ones');
    const before = await balanceOf(app, diamond);
    const answer = await real.send(real.purchaseMessage(diamond, 100));
    t.equal(answer.fields[39], '00', 'the real terminal goes on under its own keys');
    t.ok(verifyMac(encode(answer), 'ecb', keys), 'and its answer carries a MAC under them');
    t.ok(await balanceOf(app, diamond) < before, 'and the purchase was debited');
    t.equal((await other.send(other.balanceMessage(diamond))).fields[39], '00', 'the other client holds the new keys (it knew the master key here)');
    t.same(await until({ p: true, kept: false }), { p: true, kept: false }, 'a MAC under the new keys retires the old ones');
    t.equal((await real.send(real.balanceMessage(diamond))).fields[39], 'A0', 'from then on the old keys are refused');
    // The terminal signs on itself: its first MAC'd request under the new keys retires the old ones.
    t.equal((await real.signOn()).fields[39], '00');
    t.equal((await real.send(real.balanceMessage(diamond))).fields[39], '00');
    t.same(await until({ p: true, kept: false }), { p: true, kept: false });
    // A sign-on by someone else between the terminal's own sign-on and its first MAC'd request gets the same keys.
    t.equal((await real.signOn()).fields[39], '00');
    t.equal((await other.signOn()).fields[39], '00');
    t.same(other.mak, real.mak, 'keys no MAC has used yet are issued again, not replaced');
    t.equal((await real.send(real.balanceMessage(diamond))).fields[39], '00', 'so the terminal goes on under the keys of its own sign-on');
  });

  await t.test('an unknown terminal is refused 97, even for sign-on', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '55555555' });
    t.teardown(() => term.close());
    const answer = await term.signOn();
    t.equal(answer.fields[39], '97');
    t.equal(answer.fields[62], undefined, 'no keys');
    const p = await term.send(term.purchaseMessage(diamond, 100), { mac: false });
    t.equal(p.fields[39], '97');
  });

  await t.test('a terminal that has not signed on is refused 97 and nothing moves', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '20000001', merchantId: '898310048160002' });
    t.teardown(() => term.close());
    const before = await balanceOf(app, diamond);
    const answer = await term.send(term.purchaseMessage(diamond, 100), { mac: false });
    t.equal(answer.fields[39], '97');
    t.equal(answer.fields[64], undefined, 'no MAC: the switch has no MAK for it');
    t.equal(await balanceOf(app, diamond), before);
  });

  await t.test('field 42 naming another merchant than the terminal\'s is declined 03', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort, terminalId: '10000002' });
    t.teardown(() => term.close());
    await term.signOn();
    term.merchantId = '898310048160002';
    const before = await balanceOf(app, diamond);
    t.equal((await term.send(term.purchaseMessage(diamond, 100))).fields[39], '03');
    t.equal(await balanceOf(app, diamond), before);
  });

  await t.test('a sign-on answer carries no MAC and a request without 41 is a format error', async (t) => {
    const term = await TestTerminal.connect({ port: app.posPort });
    t.teardown(() => term.close());
    const on = await term.signOn();
    t.equal(on.fields[64], undefined);
    const m = term.message('0800', { 60: '00000001003' });
    delete m.fields[41];
    const answer = term.nextAnswer();
    term.writeRaw(frame(encode(m)));
    t.equal((await answer).fields[39], '30');
  });
});

t.test('with --sign-off-mac required, a sign-off without a MAC that verifies is refused A0 and the terminal goes on', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env, { signOffMac: 'required' });
  const real = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const other = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001', localAddress: '127.0.0.2' });
  t.teardown(() => Promise.all([real.close(), other.close()]));
  t.equal((await real.signOn()).fields[39], '00');
  t.equal((await real.send(real.purchaseMessage(diamond, 100))).fields[39], '00');
  t.equal((await other.send(other.signOffMessage(), { mac: false })).fields[39], 'A0', 'a sign-off without a MAC');
  other.mak = Buffer.alloc(16, 0x5a);
  t.equal((await other.send(other.signOffMessage())).fields[39], 'A0', 'a sign-off with a MAC under a key not the terminal\'s');
  t.equal((await real.send(real.purchaseMessage(diamond, 100))).fields[39], '00', 'the terminal is still signed on');
  t.equal((await real.send(real.signOffMessage())).fields[39], '00', 'its own sign-off, MAC\'d, is served');
  t.equal((await real.send(real.purchaseMessage(diamond, 100))).fields[39], '97', 'and then it is signed off');
});

t.test('by default (the profile\'s), a sign-off needs no MAC', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const real = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001' });
  const other = await TestTerminal.connect({ port: app.posPort, terminalId: '10000001', localAddress: '127.0.0.2' });
  t.teardown(() => Promise.all([real.close(), other.close()]));
  t.equal((await real.signOn()).fields[39], '00');
  t.equal((await other.send(other.signOffMessage(), { mac: false })).fields[39], '00');
  t.equal((await real.send(real.purchaseMessage(diamond, 100))).fields[39], '97', 'anyone who knows its number can sign it off (a limit of the profile)');
});
