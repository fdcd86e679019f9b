// The table-driven DES against OpenSSL and the published vectors. The seed is printed; FUZZ_SEED=... replays.
import t from 'tap';
import { desDecrypt, desEncrypt, encryptBlockInPlace, tdesDecrypt, tdesEncrypt } from '../../protocol/des.js';
import { computeMac } from '../../protocol/index.js';
import { rngFrom } from './fuzz-lib.js';
import { openssl, opensslEcbMac } from './openssl-des.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const seed = Number(process.env.FUZZ_SEED ?? 46);
/** n random bytes from the seeded generator. */
const bytesFrom = (rng: () => number) => (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));

t.test('the published DES vectors', async (t) => {
  // The worked example of FIPS 46 tutorials: key 133457799BBCDFF1, 0123456789ABCDEF -> 85E813540F0AB405.
  t.equal(desEncrypt(hex('133457799BBCDFF1'), hex('0123456789ABCDEF')).toString('hex').toUpperCase(), '85E813540F0AB405');
  t.equal(desDecrypt(hex('133457799BBCDFF1'), hex('85E813540F0AB405')).toString('hex').toUpperCase(), '0123456789ABCDEF');
  // FIPS 81: key 0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815.
  t.equal(tdesEncrypt(hex('0123456789ABCDEF'), hex('4E6F772069732074')).toString('hex').toUpperCase(), '3FA40E8A984D4815');
  // A double-length key with equal halves is single DES.
  t.equal(tdesEncrypt(hex('0123456789ABCDEF0123456789ABCDEF'), hex('4E6F772069732074')).toString('hex').toUpperCase(), '3FA40E8A984D4815');
});

t.test(`encrypt and decrypt equal OpenSSL's for random 8-, 16- and 24-byte keys and 1-4 blocks (seed ${seed})`, async (t) => {
  t.comment(`des seed ${seed}`);
  const bytes = bytesFrom(rngFrom(seed));
  let compared = 0;
  const wrong: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const key = bytes([8, 16, 24][i % 3]!);
    const data = bytes(8 * (1 + (i % 4)));
    const check = (what: string, ours: Buffer, theirs: Buffer) => {
      compared++;
      if (!ours.equals(theirs) && wrong.length < 5) wrong.push(`${what} key ${key.toString('hex')} data ${data.toString('hex')}`);
    };
    check('encrypt', tdesEncrypt(key, data), openssl.encrypt(key, data));
    check('decrypt', tdesDecrypt(key, data), openssl.decrypt(key, data));
    check('round trip', tdesDecrypt(key, tdesEncrypt(key, data)), data);
    const inPlace = Buffer.from(data.subarray(0, 8));
    encryptBlockInPlace(key, inPlace);
    check('in place', inPlace, openssl.encrypt(key, data.subarray(0, 8)));
  }
  t.same(wrong, [], `${compared} comparisons`);
});

t.test('the ECB MAC through the new DES equals the same MAC through OpenSSL', async (t) => {
  const rng = rngFrom(seed + 1);
  const bytes = bytesFrom(rng);
  for (let i = 0; i < 200; i++) {
    const key = bytes(i % 2 ? 16 : 8);
    const mab = bytes(1 + Math.floor(rng() * 200));
    const ours = computeMac('ecb', key, mab);
    if (!ours.equals(opensslEcbMac(key, mab))) {
      t.fail(`MAC differs for key ${key.toString('hex')} mab ${mab.toString('hex')}`);
      return;
    }
  }
  t.pass('200 random MACs agree');
});

t.test('bad key and data lengths are refused in words', async (t) => {
  t.throws(() => tdesEncrypt(Buffer.alloc(7), Buffer.alloc(8)), /8, 16 or 24 bytes, not 7/);
  t.throws(() => tdesEncrypt(Buffer.alloc(8), Buffer.alloc(9)), /whole 8-byte blocks/);
  t.throws(() => tdesDecrypt(Buffer.alloc(32), Buffer.alloc(8)), /not 32/);
});
