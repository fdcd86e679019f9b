// Published UnionPay POS messages decode to the fields their sources state, and re-encode byte-exact.
import t from 'tap';
import { decode, encode, frame, parseSignOnKeys, unframe, type IsoMessage } from '../../protocol/index.js';
import { published } from './messages.js';

function load(hex: string): { body: Buffer; msg: IsoMessage } {
  const u = unframe(Buffer.from(hex, 'hex'));
  if (!u.ok) throw u.error;
  const r = decode(u.body);
  if (!r.ok) throw r.error;
  t.ok(frame(encode(r.message)).equals(Buffer.from(hex, 'hex')), 'decode -> encode gives back the published bytes');
  return { body: u.body, msg: r.message };
}

t.test('MaxWoods "POS调试8583报文-消费" (codetd.com/article/5053461): an IC purchase request', async (t) => {
  const { msg } = load(published.purchaseIc);
  // What the source states: header, MTI, bitmap [2,3,4,11,14,22,23,25,26,35,41,42,48,49,52,53,55,59,60,64], fields 2-26.
  t.same(msg.tpdu, { id: '60', destination: '0006', source: '0000' });
  t.equal(msg.header, '603100311003');
  t.equal(msg.mti, '0200');
  t.same(Object.keys(msg.fields).map(Number), [2, 3, 4, 11, 14, 22, 23, 25, 26, 35, 41, 42, 48, 49, 52, 53, 55, 59, 60, 64]);
  t.equal(msg.fields[2], '6224242900000113');
  t.equal(msg.fields[3], '000000');
  t.equal(msg.fields[4], '000000000001');
  t.equal(msg.fields[11], '000403');
  t.equal(msg.fields[14], '2806');
  t.equal(msg.fields[22], '071', 'the source prints 0710: n3 left-aligned in 2 bytes');
  t.equal(msg.fields[23], '000', 'the source prints 0000: n3 right-aligned in 2 bytes');
  t.equal(msg.fields[25], '00');
  t.equal(msg.fields[26], '12');
  // The rest, read from the bytes: purchase 60.1 = 22, batch 000024; MAC 8 ASCII hex characters.
  t.equal(msg.fields[35], '6224242900000113D28062013949031013');
  t.equal(msg.fields[41], '10000019');
  t.equal(msg.fields[49], '156');
  t.equal(String(msg.fields[60]).slice(0, 8), '22000024');
  t.equal((msg.fields[64] as Buffer).toString('latin1'), '8F651B26');
});

t.test('he3210/mposSDK mposSDKtest/test.cpp test_Signup: a sign-on response with working keys in 62', async (t) => {
  const { msg } = load(published.signOnResponse);
  t.equal(msg.header, '603100310030');
  t.equal(msg.mti, '0810');
  t.equal(msg.fields[39], '00');
  t.equal(msg.fields[41], '00001142');
  t.equal(msg.fields[42], '123456789012345');
  t.equal(msg.fields[60], '00000006003', '60.1 00, batch 000006, 60.3 003');
  const f62 = msg.fields[62] as Buffer;
  t.equal(f62.length, 40);
  t.same(f62.subarray(28, 36), Buffer.alloc(8), 'the MAK(8) + 8 zero bytes layout');
  t.equal(parseSignOnKeys(f62, Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex')), null, 'our demo TMK is not theirs: check values fail');
});

t.test('he3210/mposSDK test_Settle: a batch settlement response, 48 totals and 60.3 = 201', async (t) => {
  const { msg } = load(published.batchCloseResponse);
  t.equal(msg.mti, '0510');
  t.equal(msg.fields[48], '00000000001101100000000000200210000000000000000000000000000001');
  t.equal(String(msg.fields[60]).slice(8), '201');
});

t.test('he3210/mposSDK test_Union_Pay: a purchase response with 44 issuer/acquirer and 63 CUP', async (t) => {
  const { msg } = load(published.purchaseResponse);
  t.equal(msg.header, '603100999999');
  t.equal(msg.mti, '0210');
  t.equal(msg.fields[2], '6212260200024125573', '19 digits, odd: left-aligned with a pad nibble');
  t.equal(msg.fields[4], '000000073700');
  t.equal(msg.fields[32], '48031000');
  t.equal(msg.fields[39], '00');
  t.equal(msg.fields[44], '01020000   48031000   ');
  t.equal(msg.fields[63], 'CUP');
});

t.test('he3210/mposSDK test_Signoff: a sign-off response', async (t) => {
  const { msg } = load(published.signOffResponse);
  t.equal(msg.mti, '0830');
  t.equal(msg.fields[39], '00');
});
