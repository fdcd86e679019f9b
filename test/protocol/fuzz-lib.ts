// Shared by `npm run fuzz`, the small fuzz run in the test suite and the property tests: a seeded PRNG,
// random valid messages, mutators, and the check every input must pass.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { CodecError, Deframer, decode, encode, frame, unionPayPosFields, type IsoMessage } from '../../protocol/index.js';

export type Rng = () => number; // uniform in [0, 1)

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function rngFrom(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const HEX = '0123456789ABCDEF';
const hexString = (rng: Rng, n: number) => { let s = ''; for (let i = 0; i < n; i++) s += HEX[int(rng, 16)]; return s; };
const digitString = (rng: Rng, n: number) => { let s = ''; for (let i = 0; i < n; i++) s += String.fromCharCode(48 + int(rng, 10)); return s; };
const latin1String = (rng: Rng, n: number) => { let s = ''; for (let i = 0; i < n; i++) s += String.fromCharCode(int(rng, 256)); return s; };
const POS_MTIS = ['0800', '0810', '0820', '0830', '0200', '0210', '0220', '0230', '0400', '0410', '0500', '0510', '0320', '0330', '0920', '0930'];

/** A random message every field of which fits its spec (any field 2-64, sometimes a secondary-bitmap field). */
export function randomMessage(rng: Rng): IsoMessage {
  const fields: IsoMessage['fields'] = {};
  const pads: Record<number, number> = {};
  const count = 1 + int(rng, 20);
  for (let i = 0; i < count; i++) {
    const f = rng() < 0.05 ? 65 + int(rng, 64) : 2 + int(rng, 63);
    const s = unionPayPosFields[f]!;
    // Mostly short variable values; now and then up to the maximum.
    const len = s.prefix === 'fixed' ? s.length : rng() < 0.1 ? s.length : int(rng, Math.min(s.length, 40) + 1);
    if (s.type === 'n') fields[f] = digitString(rng, len);
    else if (s.type === 'z') fields[f] = hexString(rng, len);
    else if (s.type === 'b') fields[f] = Buffer.from(hexString(rng, 2 * len), 'hex');
    else fields[f] = latin1String(rng, len);
    if ((s.type === 'n' || s.type === 'z') && len % 2 === 1 && rng() < 0.3) pads[f] = 1 + int(rng, 15);
    else delete pads[f];
  }
  const msg: IsoMessage = {
    tpdu: { id: hexString(rng, 2), destination: hexString(rng, 4), source: hexString(rng, 4) },
    header: hexString(rng, 12),
    mti: rng() < 0.8 ? POS_MTIS[int(rng, POS_MTIS.length)]! : digitString(rng, 4),
    fields,
  };
  if (Object.keys(pads).length > 0) msg.pads = pads;
  return msg;
}

/** One random mutation of `input`: flips, overwrites, inserts, deletes, truncation, splices, length tweaks. */
export function mutate(rng: Rng, input: Buffer): Buffer {
  const b = Buffer.from(input);
  const at = b.length > 0 ? int(rng, b.length) : 0;
  switch (int(rng, 8)) {
    case 0: if (b.length) b[at] = b[at]! ^ (1 << int(rng, 8)); return b;
    case 1: if (b.length) b[at] = int(rng, 256); return b;
    case 2: return Buffer.concat([b.subarray(0, at), Buffer.from([int(rng, 256)]), b.subarray(at)]);
    case 3: return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rng, 8))]);
    case 4: return b.subarray(0, at);
    case 5: { const from = int(rng, b.length + 1); return Buffer.concat([b.subarray(0, at), b.subarray(from, from + int(rng, 32)), b.subarray(at)]); }
    case 6: if (b.length) b[at] = [0x00, 0x99, 0x9a, 0xff, 0x01, 0x10, 0x80, 0x7f][int(rng, 8)]!; return b; // interesting BCD/bitmap bytes
    default: { // set a bitmap bit
      if (b.length >= 21) { const k = 13 + int(rng, 8); b[k] = b[k]! | (0x80 >> int(rng, 8)); }
      return b;
    }
  }
}

const KINDS = new Set(['frame-too-long', 'frame-length-mismatch', 'truncated', 'bad-bitmap', 'bad-field', 'unknown-field']);

/**
 * The rule for any frame body: decode never throws; success re-encodes to the same bytes, and its values
 * hold no more than 2 characters/bytes per input byte (no allocation beyond the frame); failure is a
 * CodecError of a known kind, with an offset inside the body and no long digit runs (card data) in its text.
 * Returns null, or what went wrong.
 */
