// The reference the table-driven DES (protocol/des.ts) is checked against and benchmarked with: DES and 3DES
// through OpenSSL (node:crypto), one cipher kept per key and direction and used through update() alone, as the
// switch did before. OpenSSL 3's default provider has no single DES, so an 8-byte key runs as 3DES with
// K1=K2=K3 (identical output); a 16-byte key as K1,K2,K1.
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import { xorBlocks } from '../../protocol/index.js';

const kept = new Map<string, Cipher | Decipher>();

function cipher(key: Buffer, decrypt: boolean): Cipher | Decipher {
  const id = `${decrypt ? 'd' : 'e'}${key.toString('latin1')}`;
  let c = kept.get(id);
  if (!c) {
    const k = key.length === 8 ? Buffer.concat([key, key, key]) : key.length === 16 ? Buffer.concat([key, key.subarray(0, 8)]) : key;
    c = decrypt ? createDecipheriv('des-ede3', k, null) : createCipheriv('des-ede3', k, null);
    c.setAutoPadding(false);
    kept.set(id, c);
  }
  return c;
}

/** ECB over whole 8-byte blocks. */
export const openssl = {
  encrypt: (key: Buffer, data: Uint8Array): Buffer => cipher(key, false).update(data),
  decrypt: (key: Buffer, data: Uint8Array): Buffer => cipher(key, true).update(data),
};

/** The UnionPay ECB MAC written out with OpenSSL: XOR, hex, encrypt the first 8, XOR the last 8, encrypt, hex, 8. */
export function opensslEcbMac(key: Buffer, mab: Buffer): Buffer {
  const h = Buffer.from(xorBlocks(mab).toString('hex').toUpperCase(), 'latin1');
  const first = openssl.encrypt(key, h.subarray(0, 8));
  for (let i = 0; i < 8; i++) first[i] = first[i]! ^ h[8 + i]!;
  return Buffer.from(openssl.encrypt(key, first).toString('hex').toUpperCase().slice(0, 8), 'latin1');
}
