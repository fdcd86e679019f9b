// Field 64 MAC. The MAB is the bytes from the MTI to the end of the last field before 64:
// body.subarray(11, body.length - 8) when field 64 is last.
//
// 'ecb' — the UnionPay POS "ECB" algorithm: zero-pad to a multiple of 8, XOR the 8-byte blocks, write the
//   result as 16 upper-case hex characters, encrypt the first 8 (as ASCII), XOR with the last 8, encrypt again,
//   write as hex; the MAC is the first 8 hex characters as ASCII bytes. With a double-length MAK both
//   encryptions are 3DES (public sources disagree on the second; 3DES equals DES when the halves are equal).
// 'x919' — ANSI X9.19 / ISO 9797-1 algorithm 3 with padding method 1: CBC-DES under the left key half,
//   then decrypt with the right half and encrypt with the left; 8 binary bytes. A single-length key gives
//   plain CBC-DES (ISO 9797-1 algorithm 1).
import { desDecrypt, desEncrypt, encryptBlockInPlace } from './des.js';
import { encodeWith64, type IsoMessage } from './codec.js';
import { BITMAP_OFFSET, MTI_OFFSET } from './codec.js';
import { CodecError } from './errors.js';

export type MacAlgorithm = 'ecb' | 'x919';
export const MAC_BYTES = 8;

function checkKey(key: Buffer): void {
  if (key.length !== 8 && key.length !== 16) throw new RangeError(`a MAC key is 8 or 16 bytes, not ${key.length}`);
}

/** XOR of the zero-padded 8-byte blocks of `mab`. */
export function xorBlocks(mab: Buffer): Buffer {
  const acc = Buffer.alloc(8);
  for (let i = 0; i < mab.length; i++) acc[i & 7] = acc[i & 7]! ^ mab[i]!;
  return acc;
}

// Upper-case hex digits as ASCII bytes.
const HEX_UPPER = Buffer.from('0123456789ABCDEF', 'latin1');

/** Writes bytes `from`..`from + n` of `src` as 2n upper-case hex ASCII bytes at `dst[to]`. */
function hexInto(src: Uint8Array, from: number, n: number, dst: Uint8Array, to: number): void {
  for (let i = 0; i < n; i++) {
    const b = src[from + i]!;
    dst[to + 2 * i] = HEX_UPPER[b >> 4]!;
    dst[to + 2 * i + 1] = HEX_UPPER[b & 15]!;
  }
}

function macEcb(key: Buffer, mab: Buffer): Buffer {
  const acc = xorBlocks(mab);
  const hex = Buffer.allocUnsafe(16);               // the XOR as 16 upper-case hex ASCII bytes
  hexInto(acc, 0, 8, hex, 0);
  encryptBlockInPlace(key, hex, 0);                 // encrypt the first 8 …
  for (let i = 0; i < 8; i++) hex[i] = hex[i]! ^ hex[8 + i]!;   // … XOR with the last 8 …
  encryptBlockInPlace(key, hex, 0);                 // … encrypt again
  const mac = Buffer.allocUnsafe(MAC_BYTES);        // the first 8 hex characters of the result
  hexInto(hex, 0, 4, mac, 0);
  return mac;
}

function macX919(key: Buffer, mab: Buffer): Buffer {
  const left = key.subarray(0, 8);
  const right = key.length === 16 ? key.subarray(8, 16) : left;
  const blocks = Math.max(1, Math.ceil(mab.length / 8));
  const padded = Buffer.alloc(blocks * 8);
  mab.copy(padded);
  const state = Buffer.alloc(8);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 8; i++) state[i] = state[i]! ^ padded[b * 8 + i]!;
    encryptBlockInPlace(left, state);
  }
  if (right === left) return state;
  return desEncrypt(left, desDecrypt(right, state));
}

/** The 8-byte MAC of `mab` (ecb: 8 ASCII hex characters; x919: 8 binary bytes). */
export function computeMac(alg: MacAlgorithm, key: Buffer, mab: Buffer): Buffer {
  checkKey(key);
  if (alg === 'ecb') return macEcb(key, mab);
  if (alg === 'x919') return macX919(key, mab);
  throw new RangeError(`unknown MAC algorithm ${String(alg)}`);
}

/** Encode with bit 64 set and the MAC filled in. Only for messages without secondary-bitmap fields. */
export function encodeWithMac(msg: IsoMessage, alg: MacAlgorithm, mak: Buffer): Buffer {
  for (let f = 65; f <= 128; f++) {
    if (msg.fields[f] !== undefined) throw new CodecError('bad-field', 0, 'field 64 MAC with secondary-bitmap fields is not supported', f);
  }
  const body = encodeWith64(msg, Buffer.alloc(MAC_BYTES));
  computeMac(alg, mak, body.subarray(MTI_OFFSET, body.length - MAC_BYTES)).copy(body, body.length - MAC_BYTES);
  return body;
}

/** True when `body` (a decoded-well frame body with field 64 last) carries the right MAC. */
export function verifyMac(body: Buffer, alg: MacAlgorithm, mak: Buffer): boolean {
  if (body.length < BITMAP_OFFSET + 8 + MAC_BYTES) return false;
  if ((body[BITMAP_OFFSET]! & 0x80) !== 0) return false; // a secondary bitmap: 64 is not the last field
  if ((body[BITMAP_OFFSET + 7]! & 0x01) === 0) return false; // bit 64 not set
  const expected = computeMac(alg, mak, body.subarray(MTI_OFFSET, body.length - MAC_BYTES));
  // Constant time: every byte is compared, whatever the first difference.
  let diff = 0;
  for (let i = 0, at = body.length - MAC_BYTES; i < MAC_BYTES; i++) diff |= expected[i]! ^ body[at + i]!;
  return diff === 0;
}
