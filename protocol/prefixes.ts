// Length prefixes, once each: fixed (none), LL (1 BCD byte), LLL (2 BCD bytes).
import type { Prefix } from './spec/types.js';

export function prefixBytes(p: Prefix): 0 | 1 | 2 {
  return p === 'fixed' ? 0 : p === 'LL' ? 1 : 2;
}

/** The length a BCD prefix of `bytes` bytes carries, or -1 if a nibble is not a digit. */
export function readPrefix(buf: Buffer, at: number, bytes: 1 | 2): number {
  const a = buf[at]!;
  if (a > 0x99 || (a & 15) > 9) return -1;
  const first = (a >> 4) * 10 + (a & 15);
  if (bytes === 1) return first;
  const b = buf[at + 1]!;
  if (b > 0x99 || (b & 15) > 9) return -1;
  return first * 100 + (b >> 4) * 10 + (b & 15);
}

/** Writes `length` as a BCD prefix of `bytes` bytes; returns the bytes written. */
export function writePrefix(out: Buffer, at: number, bytes: 1 | 2, length: number): number {
  if (bytes === 1) {
    out[at] = (((length / 10) | 0) << 4) | (length % 10);
    return 1;
  }
  const hi = (length / 100) | 0;
  const lo = length % 100;
  out[at] = (((hi / 10) | 0) << 4) | (hi % 10);
  out[at + 1] = (((lo / 10) | 0) << 4) | (lo % 10);
  return 2;
}
