import t from 'tap';
import { CodecError, compile, decode, encode, describe, messageFromJson, unionPayPosFields, type IsoMessage } from '../../protocol/index.js';
import { posMessages, purchase } from './messages.js';

function mustDecode(body: Buffer): IsoMessage {
  const r = decode(body);
  if (!r.ok) throw r.error;
  return r.message;
}

t.test('every message type of the POS set: encode -> decode gives the same message, decode -> encode the same bytes', async (t) => {
  for (const [name, msg] of Object.entries(posMessages)) {
    const body = encode(msg);
    const back = mustDecode(body);
    t.same(back, msg, `${name}: encode -> decode`);
    t.ok(encode(back).equals(body), `${name}: decode -> encode is byte-exact`);
  }
});

t.test('the field table has a spec for every field 2-128 and the profile formats of the transaction set', async (t) => {
  for (let f = 2; f <= 128; f++) t.ok(unionPayPosFields[f], `field ${f} has a spec`);
  const expect: Record<number, string> = {
    2: 'n LL 19', 3: 'n fixed 6', 4: 'n fixed 12', 11: 'n fixed 6', 22: 'n fixed 3', 32: 'n LL 11', 35: 'z LL 37',
    36: 'z LLL 104', 37: 'an fixed 12', 39: 'an fixed 2', 41: 'ans fixed 8', 42: 'ans fixed 15', 43: 'ans fixed 40',
    48: 'n LLL 322', 49: 'an fixed 3', 52: 'b fixed 8', 53: 'n fixed 16', 55: 'b LLL 255', 60: 'n LLL 32', 61: 'n LLL 29',
    62: 'b LLL 512', 63: 'ans LLL 163', 64: 'b fixed 8',
  };
  for (const [f, s] of Object.entries(expect)) {
    const spec = unionPayPosFields[Number(f)]!;
    t.equal(`${spec.type} ${spec.prefix} ${spec.length}`, s, `field ${f}`);
  }
});

t.test('framing layout: TPDU, 6-byte header, BCD MTI, binary bitmap, BCD fields with BCD length prefixes', async (t) => {
  const body = encode(purchase);
  t.equal(body.subarray(0, 5).toString('hex'), '6000030000', 'TPDU');
  t.equal(body.subarray(5, 11).toString('hex'), '603100310100', 'header');
  t.equal(body.subarray(11, 13).toString('hex'), '0200', 'MTI as 2 BCD bytes');
  t.equal(body[13]! & 0x80, 0, 'no secondary bitmap');
  // field 2 follows the bitmap: LL = 0x16 then 8 BCD bytes
  t.equal(body.subarray(21, 30).toString('hex'), '168860000000000001', 'field 2 LLVAR with BCD length');
});

t.test('odd digit counts: fixed n right-aligned, field 22 and variable n/z left-aligned, LLL counts digits', async (t) => {
  const msg: IsoMessage = { tpdu: { id: '60', destination: '0001', source: '0002' }, header: '603100310100', mti: '0200',
    fields: { 2: '123456789012345', 22: '021', 23: '001', 35: '1234567890123D4', 60: '22000001000' } };
  const body = encode(msg);
  const hex = body.subarray(21).toString('hex');
  t.equal(hex, '15' + '1234567890123450' + '0210' + '0001' + '15' + '1234567890123d40' + '0011' + '220000010000');
  t.same(mustDecode(body), msg);
});

t.test('non-zero pad nibbles are kept on decode and re-emitted, so decode -> encode is byte-exact', async (t) => {
  const body = encode({ ...purchase, fields: { 2: '123456789012345', 22: '021', 35: '123456789012345D3012101' } });
  // Make the pads F as some terminals send: field 2's last nibble, 22's last nibble, 35's last nibble.
  const b = Buffer.from(body);
  b[21 + 8] = b[21 + 8]! | 0x0f; // field 2: 1 length byte + 8 bytes, pad is the low nibble of the last
  b[30 + 1] = b[30 + 1]! | 0x0f; // field 22: 2 bytes
  b[32 + 12] = b[32 + 12]! | 0x0f; // field 35: 1 length byte + 12 bytes
  const m = mustDecode(b);
  t.equal(m.fields[2], '123456789012345', 'the pad value is not part of the field');
  t.same(m.pads, { 2: 15, 22: 15, 35: 15 });
  t.ok(encode(m).equals(b), 're-encoded with the pads that arrived');
  t.equal(mustDecode(body).pads, undefined, 'zero pads are not recorded');
});

