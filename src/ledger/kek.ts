// Keys at rest: terminal master and working keys are stored encrypted under the KEK (AES-256-GCM);
// PIN verification values are an HMAC of card number and PIN keyed by a KEK-derived key (never the PIN).
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { kekHexPattern, type Config } from '../config/index.js';

/** Development KEK, used (with a warning) when POINTSWITCH_KEK is unset. Never for production. */
export const devKekHex = '00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF';

export class Kek {
  private readonly encKey: Buffer;
  private readonly pvvKey: Buffer;
  readonly isDev: boolean;

  constructor(kekHex?: string | null) {
    const hex = kekHex || devKekHex;   // unset or empty (compose passes POINTSWITCH_KEK= when not given): the dev key
    // The settings already checked it (the same pattern); this guards callers that pass a key of their own.
    if (!kekHexPattern.test(hex)) throw new Error('POINTSWITCH_KEK must be 32, 48 or 64 hex characters');
    const kek = Buffer.from(hex, 'hex');
    this.isDev = hex.toUpperCase() === devKekHex;
    this.encKey = createHash('sha256').update('pointswitch:enc:').update(kek).digest();
    this.pvvKey = createHash('sha256').update('pointswitch:pvv:').update(kek).digest();
  }

  encrypt(clear: Buffer): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.encKey, iv);
    const body = Buffer.concat([c.update(clear), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  }

  decrypt(blob: Buffer): Buffer {
    const d = createDecipheriv('aes-256-gcm', this.encKey, blob.subarray(0, 12));
    d.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([d.update(blob.subarray(28)), d.final()]);
  }

  /** PIN verification value for a card and PIN: hex HMAC-SHA256, compared in SQL. */
  pinVerification(cardNo: string, pin: string): string {
    return createHmac('sha256', this.pvvKey).update(`${cardNo}:${pin}`).digest('hex');
  }
}

export const devKekWarning = 'POINTSWITCH_KEK is unset; terminal keys and PIN verification values are protected by the development key-encryption key (public: never for production)';

/**
 * The one place a command turns its validated settings into the KEK (start, seed, and every command that reads
 * or writes keys): the development key when none is set, with `warn` told so.
 */
export function kekFromConfig(config: Pick<Config, 'kekHex'>, warn: (message: string) => void): Kek {
  const kek = new Kek(config.kekHex);
  if (kek.isDev) warn(devKekWarning);
  return kek;
}
