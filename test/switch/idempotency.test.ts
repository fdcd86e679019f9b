// Lost answers, retransmissions and a second switch process: each debit happens once.
import t from 'tap';
import { frame } from '../../protocol/index.js';
import { testEnv } from '../support/db.js';
import { balanceOf, seed, startSwitch } from './support/app.js';
import { TestTerminal } from './support/terminal.js';

const diamond = '8860000000000007';

t.test('reversal, retransmission and two switches', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const a = await startSwitch(t, env);
  const b = await startSwitch(t, env);
  t.not(a.posPort, b.posPort);

  await t.test('a purchase whose answer was lost is undone by its reversal (0400/0410), once', async (t) => {
    const term = await TestTerminal.connect({ port: a.posPort });
    t.teardown(() => term.close());
    await term.signOn();
    const before = await balanceOf(a, diamond);
    const purchase = term.purchaseMessage(diamond, 3000);
    // The answer is "lost": the terminal sends, then drops the connection without reading.
    const lost = await TestTerminal.connect({ port: a.posPort });
    lost.mak = term.mak;
    lost.writeRaw(frame(lost.encodeMessage(purchase)));
    while (await balanceOf(a, diamond) === before) await new Promise((r) => setTimeout(r, 10));
    lost.socket.destroy();
    t.equal(await balanceOf(a, diamond), before - 1500, 'the debit happened');
    const reversal = term.reversalMessage(purchase);
    const answer = await term.send(reversal);
    t.equal(answer.mti, '0410');
    t.equal(answer.fields[39], '00');
    t.equal(answer.fields[11], purchase.fields[11]);
    t.equal(await balanceOf(a, diamond), before, 'the points are back');
    const again = await term.send(reversal);
    t.equal(again.fields[39], '00', 'a repeated reversal is approved');
    t.equal(await balanceOf(a, diamond), before, 'and moves nothing');
  });

  await t.test('a reversal that arrives before its purchase makes the late purchase decline', async (t) => {
    const term = await TestTerminal.connect({ port: a.posPort });
    t.teardown(() => term.close());
    await term.signOn();
    const before = await balanceOf(a, diamond);
    const purchase = term.purchaseMessage(diamond, 800);
    t.equal((await term.send(term.reversalMessage(purchase))).fields[39], '00');
    const late = await term.send(purchase);
    t.not(late.fields[39], '00');
    t.equal(await balanceOf(a, diamond), before);
  });

  await t.test('a retransmitted purchase gets the same answer and debits once', async (t) => {
    const term = await TestTerminal.connect({ port: a.posPort });
    t.teardown(() => term.close());
    await term.signOn();
    const before = await balanceOf(a, diamond);
    const purchase = term.purchaseMessage(diamond, 2000);
    const first = await term.send(purchase);
    const second = await term.send(purchase);
    t.equal(first.fields[39], '00');
    t.equal(second.fields[39], '00');
    t.equal(second.fields[37], first.fields[37], 'same RRN');
    t.equal(second.fields[38], first.fields[38], 'same auth code');
    t.equal(await balanceOf(a, diamond), before - 1000, 'one debit');
  });

  await t.test('a second switch on another port serves the same terminal with the keys signed on at the first', async (t) => {
    const onA = await TestTerminal.connect({ port: a.posPort, terminalId: '10000002' });
    const onB = await TestTerminal.connect({ port: b.posPort, terminalId: '10000002' });
    t.teardown(() => Promise.all([onA.close(), onB.close()]));
    await onA.signOn();
    onB.mak = onA.mak;
    onB.pik = onA.pik;
    onB.batchNo = onA.batchNo;
    t.equal((await onB.send(onB.purchaseMessage(diamond, 100))).fields[39], '00');
    // Sign on again at A: B must use the new keys at once (its in-process copy is re-checked on a refusal).
    await onA.signOn();
    onB.mak = onA.mak;
    t.equal((await onB.send(onB.purchaseMessage(diamond, 100))).fields[39], '00', 'new MAK accepted by B');
  });

  await t.test('the same purchase sent to both switches at once debits once and both answers agree', async (t) => {
    const onA = await TestTerminal.connect({ port: a.posPort, terminalId: '20000001', merchantId: '898310048160002' });
    const onB = await TestTerminal.connect({ port: b.posPort, terminalId: '20000001', merchantId: '898310048160002' });
    t.teardown(() => Promise.all([onA.close(), onB.close()]));
    await onA.signOn();
    onB.mak = onA.mak;
    onB.batchNo = onA.batchNo;
    for (let i = 0; i < 10; i++) {
      const before = await balanceOf(a, diamond);
      const purchase = onA.purchaseMessage(diamond, 1000 + i);
      const [x, y] = await Promise.all([onA.send(purchase), onB.send(purchase)]);
      t.equal(x.fields[39], '00');
      t.equal(y.fields[37], x.fields[37], 'same RRN from both switches');
      const points = Math.ceil(((1000 + i) * 45) / 100);
      t.equal(await balanceOf(a, diamond), before - points, 'one debit');
    }
  });

  await t.test('purchases of one card through both switches at once leave the exact balance', async (t) => {
    const onA = await TestTerminal.connect({ port: a.posPort, terminalId: '10000001' });
    const onB = await TestTerminal.connect({ port: b.posPort, terminalId: '10000002' });
    t.teardown(() => Promise.all([onA.close(), onB.close()]));
    await onA.signOn();
    await onB.signOn();
    const before = await balanceOf(a, diamond);
    const sends = [];
    for (let i = 0; i < 20; i++) {
      sends.push(onA.send(onA.purchaseMessage(diamond, 200)));
      sends.push(onB.send(onB.purchaseMessage(diamond, 200)));
    }
    const answers = await Promise.all(sends);
    t.ok(answers.every((x) => x.fields[39] === '00'));
    t.equal(new Set(answers.map((x) => x.fields[37])).size, 40, '40 distinct RRNs');
    t.equal(await balanceOf(a, diamond), before - 40 * 100);
  });
});