t.test('track data (z) carries nibbles A-F when encrypted, and = is written as D', async (t) => {
  const m: IsoMessage = { ...purchase, fields: { 35: '62220212345678901234=2512', 36: 'ABCDEF0123456789' } };
  const back = mustDecode(encode(m));
  t.equal(back.fields[35], '62220212345678901234D2512');
  t.equal(back.fields[36], 'ABCDEF0123456789');
});

t.test('an/ans keep their bytes exactly (GBK merchant name in 43, binary in 63)', async (t) => {
  const gbk = Buffer.from('c9cfbaa3cad0d6d0d0c4c9ccb3c7', 'hex'); // 上海市中心商城 in GBK
  const name = Buffer.concat([gbk, Buffer.alloc(40 - gbk.length, 0x20)]).toString('latin1');
  const f63 = Buffer.from([0x53, 0x4d, 0x30, 0x31, 0x36, 0x00, 0xff, 0x80, 0x0a]).toString('latin1');
  const m: IsoMessage = { ...purchase, fields: { ...purchase.fields, 43: name, 63: f63 } };
  const body = encode(m);
  t.ok(body.includes(gbk), 'GBK bytes on the wire unchanged');
  const back = mustDecode(body);
  t.equal(back.fields[43], name);
  t.equal(back.fields[63], f63);
  t.ok(encode(back).equals(body));
});

t.test('secondary bitmap: fields above 64 set bit 1 and round-trip', async (t) => {
  const m: IsoMessage = { ...purchase, fields: { 3: '000000', 11: '000001', 70: '301', 100: '48160000', 128: Buffer.from('0102030405060708', 'hex') } };
  const body = encode(m);
  t.equal(body[13]! & 0x80, 0x80, 'bit 1 set');
  t.same(mustDecode(body), m);
});

t.test('a secondary bitmap flagged but empty is a bad-bitmap error (it could not re-encode byte-exact)', async (t) => {
  const body = encode({ ...purchase, fields: { 3: '000000' } });
  const b = Buffer.concat([body.subarray(0, 21), Buffer.alloc(8), body.subarray(21)]);
  b[13] = b[13]! | 0x80;
  const r = decode(b);
  t.equal(r.ok ? 'ok' : r.error.kind, 'bad-bitmap');
});

t.test('decode errors are typed, name the field and byte offset, carry the partial header, and never card data', async (t) => {
  const body = encode(purchase);
  const cut = body.subarray(0, 27); // inside field 2
  const r = decode(cut);
  t.notOk(r.ok);
  if (r.ok) return;
  t.type(r.error, CodecError);
  t.equal(r.error.kind, 'truncated');
  t.equal(r.error.field, 2);
  t.equal(r.error.offset, 22, 'offset of field 2 data in the body');
  t.same(r.error.partial, { tpdu: purchase.tpdu, header: purchase.header, mti: '0200' });
  t.notMatch(r.error.message, /886000/, 'no PAN digits in the message');

  const badLen = Buffer.from(body);
  badLen[21] = 0x1a; // field 2 LL prefix not BCD
  const r2 = decode(badLen);
  t.equal(r2.ok ? 'ok' : `${r2.error.kind} ${r2.error.field} ${r2.error.offset}`, 'bad-field 2 21');

  const tooLong = Buffer.from(body);
  tooLong[21] = 0x20; // 20 digits > n..19
  const r3 = decode(tooLong);
  t.equal(r3.ok ? 'ok' : `${r3.error.kind} ${r3.error.field}`, 'bad-field 2');

  const notDigits = Buffer.from(body);
  notDigits[23] = 0x6a; // a nibble A inside field 2
  const r4 = decode(notDigits);
  t.equal(r4.ok ? 'ok' : `${r4.error.kind} ${r4.error.field}`, 'bad-field 2');
  if (!r4.ok) t.notMatch(r4.error.message, /6a|886/i);

  const extra = Buffer.concat([body, Buffer.from([0])]);
  const r5 = decode(extra);
  t.equal(r5.ok ? 'ok' : `${r5.error.kind} ${r5.error.offset}`, `frame-length-mismatch ${body.length}`);

  const short = decode(body.subarray(0, 15));
  t.equal(short.ok ? 'ok' : short.error.kind, 'truncated');
  if (!short.ok) t.same(short.error.partial, { tpdu: purchase.tpdu, header: purchase.header });

  const badMti = Buffer.from(body);
  badMti[11] = 0xa2;
  const r6 = decode(badMti);
  t.equal(r6.ok ? 'ok' : `${r6.error.kind} ${r6.error.offset}`, 'bad-field 11');
});

