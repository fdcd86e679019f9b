import t from 'tap';
import { TerminalThrottle } from '../../src/switch/throttle.js';

t.test('the terminal throttle: a burst at once, then the rate, each terminal on its own, debts paid in turn', async (t) => {
  let now = 0;
  const th = new TerminalThrottle(10, 3, 100, () => now);
  t.same([th.delayFor('A'), th.delayFor('A'), th.delayFor('A')], [0, 0, 0], 'a burst of three at once');
  t.equal(th.delayFor('A'), 100, 'the fourth waits a tenth of a second (10 a second)');
  t.equal(th.delayFor('A'), 200, 'the fifth its own turn after that');
  t.equal(th.delayFor('B'), 0, 'another terminal is not held up');
  t.equal(th.throttled, 2);
  now = 1000;                                   // a second later: the debt of 2 is paid, 8 turns refilled, capped at 3
  t.same([th.delayFor('A'), th.delayFor('A'), th.delayFor('A'), th.delayFor('A')], [0, 0, 0, 100]);
  t.equal(new TerminalThrottle(1000).burst, 100, 'the default burst is a tenth of a second of the rate');
  t.equal(new TerminalThrottle(20).burst, 32, 'and at least a connection\'s pipeline');
  t.throws(() => new TerminalThrottle(0), RangeError);
});

t.test('the terminal throttle keeps at most entriesMax terminals: refilled ones are forgotten first', async (t) => {
  let now = 0;
  const th = new TerminalThrottle(10, 2, 3, () => now);
  th.delayFor('A'); th.delayFor('A'); th.delayFor('A');   // A in debt
  th.delayFor('B');
  th.delayFor('C');
  now = 150;                                    // B and C refilled; A still owes
  th.delayFor('D');
  t.equal(th.size, 2, 'B and C forgotten, A kept');
  t.ok(th.delayFor('A') > 0, 'A still waits its turn');
});
