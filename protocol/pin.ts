// PIN block, ISO 9564 format 0, encrypted with the PIN key (3DES; single-length as K1=K2=K3).
import { tdesDecrypt, tdesEncrypt } from './des.js';

/** '0000' + the 12 rightmost PAN digits excluding the check digit, as 8 bytes. */
function panBlock(pan: string): Buffer {
  if (!/^[0-9]{13,19}$/.test(pan)) throw new RangeError('a PAN for a PIN block is 13-19 digits');
  return Buffer.from('0000' + pan.slice(-13, -1), 'hex');
}

export function clearPinBlock(pin: string, pan: string): Buffer {
  if (!/^[0-9]{4,12}$/.test(pin)) throw new RangeError('a PIN is 4-12 digits');
  const pinField = Buffer.from(('0' + pin.length.toString(16).toUpperCase() + pin).padEnd(16, 'F'), 'hex');
  const pb = panBlock(pan);
  for (let i = 0; i < 8; i++) pinField[i] = pinField[i]! ^ pb[i]!;
  return pinField;
}

export function encryptPinBlock(pin: string, pan: string, pik: Buffer): Buffer {
  return tdesEncrypt(pik, clearPinBlock(pin, pan));
}

/** The PIN, or null if the block is not a well-formed format 0 block for this PAN. */
export function decryptPinBlock(block: Buffer, pan: string, pik: Buffer): string | null {
  if (block.length !== 8 || !/^[0-9]{13,19}$/.test(pan)) return null;
  const clear = tdesDecrypt(pik, block);
  const pb = panBlock(pan);
  for (let i = 0; i < 8; i++) clear[i] = clear[i]! ^ pb[i]!;
  const hex = clear.toString('hex').toUpperCase();
  const len = parseInt(hex[1]!, 16);
  if (hex[0] !== '0' || len < 4 || len > 12) return null;
  const pin = hex.slice(2, 2 + len);
  if (!/^[0-9]+$/.test(pin) || !/^F*$/.test(hex.slice(2 + len))) return null;
  return pin;
}