t.test('encode rejects a value that does not fit its spec with a CodecError naming the field', async (t) => {
  const bad: Array<[IsoMessage['fields'], number]> = [
    [{ 3: '00000' }, 3], [{ 3: '00000A' }, 3], [{ 2: '12345678901234567890' }, 2], [{ 52: 'not a buffer' }, 52],
    [{ 41: Buffer.from('x') }, 41], [{ 4: 1000 as unknown as string }, 4], [{ 62: 42 as unknown as Buffer }, 62], [{ 42: '商户' + ' '.repeat(13) }, 42], [{ 35: '12345=6789Z' }, 35],
  ];
  for (const [fields, f] of bad) {
    let err: unknown;
    try { encode({ ...purchase, fields }); } catch (e) { err = e; }
    t.ok(err instanceof CodecError && err.field === f, `field ${f}: ${String(err)}`);
  }
  t.throws(() => encode({ ...purchase, mti: '02x0' }), CodecError);
  t.throws(() => encode({ ...purchase, header: '6031' }), CodecError);
  t.throws(() => encode({ ...purchase, tpdu: { id: '60', destination: '00', source: '0000' } }), CodecError);
});

t.test('describe masks card data and secrets unless unmasked', async (t) => {
  const d = describe(purchase) as { fields: Record<string, { value: string; masked?: boolean }> };
  t.equal(d.fields['2']!.value, '886000******0001');
  t.equal(d.fields['35']!.value.startsWith('886000******0001D'), true);
  t.notMatch(JSON.stringify(d), /8860000000000001|0A1B2C3D4E5F6071/i, 'no PAN, track or PIN block anywhere');
  const u = describe(purchase, { unmasked: true }) as typeof d;
  t.equal(u.fields['2']!.value, '8860000000000001');
  t.equal(u.fields['52']!.value, '0A1B2C3D4E5F6071');
});

t.test('describe shows the check values of 0810 working keys but masks the keys themselves', async (t) => {
  const msg: IsoMessage = { ...purchase, mti: '0810', fields: { 39: '00', 62: Buffer.from('11'.repeat(16) + 'AABBCCDD' + '22'.repeat(16) + 'EEFF0011', 'hex') } };
  const d = describe(msg) as { fields: Record<string, { subfields?: Record<string, { value: string }> }> };
  const sub = d.fields['62']!.subfields!;
  t.equal(sub['62.2']!.value, 'AABBCCDD');
  t.equal(sub['62.4']!.value, 'EEFF0011');
  t.notMatch(JSON.stringify(d), /1111111111|2222222222/);
  const u = describe(msg, { unmasked: true }) as typeof d;
  t.equal(u.fields['62']!.subfields!['62.1']!.value, '11'.repeat(16));
});

t.test('describe adds the bytes as hex to text holding non-ASCII bytes, and messageFromJson takes hex alone', async (t) => {
  const name = Buffer.from('c9cfbaa3', 'hex').toString('latin1') + ' '.repeat(36);
  const d = describe({ ...purchase, fields: { 43: name, 41: '10000001' } }) as { fields: Record<string, { hex?: string }> };
  t.equal(d.fields['43']!.hex, 'C9CFBAA3' + '20'.repeat(36));
  t.equal(d.fields['41']!.hex, undefined, 'plain ASCII: no hex');
  const m = messageFromJson({ tpdu: purchase.tpdu, header: purchase.header, mti: '0200', fields: { 43: { hex: 'C9CFBAA3' + '20'.repeat(36) } } });
  t.equal(m.fields[43], name);
});

t.test('an acquirer that right-aligns odd LLVAR digits is a one-line table change (align)', async (t) => {
  const table = compile({ ...unionPayPosFields, 2: { ...unionPayPosFields[2]!, align: 'right' } });
  const msg: IsoMessage = { ...purchase, fields: { 2: '123456789012345' } };
  const body = encode(msg, table);
  t.equal(body.subarray(21).toString('hex'), '15' + '0123456789012345');
  const r = decode(body, table);
  t.same(r.ok && r.message, msg);
});
