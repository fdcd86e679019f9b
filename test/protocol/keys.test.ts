import t from 'tap';
import { checkValue, clearPinBlock, decryptPinBlock, encryptPinBlock, formatSignOnKeys, parseSignOnKeys, randomKey, unwrapKey, wrapKey } from '../../protocol/index.js';
import { tdesDecrypt } from '../../protocol/des.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const tmk = hex('0123456789ABCDEFFEDCBA9876543210'); // the demo TMK

t.test('a check value is the first 4 bytes of the clear key encrypting 8 zero bytes', async (t) => {
  // DES key 0123456789ABCDEF encrypting zeros -> D5D44FF720683D0D (classic vector)
  t.equal(checkValue(hex('0123456789ABCDEF')).toString('hex').toUpperCase(), 'D5D44FF7');
  t.equal(checkValue(tmk).length, 4);
});

t.test('wrapKey encrypts 8 bytes at a time under the TMK (3DES-ECB), unwrapKey reverses it', async (t) => {
  const k = randomKey(16);
  const w = wrapKey(k, tmk);
  t.same(w.encrypted.subarray(0, 8), wrapKey(k.subarray(0, 8), tmk).encrypted, 'ECB: the first half alone wraps the same');
  t.same(unwrapKey(w.encrypted, tmk), k);
  t.same(w.checkValue, checkValue(k));
  t.same(tdesDecrypt(tmk, w.encrypted), k);
});

t.test('random keys have odd parity on every byte', async (t) => {
  for (const n of [8, 16] as const) {
    const k = randomKey(n);
    t.equal(k.length, n);
    for (const b of k) {
      let ones = 0;
      for (let x = b; x; x >>= 1) ones += x & 1;
      if (ones % 2 !== 1) t.fail(`byte ${b} has even parity`);
    }
  }
});

t.test('field 62 of 0810: PIK+CV+MAK+CV[+TDK+CV] round-trips and a wrong check value gives null', async (t) => {
  const keys = { pik: randomKey(16), mak: randomKey(16), tdk: randomKey(16) };
  const f62 = formatSignOnKeys(keys, tmk);
  t.equal(f62.length, 60);
  t.same(parseSignOnKeys(f62, tmk), keys);
  const two = formatSignOnKeys({ pik: keys.pik, mak: keys.mak }, tmk);
  t.equal(two.length, 40);
  t.same(parseSignOnKeys(two, tmk), { pik: keys.pik, mak: keys.mak });
  const single = formatSignOnKeys({ pik: keys.pik, mak: keys.mak.subarray(0, 8) }, tmk);
  t.same(single.subarray(28, 36), Buffer.alloc(8), 'an 8-byte MAK travels as MAK(8) + 8 zero bytes');
  t.same(parseSignOnKeys(single, tmk)?.mak, keys.mak.subarray(0, 8));
  const bad = Buffer.from(f62);
  bad[17] = bad[17]! ^ 0xff;
  t.equal(parseSignOnKeys(bad, tmk), null, 'check value mismatch');
  t.equal(parseSignOnKeys(f62, hex('11111111111111111111111111111111')), null, 'wrong TMK');
  t.equal(parseSignOnKeys(f62.subarray(0, 30), tmk), null, 'unknown layout');
});

t.test('PIN block ISO 9564 format 0: the published example and a 3DES round trip', async (t) => {
  // EFTlab / ISO 9564 example: PIN 1234, PAN 43219876543210987 -> 0412AC89ABCDEF67
  t.equal(clearPinBlock('1234', '43219876543210987').toString('hex').toUpperCase(), '0412AC89ABCDEF67');
  const pik = randomKey(16);
  const block = encryptPinBlock('123456', '8860000000000001', pik);
  t.equal(block.length, 8);
  t.equal(decryptPinBlock(block, '8860000000000001', pik), '123456');
  t.not(decryptPinBlock(block, '6212260200024125573', pik), '123456', 'another PAN does not give the PIN back');
  t.equal(decryptPinBlock(Buffer.alloc(7), '8860000000000001', pik), null);
  t.throws(() => encryptPinBlock('12a4', '8860000000000001', pik));
});
