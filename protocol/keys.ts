// Working keys under the terminal master key (TMK): 3DES-ECB 8 bytes at a time, with check values.
import { randomBytes } from 'node:crypto';
import { tdesDecrypt, tdesEncrypt } from './des.js';

export const CHECK_VALUE_BYTES = 4;

function checkKeyLength(key: Buffer, what: string): void {
  if (key.length !== 8 && key.length !== 16) throw new RangeError(`${what} is 8 or 16 bytes, not ${key.length}`);
}

/** First 4 bytes of encrypting 8 zero bytes with the clear key. */
export function checkValue(clearKey: Buffer): Buffer {
  checkKeyLength(clearKey, 'a key');
  return tdesEncrypt(clearKey, Buffer.alloc(8)).subarray(0, CHECK_VALUE_BYTES);
}

export function wrapKey(clearKey: Buffer, tmk: Buffer): { encrypted: Buffer; checkValue: Buffer } {
  checkKeyLength(clearKey, 'a working key');
  checkKeyLength(tmk, 'a master key');
  return { encrypted: tdesEncrypt(tmk, clearKey), checkValue: checkValue(clearKey) };
}

export function unwrapKey(encrypted: Buffer, tmk: Buffer): Buffer {
  checkKeyLength(encrypted, 'an encrypted key');
  checkKeyLength(tmk, 'a master key');
  return tdesDecrypt(tmk, encrypted);
}

/** Set each byte's low bit so the byte has odd parity (the DES key convention). */
export function withOddParity(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = 0; i < out.length; i++) {
    let v = out[i]! & 0xfe;
    let ones = 0;
    for (let x = v; x; x >>= 1) ones += x & 1;
    if ((ones & 1) === 0) v |= 1;
    out[i] = v;
  }
  return out;
}

export function randomKey(bytes: 8 | 16): Buffer {
  return withOddParity(randomBytes(bytes));
}

/**
 * Field 62 of an 0810: PIK(16)+CV(4)+MAK(16)+CV(4)[+TDK(16)+CV(4)]. An 8-byte MAK travels as MAK(8)+8 zero
 * bytes+CV(4), the other published layout. Keys encrypted under the TMK, CVs of the clear keys.
 */
export function formatSignOnKeys(k: { pik: Buffer; mak: Buffer; tdk?: Buffer }, tmk: Buffer): Buffer {
  const part = (key: Buffer): Buffer[] => {
    const w = wrapKey(key, tmk);
    return key.length === 8 ? [w.encrypted, Buffer.alloc(8), w.checkValue] : [w.encrypted, w.checkValue];
  };
  return Buffer.concat([...part(k.pik), ...part(k.mak), ...(k.tdk ? part(k.tdk) : [])]);
}

/** Keys from field 62 of an 0810, or null if the length is not a known layout or a check value fails. */
export function parseSignOnKeys(f62: Buffer, tmk: Buffer): { pik: Buffer; mak: Buffer; tdk?: Buffer } | null {
  if (f62.length !== 40 && f62.length !== 60) return null;
  const keys: Buffer[] = [];
  for (let at = 0; at < f62.length; at += 20) {
    const enc = f62.subarray(at, at + 16);
    const cv = f62.subarray(at + 16, at + 20);
    const matches = (k: Buffer): Buffer | null => (checkValue(k).equals(cv) ? k : null);
    // A double-length key, else the single-length layout (8-byte key + 8 zero bytes).
    const key = matches(unwrapKey(enc, tmk))
      ?? (enc.subarray(8).every((b) => b === 0) ? matches(unwrapKey(enc.subarray(0, 8), tmk)) : null);
    if (!key) return null;
    keys.push(key);
  }
  const [pik, mak, tdk] = keys;
  return tdk ? { pik: pik!, mak: mak!, tdk } : { pik: pik!, mak: mak! };
}
