import t from 'tap';
import { createCipheriv } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { computeMac, decode, encodeWithMac, verifyMac, xorBlocks } from '../../protocol/index.js';
import { desEncrypt, tdesEncrypt } from '../../protocol/des.js';
import { purchase } from './messages.js';

const hex = (s: string) => Buffer.from(s, 'hex');

t.test('single DES matches the classic DES vectors', async (t) => {
  // FIPS 81 / classic: key 0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815
  t.equal(desEncrypt(hex('0123456789ABCDEF'), hex('4E6F772069732074')).toString('hex').toUpperCase(), '3FA40E8A984D4815');
  t.equal(tdesEncrypt(hex('0123456789ABCDEF'), hex('4E6F772069732074')).toString('hex').toUpperCase(), '3FA40E8A984D4815');
});

t.test('the published UnionPay ECB example: key 2222222222222222, MAB 1234567890ABCDEFABCDEF1234567890 -> E267B6E2', async (t) => {
  const mab = hex('1234567890ABCDEFABCDEF1234567890');
  t.equal(xorBlocks(mab).toString('hex').toUpperCase(), 'B9F9B96AA4FDB57F', 'XOR of the blocks');
  const key = hex('2222222222222222');
  t.equal(tdesEncrypt(key, Buffer.from('B9F9B96A', 'latin1')).toString('hex').toUpperCase(), '9FDE90A34CF73B2E', 'first encryption');
  t.equal(computeMac('ecb', key, mab).toString('latin1'), 'E267B6E2');
  // A double-length key with equal halves is the single-length key (3DES for both encryptions).
  t.equal(computeMac('ecb', hex('22222222222222222222222222222222'), mab).toString('latin1'), 'E267B6E2');
});

t.test('ECB MAC zero-pads only a partial last block', async (t) => {
  const key = hex('0123456789ABCDEF');
  t.same(computeMac('ecb', key, hex('0102030405')), computeMac('ecb', key, hex('0102030405000000')));
});

t.test('X9.19: CBC-DES under the left half, then decrypt right / encrypt left; single key = CBC-DES MAC', async (t) => {
  const data = Buffer.from('Now is the time for all ', 'latin1');
  // Independent formulation via OpenSSL CBC: single key -> last block of 3DES(K,K,K)-CBC, zero IV.
  const k = hex('0123456789ABCDEF');
  const cbc = createCipheriv('des-ede3-cbc', Buffer.concat([k, k, k]), Buffer.alloc(8));
  cbc.setAutoPadding(false);
  const all = Buffer.concat([cbc.update(data), cbc.final()]);
  t.same(computeMac('x919', k, data), all.subarray(all.length - 8));
  // Double key: single-DES CBC over all but the last block, then 2-key 3DES of the last block XOR chain.
  const k2 = hex('0123456789ABCDEFFEDCBA9876543210');
  const head = createCipheriv('des-ede3-cbc', Buffer.concat([k, k, k]), Buffer.alloc(8));
  head.setAutoPadding(false);
  const h = Buffer.concat([head.update(data.subarray(0, 16)), head.final()]).subarray(8, 16);
  const last = Buffer.from(data.subarray(16, 24));
  for (let i = 0; i < 8; i++) last[i] = last[i]! ^ h[i]!;
  t.same(computeMac('x919', k2, data), tdesEncrypt(k2, last));
  t.equal(computeMac('x919', k2, data).toString('hex').toUpperCase(), 'A1C72E74EA3FA9B6', 'the ANSI X9.19 published value');
});

t.test('encodeWithMac fills field 64 over MTI..last field before 64, and verifyMac checks it', async (t) => {
  const mak = hex('0123456789ABCDEFFEDCBA9876543210');
  for (const alg of ['ecb', 'x919'] as const) {
    const body = encodeWithMac(purchase, alg, mak);
    const r = decode(body);
    t.ok(r.ok, `${alg}: decodes`);
    t.same(body.subarray(body.length - 8), computeMac(alg, mak, body.subarray(11, body.length - 8)));
    t.ok(verifyMac(body, alg, mak), `${alg}: verifies`);
    const tampered = Buffer.from(body);
    tampered[30] = tampered[30]! ^ 1;
    t.notOk(verifyMac(tampered, alg, mak), `${alg}: a changed byte fails`);
    t.notOk(verifyMac(body, alg, hex('0123456789ABCDEF0123456789ABCDEF')), `${alg}: another key fails`);
  }
  t.match(computeMac('ecb', mak, hex('00')).toString('latin1'), /^[0-9A-F]{8}$/, 'ECB MAC is 8 ASCII hex characters');
});

t.test('the codec and its OpenSSL reference never ask for single DES or the legacy provider (single DES is 3DES with K1=K2=K3)', async (t) => {
  const dir = new URL('../../protocol/', import.meta.url);
  // protocol/ does DES itself; OpenSSL is used only by the reference it is tested and benchmarked against.
  const sources = [...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(new URL(f, dir), 'utf8')),
    readFileSync(new URL('./openssl-des.ts', import.meta.url), 'utf8')].join('\n');
  t.notMatch(sources, /'des-(ecb|cbc|cfb|ofb)'|'des'|legacy'/i);
  t.match(sources, /'des-ede3'/);
});
