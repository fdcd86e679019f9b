// Field encodings, once each: BCD digits (n), BCD track nibbles (z), latin1 text (an/ans), binary (b).
// Hot path: lookup tables, no per-call closures, no intermediate strings beyond the value itself.

const HEX = '0123456789ABCDEF';
/** byte -> two upper-case hex characters */
export const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => HEX[i >> 4]! + HEX[i & 15]!);
/** char code -> nibble value (0-15) for 0-9 A-F a-f, and '=' as D; -1 otherwise. */
export const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) { NIBBLE[65 + i] = 10 + i; NIBBLE[97 + i] = 10 + i; }
NIBBLE[61] = 13; // '=' is written as D

/**
 * Decode `digits` nibbles starting at byte `start`. `leftAligned`: an odd count's pad nibble is the last one,
 * otherwise the first. `hexAllowed` false (n): returns null if a nibble that is not a pad is above 9.
 */
export function bcdDecode(buf: Buffer, start: number, digits: number, leftAligned: boolean, hexAllowed: boolean): string | null {
  const odd = digits & 1;
  let s = '';
  let i = start;
  let remaining = digits;
  if (odd && !leftAligned) {
    const lo = buf[i++]! & 15;
    if (!hexAllowed && lo > 9) return null;
    s = HEX[lo]!;
    remaining--;
  }
  const pairsEnd = i + (remaining >> 1);
  if (hexAllowed) {
    for (; i < pairsEnd; i++) s += BYTE_HEX[buf[i]!]!;
  } else {
    for (; i < pairsEnd; i++) {
      const v = buf[i]!;
      if (v > 0x99 || (v & 15) > 9) return null;
      s += BYTE_HEX[v]!;
    }
  }
  if (odd && leftAligned) {
    const hi = buf[i]! >> 4;
    if (!hexAllowed && hi > 9) return null;
    s += HEX[hi]!;
  }
  return s;
}

/** The pad nibble of an odd-length BCD value (0 for an even one). */
export function bcdPad(buf: Buffer, start: number, digits: number, leftAligned: boolean): number {
  if ((digits & 1) === 0) return 0;
  return leftAligned ? buf[start + (digits >> 1)]! & 15 : buf[start]! >> 4;
}

/**
 * Write `value` as BCD at `start`; returns bytes written, or -1 if a character is not allowed
 * (n: digits only; z: 0-9 A-F and '=').
 */
export function bcdEncode(value: string, out: Buffer, start: number, leftAligned: boolean, pad: number, hexAllowed: boolean): number {
  const len = value.length;
  const limit = hexAllowed ? 15 : 9;
  let o = start;
  let i = 0;
  if ((len & 1) && !leftAligned) {
    const c = value.charCodeAt(0);
    const v = c < 128 ? NIBBLE[c]! : -1;
    if (v < 0 || v > limit || (!hexAllowed && c === 61)) return -1;
    out[o++] = (pad << 4) | v;
    i = 1;
  }
  for (; i + 1 < len; i += 2) {
    const c1 = value.charCodeAt(i);
    const c2 = value.charCodeAt(i + 1);
    const hi = c1 < 128 ? NIBBLE[c1]! : -1;
    const lo = c2 < 128 ? NIBBLE[c2]! : -1;
    if (hi < 0 || lo < 0 || hi > limit || lo > limit) return -1;
    if (!hexAllowed && (c1 === 61 || c2 === 61)) return -1;
    out[o++] = (hi << 4) | lo;
  }
  if (i < len) {
    const c = value.charCodeAt(i);
    const v = c < 128 ? NIBBLE[c]! : -1;
    if (v < 0 || v > limit || (!hexAllowed && c === 61)) return -1;
    out[o++] = (v << 4) | pad;
  }
  return o - start;
}

/** latin1: one byte per character, bytes kept exactly (never UTF-8). */
export function latin1Decode(buf: Buffer, start: number, length: number): string {
  if (length > 24) return buf.toString('latin1', start, start + length);
  let s = '';
  for (let i = start, end = start + length; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/** Returns bytes written, or -1 if a character is above U+00FF. */
export function latin1Encode(value: string, out: Buffer, start: number): number {
  const len = value.length;
  for (let i = 0; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c > 255) return -1;
    out[start + i] = c;
  }
  return len;
}

/** Binary bytes, copied so the value never aliases the (possibly pooled) input buffer. */
export function binaryDecode(buf: Buffer, start: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  if (length > 32) buf.copy(b, 0, start, start + length);
  else for (let i = 0; i < length; i++) b[i] = buf[start + i]!;
  return b;
}

export function binaryEncode(value: Buffer, out: Buffer, start: number): number {
  const len = value.length;
  if (len > 32) return value.copy(out, start);
  for (let i = 0; i < len; i++) out[start + i] = value[i]!;
  return len;
}

/** Upper-case hex of a byte range. */
export function hexOf(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += BYTE_HEX[buf[i]!]!;
  return s;
}
