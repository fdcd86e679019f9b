// Property tests with random valid messages. The seed is printed; FUZZ_SEED=... replays a failure.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { decode, describe, encode, frame, messageFromJson, Deframer, type IsoMessage } from '../../protocol/index.js';
import { randomMessage, rngFrom } from './fuzz-lib.js';

const seed = Number(process.env.FUZZ_SEED ?? 8583);

t.test(`random valid messages: encode -> decode gives the message back, decode -> encode the bytes (seed ${seed})`, async (t) => {
  t.comment(`property seed ${seed}`);
  const rng = rngFrom(seed);
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const m = randomMessage(rng);
    const body = encode(m);
    const r = decode(body);
    if (!r.ok) { t.fail(`message ${i}: ${r.error.message}`); break; }
    const expected: IsoMessage = { ...m };
    if (m.pads) {
      // Only pads of odd-length n/z fields that are present travel on the wire.
      const pads = Object.fromEntries(Object.entries(m.pads).filter(([f]) => typeof m.fields[Number(f)] === 'string' && (m.fields[Number(f)] as string).length % 2 === 1));
      if (Object.keys(pads).length) expected.pads = pads; else delete expected.pads;
    }
    if (!isDeepStrictEqual(r.message, expected)) { t.same(r.message, expected, `message ${i}`); break; }
    if (!encode(r.message).equals(body)) { t.fail(`message ${i}: not byte-exact`); break; }
    checked++;
  }
  t.equal(checked, 3000);
});

t.test(`random streams of random valid messages de-frame to the same bodies under random chunking (seed ${seed})`, async (t) => {
  const rng = rngFrom(seed + 1);
  for (let run = 0; run < 100; run++) {
    const bodies = Array.from({ length: 1 + Math.floor(rng() * 10) }, () => encode(randomMessage(rng)));
    const stream = Buffer.concat(bodies.map(frame));
    const d = new Deframer({ frameBytesMax: 0xffff });
    const got: Buffer[] = [];
    for (let p = 0; p < stream.length;) {
      const n = 1 + Math.floor(rng() * 200);
      for (const item of d.push(stream.subarray(p, p + n))) if (item.ok) got.push(item.body);
      p += n;
    }
    if (got.length !== bodies.length || got.some((b, i) => !b.equals(bodies[i]!))) { t.fail(`run ${run}`); return; }
  }
  t.pass('100 streams');
});

t.test(`random valid messages survive describe --unmasked -> JSON -> messageFromJson, the iso encode path (seed ${seed})`, async (t) => {
  const rng = rngFrom(seed + 2);
  for (let i = 0; i < 1000; i++) {
    const m = encode(randomMessage(rng));
    const r = decode(m);
    if (!r.ok) { t.fail(r.error.message); return; }
    const back = messageFromJson(JSON.parse(JSON.stringify(describe(r.message, { unmasked: true }))));
    if (!encode(back).equals(m)) { t.fail(`message ${i} (${m.toString('hex')})`); return; }
  }
  t.pass('1000 messages');
});
