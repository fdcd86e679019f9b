import t from 'tap';
import { SignOnBudget } from '../../src/switch/sign-on-budget.js';

t.test('a sign-on waits for the later of its address\'s turn and the switch\'s', async (t) => {
  let now = 0;
  const b = new SignOnBudget(100, 10, () => now);   // bursts: the switch 32, an address 32
  for (let i = 0; i < 32; i++) t.equal(b.take('10.0.0.1'), 0);
  t.equal(b.take('10.0.0.1'), 100, 'past its address\'s burst, at 10 a second: a tenth of a second');
  t.equal(b.take('10.0.0.1'), 200);
  t.equal(b.take('10.0.0.2'), 30, 'another address is held only by the switch (past its burst, 100 a second)');
  t.equal(b.delayed, 3);
  t.ok(b.left() < 0, 'the switch owes turns');
  now = 10_000;
  t.equal(b.take('10.0.0.1'), 0, 'repaid');
  t.equal(new SignOnBudget(2000, 50).left(), 200, 'the switch\'s burst is a tenth of a second of its rate');
});
