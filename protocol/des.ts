// DES and 3DES block operations in ECB, table-driven in TypeScript.
//
// Why not OpenSSL (node:crypto): a MAC is two block encryptions of 8 bytes, and every request and answer has
// one, on the switch and on the simulator. Through node:crypto each 8-byte update() crosses into C++ and
// allocates its result, and with four MACs a purchase that crossing was a large share of the switch's and the
// simulator's CPU per purchase. Here a block is 16 rounds of eight table look-ups on 32-bit
// integers, with each key's schedule made once and kept: `npm run bench:codec` measures both in the same run.
// The test (test/protocol/des.test.ts) checks every function against OpenSSL (test/protocol/openssl-des.ts)
// on random keys and data and on the published vectors.
//
// Table look-ups are indexed by key and data bits, as in OpenSSL's own DES (DES_SPtrans): not constant-time
// against an attacker who can time this process's cache; the MAC comparison itself is (mac.ts).
// Tables and bit numbering are FIPS 46-3's: bit 1 is the most significant bit of the first byte.
// Single-length keys are plain DES; double-length keys are 2-key 3DES (K1, K2, K1); triple-length 3-key.
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
const P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25];
const S = [
  [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
  [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
  [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
  [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
  [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
  [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
  [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
  [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
  63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
  41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/** Bit `n` (1-based, MSB-first) of a 32-bit word as its mask. */
const bit32 = (n: number) => (0x80000000 >>> (n - 1)) | 0;

/** SP[box * 64 + six input bits]: that S-box's output, in its place, through P. */
const SP = new Int32Array(8 * 64);
for (let box = 0; box < 8; box++) {
  for (let v = 0; v < 64; v++) {
    const row = ((v >> 4) & 2) | (v & 1);
    const col = (v >> 1) & 15;
    const s = S[box]![row * 16 + col]!;
    let out = 0;
    for (let b = 0; b < 4; b++) {
      if (s & (8 >> b)) {
        const from = box * 4 + b + 1;               // position of this output bit before P
        out |= bit32(P.indexOf(from) + 1);          // P: output bit i is input bit P[i-1]
      }
    }
    SP[box * 64 + v] = out;
  }
}

/**
 * A 64-bit permutation as byte tables: T[(byte index * 256 + byte value) * 2 + 0|1] holds the high and low
 * output words that byte's set bits land in. `table[i]` is the input bit of output bit i + 1.
 */
function byteTables(table: number[]): Int32Array {
  const t = new Int32Array(8 * 256 * 2);
  for (let out = 1; out <= 64; out++) {
    const src = table[out - 1]! - 1;
    const byte = src >> 3;
    const mask = 0x80 >> (src & 7);
    for (let v = 0; v < 256; v++) {
      if (v & mask) t[(byte * 256 + v) * 2 + (out <= 32 ? 0 : 1)]! |= bit32(out <= 32 ? out : out - 32);
    }
  }
  return t;
}
const FP = new Array<number>(64);
IP.forEach((src, i) => { FP[src - 1] = i + 1; });
const IPT = byteTables(IP);
const FPT = byteTables(FP);

/** The 16 round keys of one 8-byte key, as 8 six-bit groups each (128 bytes), in encryption order. */
function schedule(key: Buffer, at: number): Uint8Array {
  const keyBit = (n: number) => (key[at + ((n - 1) >> 3)]! >> (7 - ((n - 1) & 7))) & 1;
  // C and D as 28-bit integers, bit 1 of each the most significant.
  let c = 0, d = 0;
  for (let i = 0; i < 28; i++) {
    c = (c << 1) | keyBit(PC1[i]!);
    d = (d << 1) | keyBit(PC1[28 + i]!);
  }
  const ks = new Uint8Array(128);
  for (let round = 0; round < 16; round++) {
    const shift = SHIFTS[round]!;
    c = ((c << shift) | (c >>> (28 - shift))) & 0x0fffffff;
    d = ((d << shift) | (d >>> (28 - shift))) & 0x0fffffff;
    for (let g = 0; g < 8; g++) {
      let six = 0;
      for (let b = 0; b < 6; b++) {
        const n = PC2[g * 6 + b]!;                   // bit n of C||D (1-based)
        six = (six << 1) | (n <= 28 ? (c >>> (28 - n)) & 1 : (d >>> (56 - n)) & 1);
      }
      ks[round * 8 + g] = six;
    }
  }
  return ks;
}

/**
 * The schedule of a whole operation: 16 × 8 groups per DES pass, one pass (DES) or three (3DES E-D-E for
 * encryption, D-E-D with the keys in reverse for decryption), with decryption passes' rounds reversed.
 */
interface Plan { passes: number; ks: Uint8Array }

function plan(key: Buffer, decrypt: boolean): Plan {
  if (key.length !== 8 && key.length !== 16 && key.length !== 24) throw new RangeError(`a DES key is 8, 16 or 24 bytes, not ${key.length}`);
  const k1 = schedule(key, 0);
  if (key.length === 8) return { passes: 1, ks: decrypt ? reversed(k1) : k1 };
  const k2 = schedule(key, 8);
  const k3 = key.length === 24 ? schedule(key, 16) : k1;
  const ks = new Uint8Array(3 * 128);
  // E(k1) D(k2) E(k3); its inverse is D(k3) E(k2) D(k1).
  const passes = decrypt ? [reversed(k3), k2, reversed(k1)] : [k1, reversed(k2), k3];
  passes.forEach((p, i) => ks.set(p, i * 128));
  return { passes: 3, ks };
}

function reversed(ks: Uint8Array): Uint8Array {
  const r = new Uint8Array(128);
  for (let i = 0; i < 128; i++) r[i] = ks[(15 - (i >> 3)) * 8 + (i & 7)]!;
  return r;
}

// One schedule per key and direction, made once: the keys are the ones the caller already holds in memory.
// Found by a hash of the key's bytes (no string made per call), then the bytes compared; a bounded map.
interface Held { key: Uint8Array; encrypt: Plan | null; decrypt: Plan | null }
// Bounded: past this many keys in use the map is cleared and schedules are remade, a cost per key far above a
// block's, paid only by a switch serving more terminals than the bound at once.
const heldMax = 16_384;
const held = new Map<number, Held>();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function planFor(key: Buffer, decrypt: boolean): Plan {
  let h = 0x811c9dc5;                               // FNV-1a, kept to 30 bits (a small integer key)
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i]!, 16777619);
  h &= 0x3fffffff;
  let e = held.get(h);
  if (e === undefined || !sameBytes(e.key, key)) {
    if (held.size >= heldMax) held.clear();
    e = { key: Uint8Array.from(key), encrypt: null, decrypt: null };
    held.set(h, e);
  }
  if (decrypt) return e.decrypt ??= plan(key, true);
  return e.encrypt ??= plan(key, false);
}

/** Runs the plan on the 8 bytes of `src` at `from`, writing 8 bytes to `dst` at `to` (may be the same place). */
function block(pl: Plan, src: Uint8Array, from: number, dst: Uint8Array, to: number): void {
  let l = 0, r = 0;
  for (let i = 0; i < 8; i++) {
    const at = (i * 256 + src[from + i]!) * 2;
    l |= IPT[at]!;
    r |= IPT[at + 1]!;
  }
  const ks = pl.ks;
  for (let pass = 0; pass < pl.passes; pass++) {
    // Between passes FP then IP cancel out, leaving only the final swap undone.
    if (pass > 0) { const t = l; l = r; r = t; }
    for (let round = 0, k = pass * 128; round < 16; round++, k += 8) {
      // E expands R into eight 6-bit groups; group g is bits 4g .. 4g+5 of R (cyclic), i.e. R rotated left
      // by 4g - 1, top six bits.
      const f =
        SP[((((r >>> 1) | (r << 31)) >>> 26) ^ ks[k]!)]! |
        SP[64 + ((((r << 3) | (r >>> 29)) >>> 26) ^ ks[k + 1]!)]! |
        SP[128 + ((((r << 7) | (r >>> 25)) >>> 26) ^ ks[k + 2]!)]! |
        SP[192 + ((((r << 11) | (r >>> 21)) >>> 26) ^ ks[k + 3]!)]! |
        SP[256 + ((((r << 15) | (r >>> 17)) >>> 26) ^ ks[k + 4]!)]! |
        SP[320 + ((((r << 19) | (r >>> 13)) >>> 26) ^ ks[k + 5]!)]! |
        SP[384 + ((((r << 23) | (r >>> 9)) >>> 26) ^ ks[k + 6]!)]! |
        SP[448 + ((((r << 27) | (r >>> 5)) >>> 26) ^ ks[k + 7]!)]!;
      const t = r;
      r = l ^ f;
      l = t;
    }
  }
  // The pre-output is R16 L16.
  let hi = 0, lo = 0;
  for (let i = 0; i < 4; i++) {
    const a = (i * 256 + ((r >>> (24 - 8 * i)) & 255)) * 2;
    hi |= FPT[a]!; lo |= FPT[a + 1]!;
    const b = ((i + 4) * 256 + ((l >>> (24 - 8 * i)) & 255)) * 2;
    hi |= FPT[b]!; lo |= FPT[b + 1]!;
  }
  dst[to] = hi >>> 24; dst[to + 1] = hi >>> 16; dst[to + 2] = hi >>> 8; dst[to + 3] = hi;
  dst[to + 4] = lo >>> 24; dst[to + 5] = lo >>> 16; dst[to + 6] = lo >>> 8; dst[to + 7] = lo;
}

function run(key: Buffer, data: Uint8Array, decrypt: boolean, out: Buffer = Buffer.allocUnsafe(data.length)): Buffer {
  if (data.length % 8 !== 0) throw new RangeError('DES data must be whole 8-byte blocks');
  const pl = planFor(key, decrypt);
  for (let i = 0; i < data.length; i += 8) block(pl, data, i, out, i);
  return out;
}

/** ECB-encrypt whole 8-byte blocks (no padding): DES for an 8-byte key, 3DES for 16 or 24 bytes. */
export function tdesEncrypt(key: Buffer, data: Uint8Array): Buffer {
  return run(key, data, false);
}

/** ECB-decrypt whole 8-byte blocks (no padding). */
export function tdesDecrypt(key: Buffer, data: Uint8Array): Buffer {
  return run(key, data, true);
}

/** Encrypts the 8 bytes at `buf[at]` in place (no allocation: the MAC's inner loop). */
export function encryptBlockInPlace(key: Buffer, buf: Uint8Array, at = 0): void {
  block(planFor(key, false), buf, at, buf, at);
}

/** Single DES of whole blocks under the first 8 bytes of `key`. */
export function desEncrypt(key8: Buffer, data: Uint8Array): Buffer {
  return tdesEncrypt(key8.subarray(0, 8), data);
}

export function desDecrypt(key8: Buffer, data: Uint8Array): Buffer {
  return tdesDecrypt(key8.subarray(0, 8), data);
}
