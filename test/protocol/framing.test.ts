import t from 'tap';
import { CodecError, Deframer, encode, frame, unframe, responseTpdu, type DeframeItem } from '../../protocol/index.js';
import { posMessages } from './messages.js';

const bodies = Object.values(posMessages).map((m) => encode(m));
const stream = Buffer.concat(bodies.map(frame));

function bodiesOf(items: DeframeItem[]): Buffer[] {
  return items.map((i) => {
    if (!i.ok) throw i.error;
    return i.body;
  });
}

t.test('frame prefixes a 2-byte big-endian length counting the bytes after it', async (t) => {
  const f = frame(bodies[0]!);
  t.equal(f.readUInt16BE(0), bodies[0]!.length);
  t.ok(f.subarray(2).equals(bodies[0]!));
});

t.test('unframe rejects a length prefix that disagrees with the bytes', async (t) => {
  const f = frame(bodies[0]!);
  const u = unframe(f);
  t.ok(u.ok && u.body.equals(bodies[0]!));
  for (const bad of [Buffer.concat([f, Buffer.from([0])]), f.subarray(0, f.length - 1)]) {
    const r = unframe(bad);
    t.equal(r.ok ? 'ok' : r.error.kind, 'frame-length-mismatch');
  }
});

t.test('the de-framer yields the same messages for any split of the stream', async (t) => {
  const whole = bodiesOf(new Deframer({ frameBytesMax: 2048 }).push(stream));
  t.equal(whole.length, bodies.length, 'all in one chunk');
  whole.forEach((b, i) => t.ok(b.equals(bodies[i]!)));

  const d1 = new Deframer({ frameBytesMax: 2048 });
  const oneByte: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) oneByte.push(...bodiesOf(d1.push(stream.subarray(i, i + 1))));
  t.same(oneByte, whole, 'one byte at a time');
  t.equal(d1.pendingBytes(), 0);

  // Every split point into two chunks, and a few random chunkings (fixed seed).
  let seed = 12345;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let cut = 0; cut <= stream.length; cut += 7) {
    const d = new Deframer({ frameBytesMax: 2048 });
    const got = [...bodiesOf(d.push(stream.subarray(0, cut))), ...bodiesOf(d.push(stream.subarray(cut)))];
    if (got.length !== whole.length || got.some((b, i) => !b.equals(whole[i]!))) t.fail(`split at ${cut}`);
  }
  for (let run = 0; run < 50; run++) {
    const d = new Deframer({ frameBytesMax: 2048 });
    const got: Buffer[] = [];
    for (let p = 0; p < stream.length;) { const n = 1 + rand(64); got.push(...bodiesOf(d.push(stream.subarray(p, p + n)))); p += n; }
    if (got.length !== whole.length || got.some((b, i) => !b.equals(whole[i]!))) t.fail(`random chunking ${run}`);
  }
  t.pass('all splits agree');
});

t.test('a partial frame is held, and pendingBytes says how much', async (t) => {
  const d = new Deframer({ frameBytesMax: 2048 });
  const f = frame(bodies[0]!);
  t.same(d.push(f.subarray(0, 10)), []);
  t.equal(d.pendingBytes(), 10);
  t.equal(d.push(f.subarray(10)).length, 1);
  t.equal(d.pendingBytes(), 0);
});

t.test('a frame over frameBytesMax is a typed error, its bytes are skipped unbuffered, and later frames still arrive', async (t) => {
  const big = Buffer.alloc(3000, 0x41);
  const s = Buffer.concat([frame(bodies[0]!), frame(big), frame(bodies[1]!)]);
  for (const chunk of [s.length, 1, 100]) {
    const d = new Deframer({ frameBytesMax: 1024 });
    const items: DeframeItem[] = [];
    let pendingMax = 0;
    for (let p = 0; p < s.length; p += chunk) { items.push(...d.push(s.subarray(p, p + chunk))); pendingMax = Math.max(pendingMax, d.pendingBytes()); }
    t.equal(items.length, 3, `chunk ${chunk}: 3 items`);
    t.ok(items[0]!.ok && items[2]!.ok, 'the frames around it are delivered');
    const e = items[1]!;
    t.ok(!e.ok && e.error instanceof CodecError && e.error.kind === 'frame-too-long', 'frame-too-long');
    if (!e.ok) t.equal(e.error.offset, bodies[0]!.length + 2, 'stream offset of the long frame');
    t.ok(pendingMax <= 1026, `never holds more than frameBytesMax + 2 (held ${pendingMax})`);
  }
});

t.test('a response TPDU swaps destination and source', async (t) => {
  t.same(responseTpdu({ id: '60', destination: '0003', source: '0001' }), { id: '60', destination: '0001', source: '0003' });
});
