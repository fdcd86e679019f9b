// Refusals before any handler runs: nothing moves and the answer names the reason.
import t from 'tap';
import { encode, encodeWithMac, frame } from '../../protocol/index.js';
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
