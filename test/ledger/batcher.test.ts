// The micro-batcher alone (no servers): what goes in a batch, how many are in flight, per-card order, the
// fallback when a batch fails, and that the next batch is sent before the last one's callers are answered.
import t from 'tap';
import { Batcher, type BatcherOptions } from '../../src/ledger/batcher.js';

interface Item { id: number; card: string; fail?: boolean }

/** A batcher whose batches wait until the test settles them; records every batch and every event in order. */
function harness(o: Partial<BatcherOptions<Item, string>> = {}) {
  const events: string[] = [];
  const batches: Array<{ items: Item[]; settle(ok: boolean): void }> = [];
  const b = new Batcher<Item, string>({
    batchDebitsMax: 4, batchWaitMs: 0, inflightMax: 2, groupOf: (i) => i.card,
    run: (items) => new Promise<string[]>((resolve, reject) => {
      events.push(`run ${items.map((i) => i.id).join(',')}`);
      batches.push({ items, settle: (ok) => (ok ? resolve(items.map((i) => `r${i.id}`)) : reject(new Error('batch failed'))) });
    }),
    runOne: async (i) => {
      events.push(`alone ${i.id}`);
      if (i.fail) throw new Error(`item ${i.id} failed`);
      return `a${i.id}`;
    },
    ...o,
  });
  const submit = (i: Item) => b.submit(i).then((r) => { events.push(`answered ${i.id}`); return r; });
  return { b, events, batches, submit };
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('items of one tick go in one batch, each caller gets its own result in order, at most batchDebitsMax a batch', async (t) => {
  const { batches, submit } = harness();
  const ps = [1, 2, 3, 4, 5].map((id) => submit({ id, card: `c${id}` }));
  await tick();
  t.same(batches.map((x) => x.items.map((i) => i.id)), [[1, 2, 3, 4], [5]], 'four, then the fifth in a second batch');
  batches[0]!.settle(true);
  batches[1]!.settle(true);
  t.same(await Promise.all(ps), ['r1', 'r2', 'r3', 'r4', 'r5']);
});

t.test('at most inflightMax batches in flight; the queue goes when a slot frees', async (t) => {
  const { batches, submit } = harness({ batchDebitsMax: 1 });
  const ps = [1, 2, 3].map((id) => submit({ id, card: `c${id}` }));
  await tick();
  t.equal(batches.length, 2, 'two in flight, the third waits');
  batches[0]!.settle(true);
  await tick();
  t.equal(batches.length, 3, 'the third went when the first came back');
  batches[1]!.settle(true);
  batches[2]!.settle(true);
  t.same(await Promise.all(ps), ['r1', 'r2', 'r3']);
});

t.test('one card never twice in a batch, nor in a batch while its earlier debit is in flight; its debits keep their order', async (t) => {
  const { batches, submit } = harness();
  const ps = [submit({ id: 1, card: 'x' }), submit({ id: 2, card: 'x' }), submit({ id: 3, card: 'y' }), submit({ id: 4, card: 'x' })];
  await tick();
  t.same(batches.map((x) => x.items.map((i) => i.id)), [[1, 3]], 'the card\'s later debits wait for the first');
  batches[0]!.settle(true);
  await tick();
  t.same(batches[1]!.items.map((i) => i.id), [2], 'then the second, alone for its card');
  batches[1]!.settle(true);
  await tick();
  t.same(batches[2]!.items.map((i) => i.id), [4], 'then the third');
  batches[2]!.settle(true);
  t.same(await Promise.all(ps), ['r1', 'r2', 'r3', 'r4']);
});

t.test('a failed batch runs each item alone; one item failing fails only its caller; its cards stay busy until then', async (t) => {
  const told: Array<[string, number]> = [];
  const { b, batches, submit, events } = harness({ onFallback: (err, size) => { told.push([(err as Error).message, size]); } });
  const ok = submit({ id: 1, card: 'x' });
  const bad = submit({ id: 2, card: 'y', fail: true });
  await tick();
  const later = submit({ id: 3, card: 'x' });
  batches[0]!.settle(false);
  t.equal(await ok, 'a1', 'run alone after the batch failed');
  await t.rejects(bad, /item 2 failed/, 'the failing item fails its own caller');
  t.equal(b.stats.fallbacks, 1);
  t.same(told, [['batch failed', 2]], 'told why the batch failed, and its size, once');
  await tick();
  const run3 = events.indexOf('run 3');
  t.ok(run3 > events.indexOf('alone 1'), 'the card\'s next debit went only after its earlier one ran alone');
  batches[1]!.settle(true);
  t.equal(await later, 'r3');
});

t.test('the next batch goes to Postgres before the callers of the last one are answered', async (t) => {
  const { batches, submit, events } = harness({ inflightMax: 1 });
  const first = [submit({ id: 1, card: 'a' }), submit({ id: 2, card: 'b' })];
  await tick();
  const second = [submit({ id: 3, card: 'c' }), submit({ id: 4, card: 'd' })];
  await tick();
  t.equal(batches.length, 1, 'one slot: the second batch waits');
  batches[0]!.settle(true);
  await Promise.all(first);
  t.ok(events.indexOf('run 3,4') >= 0 && events.indexOf('run 3,4') < events.indexOf('answered 1'),
    `sent before the first batch was answered: ${events.join(' | ')}`);
  batches[1]!.settle(true);
  t.same(await Promise.all(second), ['r3', 'r4']);
});
