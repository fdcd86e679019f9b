// DES and 3DES block operations in ECB. OpenSSL 3's default provider has no single DES, so single-length keys
// run as 3DES with K1=K2=K3 (identical output), never through the legacy provider. Double-length keys run
// as 2-key 3DES (K1,K2,K1).
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';

// ECB has no chaining state, so one cipher object per key serves every call through update() alone: making
// a cipher costs more than the 3DES it does (a MAC is two block encryptions). A bounded per-process map;
// the keys are the ones the caller already holds in memory.
const cachedMax = 4096;
const encryptors = new Map<string, Cipher>();
const decryptors = new Map<string, Decipher>();

function cached<C extends Cipher | Decipher>(map: Map<string, C>, key: Buffer, make: (k: Buffer) => C): C {
  const id = key.toString('latin1');
  let c = map.get(id);
  if (!c) {
    if (map.size >= cachedMax) map.clear();
    c = make(ede3Key(key));
    c.setAutoPadding(false);
    map.set(id, c);
  }
  return c;
}

/** 8- or 16-byte key -> the 24-byte des-ede3 key. */
function ede3Key(key: Buffer): Buffer {
  if (key.length === 8) return Buffer.concat([key, key, key]);
  if (key.length === 16) return Buffer.concat([key, key.subarray(0, 8)]);
  if (key.length === 24) return key;
  throw new RangeError(`a DES key is 8, 16 or 24 bytes, not ${key.length}`);
}

/** ECB-encrypt whole 8-byte blocks (no padding). */
export function tdesEncrypt(key: Buffer, data: Buffer): Buffer {
  if (data.length % 8 !== 0) throw new RangeError('DES data must be whole 8-byte blocks');
  return cached(encryptors, key, (k) => createCipheriv('des-ede3', k, null)).update(data);
}

/** ECB-decrypt whole 8-byte blocks (no padding). */
export function tdesDecrypt(key: Buffer, data: Buffer): Buffer {
  if (data.length % 8 !== 0) throw new RangeError('DES data must be whole 8-byte blocks');
  return cached(decryptors, key, (k) => createDecipheriv('des-ede3', k, null)).update(data);
}

/** Single DES of whole blocks, as 3DES with K1=K2=K3 (the first 8 bytes of `key`). */
export function desEncrypt(key8: Buffer, data: Buffer): Buffer {
  return tdesEncrypt(key8.subarray(0, 8), data);
}

export function desDecrypt(key8: Buffer, data: Buffer): Buffer {
  return tdesDecrypt(key8.subarray(0, 8), data);
}
