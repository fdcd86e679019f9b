import t from 'tap';
import { CardGate } from '../../src/switch/card-gate.js';

t.test('the card gate lets `max` requests of a card through at once, refuses the next at once, and frees a place as each ends', async (t) => {
  const gate = new CardGate(2);
  const release: Array<() => void> = [];
  const held = () => gate.through('A', () => new Promise<string>((r) => release.push(() => r('done'))));
  const first = held();
  const second = held();
  t.equal(await gate.through('A', async () => 'third'), null, 'a third of card A is refused');
  t.equal(await gate.through('B', async () => 'other card'), 'other card', 'another card is not held up');
  t.equal(gate.refused, 1);
  release.shift()!();
  t.equal(await first, 'done');
  t.equal(await gate.through('A', async () => 'after'), 'after', 'a place freed is taken again');
  await t.rejects(gate.through('A', async () => { throw new Error('ledger failed'); }), /ledger failed/, 'a failure passes through');
  t.equal(await gate.through('A', async () => 'after a failure'), 'after a failure', 'and frees its place too');
  release.shift()!();
  t.equal(await second, 'done');
  t.equal(gate.cards, 0, 'no card left counted');
  t.throws(() => new CardGate(0), RangeError);
});
