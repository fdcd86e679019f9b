// The terminal model against a real switch: sign-on keys, money transactions, state kept across restarts, and a
// reversal for a request whose answer never arrived.
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { stateFileFor, Terminal } from '../../simulators/terminal.js';
import { answerSwallowingProxy, startSwitch, stateDir } from './support.js';
import { settled } from '../support/wait.js';

const diamond = '8860000000000007';

t.test('a terminal signs on, buys, voids and refunds, and each receipt shows code, points, balance, RRN and trace', async (t) => {
  const { port } = await startSwitch(t);
  const term = new Terminal({ host: '127.0.0.1', port, terminalId: '10000001' });
  t.teardown(() => term.close());
  const on = await term.signOn();
  t.equal(on.responseCode, '00');
  t.equal(on.keysOk, true, 'working keys verify under the demo TMK');
  const buy = await term.transact({ type: 'purchase', cardNo: diamond, amountFen: 1000 });
  t.equal(buy.responseCode, '00');
  t.equal(buy.pointsDebited, 500);
  t.equal(buy.balancePoints, 1_000_000 - 500);
  t.match(buy.rrn, /^\S{12}$/);
  t.equal(buy.macOk, true, 'the answer MAC verifies under the working MAK');
  const v = await term.transact({ type: 'void', trace: buy.trace });
  t.equal(v.responseCode, '00');
  t.equal(v.balancePoints, 1_000_000);
  t.ok(term.state.txns.find((x) => x.trace === buy.trace)?.voided, 'the purchase is marked voided');
  const buy2 = await term.transact({ type: 'purchase', cardNo: diamond, amountFen: 2000 });
  const ref = await term.transact({ type: 'refund', rrn: buy2.rrn!, amountFen: 500 });
  t.equal(ref.responseCode, '00');
  t.equal(ref.pointsCredited, 250);
  t.equal(ref.balancePoints, 1_000_000 - 1000 + 250);
  t.same(term.totals(), { debitFen: 2000, debitCount: 1, creditFen: 500, creditCount: 1 });
  const s = await term.closeBatch();
  t.equal(s.responseCode, '00');
  t.equal(s.batchCloseCode, '1', 'the terminal\'s totals balance with the switch\'s');
});

t.test('the terminal state (trace, batch, keys) is kept in its JSON file and a new process resumes from it', async (t) => {
  const { port } = await startSwitch(t);
  const dir = stateDir(t);
  const file = stateFileFor(dir, '127.0.0.1', port, '10000002');
  const a = new Terminal({ host: '127.0.0.1', port, terminalId: '10000002', stateFile: file });
  await a.signOn();
  const r1 = await a.transact({ type: 'balance', cardNo: diamond });
  await a.close();
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(saved.trace, Number(r1.trace));
  t.ok(saved.keys?.mak, 'working keys are saved');
  const b = new Terminal({ host: '127.0.0.1', port, terminalId: '10000002', stateFile: file });
  t.teardown(() => b.close());
  const r2 = await b.transact({ type: 'balance', cardNo: diamond });
  t.equal(Number(r2.trace), Number(r1.trace) + 1, 'the trace continues');
  t.equal(r2.responseCode, '00', 'the saved working keys still MAC (no new sign-on needed)');
});

t.test('a load terminal (saveMode batched) writes its state at most once a second and on close', async (t) => {
  const { port } = await startSwitch(t);
  const dir = stateDir(t);
  const file = stateFileFor(dir, '127.0.0.1', port, '10000002');
  const a = new Terminal({ host: '127.0.0.1', port, terminalId: '10000002', stateFile: file, saveMode: 'batched' });
  await a.signOn();
  const r1 = await a.transact({ type: 'balance', cardNo: diamond });
  t.equal(r1.responseCode, '00');
  t.throws(() => readFileSync(file, 'utf8'), { code: 'ENOENT' }, 'nothing written per request');
  await settled(() => existsSync(file));   // its once-a-second timer, late on a busy machine
  t.equal(JSON.parse(readFileSync(file, 'utf8')).trace, Number(r1.trace), 'written within a second');
  const r2 = await a.transact({ type: 'balance', cardNo: diamond });
  await a.close();
  t.equal(JSON.parse(readFileSync(file, 'utf8')).trace, Number(r2.trace), 'and on close');
});

t.test('a purchase whose answer does not arrive before its timeout is reversed and the points come back', async (t) => {
  const { port } = await startSwitch(t);
  let dropNext = false;
  const proxy = await answerSwallowingProxy(t, port, (mti) => {
    if (mti === '0210' && dropNext) { dropNext = false; return true; }
    return false;
  });
  const term = new Terminal({ host: '127.0.0.1', port: proxy.port, terminalId: '10000001', timeoutMs: 1500 });
  t.teardown(() => term.close());
  await term.signOn();
  const before = await term.transact({ type: 'balance', cardNo: diamond });
  dropNext = true;
  const buy = await term.transact({ type: 'purchase', cardNo: diamond, amountFen: 700 });
  t.equal(proxy.swallowed, 1, 'the proxy swallowed the 0210');
  t.equal(buy.outcome, 'timeout');
  t.equal(buy.reversal?.kind, 'reversal');
  t.equal(buy.reversal?.responseCode, '00', 'the switch approved the 0400');
  t.equal(term.state.pendingReversals.length, 0, 'no reversal is left pending');
  const after = await term.transact({ type: 'balance', cardNo: diamond });
  t.equal(after.balancePoints, before.balancePoints, 'the balance is as it was');
});

t.test('a reversal that cannot be delivered stays pending in the state file and is sent after the next sign-on', async (t) => {
  const { port } = await startSwitch(t);
  const proxy = await answerSwallowingProxy(t, port, (mti) => mti === '0210' || mti === '0410');
  const dir = stateDir(t);
  const file = stateFileFor(dir, '127.0.0.1', 0, '10000001');
  const a = new Terminal({ host: '127.0.0.1', port: proxy.port, terminalId: '10000001', timeoutMs: 800, stateFile: file });
  await a.signOn();
  const buy = await a.transact({ type: 'purchase', cardNo: diamond, amountFen: 900 });
  t.equal(buy.outcome, 'timeout');
  t.equal(buy.reversal?.outcome, 'timeout', 'the 0410 was swallowed too');
  await a.close();
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(saved.pendingReversals.length, 1, 'the reversal is pending in the file');
  // The line is good again: the same terminal, from its file, straight to the switch.
  const b = new Terminal({ host: '127.0.0.1', port, terminalId: '10000001', stateFile: file });
  t.teardown(() => b.close());
  const on = await b.signOn();
  t.equal(on.responseCode, '00');
  t.equal(b.state.pendingReversals.length, 0, 'sent and answered after sign-on');
  const bal = await b.transact({ type: 'balance', cardNo: diamond });
  t.equal(bal.balancePoints, 1_000_000, 'the purchase was reversed');
});