export function checkBody(body: Buffer): string | null {
  let r: ReturnType<typeof decode>;
  try {
    r = decode(body);
  } catch (e) {
    return `decode threw: ${String(e)}`;
  }
  if (r.ok) {
    let held = 0;
    for (const v of Object.values(r.message.fields)) held += v === undefined ? 0 : v.length;
    if (held > 2 * body.length) return `decoded values hold ${held} units from ${body.length} bytes`;
    let again: Buffer;
    try {
      again = encode(r.message);
    } catch (e) {
      return `re-encode threw: ${String(e)}`;
    }
    return again.equals(body) ? null : 'decode -> encode is not byte-exact';
  }
  const e = r.error;
  if (!(e instanceof CodecError)) return 'error is not a CodecError';
  if (!KINDS.has(e.kind)) return `unknown error kind ${e.kind}`;
  if (!(e.offset >= 0 && e.offset <= body.length)) return `offset ${e.offset} outside the body of ${body.length}`;
  if (/\d{7,}/.test(e.message)) return `error message carries a long digit run: ${e.message}`;
  return null;
}

/** The de-framer on a random chunking of `stream`: never throws, never holds more than frameBytesMax + 2. */
export function checkDeframer(rng: Rng, stream: Buffer, frameBytesMax: number): string | null {
  const d = new Deframer({ frameBytesMax });
  try {
    for (let p = 0; p < stream.length;) {
      const n = 1 + int(rng, 300);
      for (const item of d.push(stream.subarray(p, p + n))) {
        if (item.ok && item.body.length > frameBytesMax) return 'a body over frameBytesMax was delivered';
        if (!item.ok && !(item.error instanceof CodecError)) return 'a de-framer error is not a CodecError';
      }
      if (d.pendingBytes() > frameBytesMax + 2) return `pending ${d.pendingBytes()} over frameBytesMax + 2`;
      p += n;
    }
  } catch (e) {
    return `de-framer threw: ${String(e)}`;
  }
  return null;
}

export const corpusDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');

/** The checked-in corpus: frame bodies as hex, one file each. */
export function loadCorpus(): Array<{ name: string; body: Buffer }> {
  return readdirSync(corpusDir).filter((f) => f.endsWith('.hex')).sort().map((name) => ({
    name,
    body: Buffer.from(readFileSync(path.join(corpusDir, name), 'latin1').replace(/\s+/g, ''), 'hex'),
  }));
}

export interface FuzzSummary { inputs: number; decodedOk: number; errors: Record<string, number>; deframerStreams: number; failures: string[] }

/**
 * Run `inputs` inputs: a third random bytes, a half mutations (1-4 deep) of corpus entries and of fresh random
 * valid messages, the rest fresh valid messages; every 1,000th also goes through the de-framer as a stream.
 */
export function runFuzz(o: { seed: number; inputs: number; onProgress?: (done: number, s: FuzzSummary) => void; progressEvery?: number }): FuzzSummary {
  const rng = rngFrom(o.seed);
  const corpus = loadCorpus().map((c) => c.body);
  const s: FuzzSummary = { inputs: 0, decodedOk: 0, errors: {}, deframerStreams: 0, failures: [] };
  const pool: Buffer[] = [...corpus];
  for (let i = 0; i < o.inputs; i++) {
    const pick = rng();
    let input: Buffer;
    if (pick < 0.3) {
      const len = int(rng, 4) === 0 ? int(rng, 21) : int(rng, 400);
      input = Buffer.allocUnsafe(len);
      for (let k = 0; k < len; k++) input[k] = int(rng, 256);
      if (len >= 21 && rng() < 0.5) Buffer.from('0200', 'hex').copy(input, 11); // get past the MTI more often
    } else if (pick < 0.85) {
      input = pool[int(rng, pool.length)]!;
      for (let d = 1 + int(rng, 4); d > 0; d--) input = mutate(rng, input);
    } else {
      input = encode(randomMessage(rng));
      if (pool.length < 2000) pool.push(input);
      else pool[corpus.length + int(rng, pool.length - corpus.length)] = input;
    }
    const failure = checkBody(input);
    if (failure) s.failures.push(`input ${i} (${input.toString('hex')}): ${failure}`);
    const r = decode(input);
    if (r.ok) s.decodedOk++;
    else s.errors[r.error.kind] = (s.errors[r.error.kind] ?? 0) + 1;
    if (i % 1000 === 0) {
      const frames = [frame(input.subarray(0, 0xffff))];
      for (let k = int(rng, 5); k > 0; k--) frames.push(frame(pool[int(rng, pool.length)]!));
      const stream = rng() < 0.5 ? Buffer.concat(frames) : mutate(rng, Buffer.concat(frames));
      const df = checkDeframer(rng, stream, 64 + int(rng, 1024));
      if (df) s.failures.push(`de-framer stream at input ${i} (${stream.toString('hex')}): ${df}`);
      s.deframerStreams++;
    }
    s.inputs++;
    if (s.failures.length >= 10) break;
    if (o.onProgress && (i + 1) % (o.progressEvery ?? 100_000) === 0) o.onProgress(i + 1, s);
  }
  return s;
}
