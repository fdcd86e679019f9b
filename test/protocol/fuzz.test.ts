// The small fuzz run of the test suite (npm run fuzz runs >= 1,000,000). Seed printed so a failure replays.
import t from 'tap';
import { checkBody, loadCorpus, runFuzz } from './fuzz-lib.js';

const seed = Number(process.env.FUZZ_SEED ?? 20241122);

t.test('every checked-in corpus entry passes the fuzz rule', async (t) => {
  const corpus = loadCorpus();
  t.ok(corpus.length >= 20, `${corpus.length} corpus entries`);
  for (const c of corpus) t.equal(checkBody(c.body), null, c.name);
});

t.test(`20,000 random and mutated inputs end as a byte-exact message or a typed error (seed ${seed})`, async (t) => {
  t.comment(`fuzz seed ${seed}`);
  const s = runFuzz({ seed, inputs: 20_000 });
  t.same(s.failures, [], 'no failures');
  t.equal(s.inputs, 20_000);
  t.ok(s.decodedOk > 1000, `some inputs decode (${s.decodedOk})`);
  t.ok(Object.keys(s.errors).length >= 3, `several error kinds are reached: ${JSON.stringify(s.errors)}`);
});
