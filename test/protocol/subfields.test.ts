import t from 'tap';
import { formatField44, formatField63, parseField44, parseField63, formatField60, formatField61, formatBatchTotals, maskPan, maskTrack, parseField60, parseField61, parseBatchTotals, track2Pan } from '../../protocol/index.js';

t.test('field 60: 60.1 type, 60.2 batch, 60.3 network management code, the rest kept', async (t) => {
  t.same(parseField60('22000001000'), { txnType: '22', batchNo: '000001', netMgmtCode: '000', rest: '' });
  t.same(parseField60('00000001'), { txnType: '00', batchNo: '000001', rest: '' }, '8 digits: no 60.3');
  t.same(parseField60('2200002400060012345'), { txnType: '22', batchNo: '000024', netMgmtCode: '000', rest: '60012345' }, '19 digits');
  t.equal(formatField60({ txnType: '00', batchNo: '000001', netMgmtCode: '201' }), '00000001201');
  t.equal(formatField60({ txnType: '00', batchNo: '000001' }), '00000001');
  t.throws(() => formatField60({ txnType: '0', batchNo: '000001' }));
});

t.test('field 61: original batch, trace, date', async (t) => {
  t.same(parseField61('0000010000031122'), { batchNo: '000001', trace: '000003', date: '1122', rest: '' });
  t.same(parseField61('000001000003'), { batchNo: '000001', trace: '000003', rest: '' });
  t.equal(formatField61({ batchNo: '000001', trace: '000003', date: '1122' }), '0000010000031122');
});

t.test('field 48 of 0500: domestic then foreign totals, 31 digits each', async (t) => {
  const s = formatBatchTotals({ debitFen: 1234, debitCount: 3, creditFen: 500, creditCount: 1 });
  t.equal(s, '000000001234003000000000500001' + '0' + '0'.repeat(31));
  t.same(parseBatchTotals(s), { debitFen: 1234, debitCount: 3, creditFen: 500, creditCount: 1, batchCloseCode: '0',
    foreign: { debitFen: 0, debitCount: 0, creditFen: 0, creditCount: 0, batchCloseCode: '0' } });
  t.same(parseBatchTotals(s.slice(0, 31)).debitFen, 1234, 'domestic only');
  t.throws(() => parseBatchTotals('123'));
  t.throws(() => formatBatchTotals({ debitFen: -1, debitCount: 0, creditFen: 0, creditCount: 0 }));
});

t.test('masking keeps at most the first 6 and last 4 digits of a card number', async (t) => {
  t.equal(maskPan('8860000000000001'), '886000******0001');
  t.equal(maskPan('6212260200024125573'), '621226*********5573');
  t.equal(maskPan('123456789'), '*****6789');
  t.equal(maskPan('1234'), '****');
  t.equal(maskTrack('8860000000000001D30121010000'), '886000******0001D***********');
  t.equal(maskTrack('ABCDEF'), '******', 'encrypted track without separator: all masked');
});

t.test('track2Pan reads the PAN before the separator', async (t) => {
  t.equal(track2Pan('6224242900000113D28062013949031013'), '6224242900000113');
  t.equal(track2Pan('6224242900000113=2806'), '6224242900000113');
  t.equal(track2Pan('D2806'), null);
  t.equal(track2Pan('ABCDEF1234'), null);
});

t.test('field 63: 63.1 operator / card organisation code, the rest kept as it came', async (t) => {
  t.same(parseField63('CUP'), { operatorCode: 'CUP', rest: '' });
  t.same(parseField63('01 SM016\u0000\u00ff'), { operatorCode: '01 ', rest: 'SM016\u0000\u00ff' });
  t.same(parseField63('1'), { operatorCode: '', rest: '1' }, 'too short: nothing named');
  t.equal(formatField63({ operatorCode: '000' }), '000');
  t.throws(() => formatField63({ operatorCode: '0' }));
});

t.test('field 44: issuer and acquirer ids, an11 each, space-padded', async (t) => {
  t.same(parseField44('01020000   48031000   '), { issuerId: '01020000', acquirerId: '48031000', rest: '' });
  t.equal(formatField44({ issuerId: '48160000', acquirerId: '48160000' }), '48160000   48160000   ');
});
