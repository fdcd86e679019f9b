// One example of every message type of the POS set, built from the profile's field lists.
// Shared by the round-trip tests, the property tests, the fuzz corpus and the codec benchmark.
import { formatField60, formatField61, formatBatchTotals, type IsoMessage } from '../../protocol/index.js';

const tpdu = { id: '60', destination: '0003', source: '0000' };
const header = '603100310100';
const terminal = { 41: '10000001', 42: '898310048160001' };
const pan = '8860000000000001';
const track2 = '8860000000000001D30121010000000000';
const pinBlock = Buffer.from('0A1B2C3D4E5F6071', 'hex');
const mac = Buffer.from('1A2B3C4D', 'latin1');

function m(mti: string, fields: IsoMessage['fields']): IsoMessage {
  return { tpdu, header, mti, fields };
}
function response(req: IsoMessage, mti: string, extra: IsoMessage['fields'], drop: number[] = []): IsoMessage {
  const fields: IsoMessage['fields'] = { ...req.fields, ...extra };
  for (const f of [2, 14, 22, 26, 35, 36, 52, 53, 55, ...drop]) delete fields[f];
  return { tpdu: { id: tpdu.id, destination: tpdu.source, source: tpdu.destination }, header, mti, fields };
}

export const signOn = m('0800', { 11: '000001', ...terminal, 60: formatField60({ txnType: '00', batchNo: '000001', netMgmtCode: '003' }), 63: '01 ' });
export const signOnResponse = response(signOn, '0810', {
  12: '101530', 13: '1122', 32: '48160000', 37: '000000000001', 39: '00',
  62: Buffer.from('00112233445566778899AABBCCDDEEFF0123456789ABCDEFFEDCBA987654321001234567', 'hex').subarray(0, 40),
}, [63]);
export const signOff = m('0820', { 11: '000050', ...terminal, 60: formatField60({ txnType: '00', batchNo: '000001', netMgmtCode: '002' }) });
export const signOffResponse = response(signOff, '0830', { 12: '180000', 13: '1122', 39: '00' });

export const balance = m('0200', {
  2: pan, 3: '310000', 11: '000002', 14: '3012', 22: '021', 25: '00', 26: '06', 35: track2, ...terminal,
  49: '156', 52: pinBlock, 53: '2600000000000000', 60: formatField60({ txnType: '01', batchNo: '000001', netMgmtCode: '000' }), 64: mac,
});
export const balanceResponse = response(balance, '0210', {
  12: '101600', 13: '1122', 32: '48160000', 37: '000000000002', 39: '00', 44: '48160000   48160000   ',
  54: '1002156C000000100000', 64: mac,
});

export const purchase = m('0200', {
  2: pan, 3: '000000', 4: '000000001000', 11: '000003', 14: '3012', 22: '021', 25: '00', 26: '06', 35: track2, ...terminal,
  49: '156', 52: pinBlock, 53: '2600000000000000', 60: formatField60({ txnType: '22', batchNo: '000001', netMgmtCode: '000' }), 64: mac,
});
export const purchaseResponse = response(purchase, '0210', {
  12: '101700', 13: '1122', 15: '1122', 32: '48160000', 37: '000000000003', 38: '123456', 39: '00', 54: '1002156C000000099500', 64: mac,
});

export const voidPurchase = m('0200', {
  2: pan, 3: '200000', 4: '000000001000', 11: '000004', 14: '3012', 22: '022', 25: '00', 35: track2, 37: '000000000003', 38: '123456', ...terminal,
  49: '156', 60: formatField60({ txnType: '23', batchNo: '000001', netMgmtCode: '000' }), 61: formatField61({ batchNo: '000001', trace: '000003' }), 64: mac,
});
export const voidResponse = response(voidPurchase, '0210', { 12: '101800', 13: '1122', 32: '48160000', 39: '00', 64: mac });

export const refund = m('0220', {
  2: pan, 3: '200000', 4: '000000000500', 11: '000005', 22: '012', 25: '00', 37: '000000000003', ...terminal,
  49: '156', 60: formatField60({ txnType: '25', batchNo: '000001', netMgmtCode: '000' }), 61: formatField61({ batchNo: '000001', trace: '000003', date: '1122' }), 63: '000', 64: mac,
});
export const refundResponse = response(refund, '0230', { 12: '101900', 13: '1122', 32: '48160000', 39: '00', 64: mac }, [63]);

export const reversal = m('0400', {
  2: pan, 3: '000000', 4: '000000001000', 11: '000003', 14: '3012', 22: '021', 25: '00', ...terminal,
  39: '98', 49: '156', 60: formatField60({ txnType: '22', batchNo: '000001', netMgmtCode: '000' }), 64: mac,
});
export const reversalResponse = response(reversal, '0410', { 12: '102000', 13: '1122', 32: '48160000', 39: '00', 64: mac });

export const batchClose = m('0500', {
  11: '000006', ...terminal, 48: formatBatchTotals({ debitFen: 1000, debitCount: 1, creditFen: 500, creditCount: 1 }),
  49: '156', 60: formatField60({ txnType: '00', batchNo: '000001', netMgmtCode: '201' }), 63: '01 ',
});
export const batchCloseResponse = response(batchClose, '0510', {
  12: '235900', 13: '1122', 15: '1122', 37: '000000000006', 39: '00',
  48: formatBatchTotals({ debitFen: 1000, debitCount: 1, creditFen: 500, creditCount: 1, batchCloseCode: '1' }),
}, [63]);

export const batchUpload = m('0320', {
  2: pan, 3: '000000', 4: '000000001000', 11: '000007', 22: '021', 25: '00', ...terminal,
  48: '0022000003000000001000', 49: '156', 60: formatField60({ txnType: '00', batchNo: '000001', netMgmtCode: '201' }),
});
export const batchUploadResponse = response(batchUpload, '0330', { 12: '235901', 13: '1122', 39: '00' });

/** Every message type of the POS set, request and response, by name. */
export const posMessages: Record<string, IsoMessage> = {
  'sign-on 0800': signOn, 'sign-on response 0810': signOnResponse,
  'sign-off 0820': signOff, 'sign-off response 0830': signOffResponse,
  'balance inquiry 0200': balance, 'balance response 0210': balanceResponse,
  'purchase 0200': purchase, 'purchase response 0210': purchaseResponse,
  'void 0200': voidPurchase, 'void response 0210': voidResponse,
  'refund 0220': refund, 'refund response 0230': refundResponse,
  'reversal 0400': reversal, 'reversal response 0410': reversalResponse,
  'batch settlement 0500': batchClose, 'batch settlement response 0510': batchCloseResponse,
  'batch upload 0320': batchUpload, 'batch upload response 0330': batchUploadResponse,
};

/** Published messages (framed, hex). Sources named at each. */
export const published = {
  // https://www.codetd.com/article/5053461 (copy of https://blog.csdn.net/MaxWoods/article/details/86490475,
  // "POS调试8583报文-消费"): a UnionPay IC purchase request, header 603100311003, with 55, 59 and MAC.
  purchaseIc: `
    01 AA 60 00 06 00 00 60 31 00 31 10 03 02 00 70 24 06 C0 20 C1 9A 31 16 62 24 24 29 00
    00 01 13 00 00 00 00 00 00 00 00 01 00 04 03 28 06 07 10 00 00 00 12 34 62 24 24 29 00
    00 01 13 D2 80 62 01 39 49 03 10 13 31 30 30 30 30 30 31 39 38 35 30 31 30 30 30 38 32
    34 31 30 30 30 32 00 01 00 31 35 36 D1 EE F4 19 D0 AE 26 09 26 00 00 00 00 00 00 00 01
    39 9F 26 08 95 BB E3 72 27 1D DA 7C 9F 27 01 80 9F 10 13 07 01 01 03 A0 00 00 01 0A 01
    00 00 00 00 00 ED 53 8F E4 9F 37 04 7F 9F 34 9E 9F 36 02 01 57 95 05 00 00 00 00 00 9A
    03 19 08 30 9C 01 00 9F 02 06 00 00 00 00 00 01 5F 2A 02 01 56 82 02 7C 00 9F 1A 02 01
    56 9F 03 06 00 00 00 00 00 00 9F 33 03 E0 E1 C8 9F 35 01 22 9F 1E 08 31 30 30 30 30 30
    31 39 84 08 A0 00 00 03 33 01 01 02 9F 09 02 00 8C 9F 41 04 00 00 04 03 01 53 31 32 32
    30 38 39 38 36 30 36 31 37 30 38 30 30 30 32 35 38 33 39 39 33 31 33 31 31 48 46 54 31
    37 30 38 30 33 30 31 31 34 31 34 32 30 31 39 30 38 33 30 30 39 33 34 33 35 31 35 30 32
    30 30 31 37 32 32 42 44 33 30 2E 36 32 31 35 35 35 2C 31 31 34 2E 33 36 31 39 35 34 41
    32 36 30 30 31 30 32 30 32 30 32 31 36 30 30 30 30 32 39 30 32 31 30 30 31 35 37 30 38
    30 33 30 36 30 30 30 31 31 33 30 34 30 38 30 34 32 34 37 32 39 32 30 35 30 38 48 37 30
    36 32 38 30 31 00 14 22 00 00 24 00 06 00 38 46 36 35 31 42 32 36`.replace(/\s+/g, ''),
  // github.com/he3210/mposSDK, mposSDKtest/test.cpp, test_Signup: the sign-on response its unpack test reads
  // (0810, 62 = PIK(16)+CV(4)+MAK(8)+8 zero bytes+CV(4)).
  signOnResponse: '007460000000026031003100300810003800000ac0001400044109130909083135303930383833363032383030303030303131343231323334353637383930313233343500110000000600300040279be86aaeb174b80bbe2b24e80f888cebe8b6c2be7bc61956bbf2480000000000000000a2f2cabb',
  // same file, test_Settle: a batch settlement response (0510) with 48 totals and 60.3 = 201.
  batchCloseResponse: '006e60000000026031003100300510003a000008c180100004451608030908090831353039303838333630393730303030313134323132333435363738393031323334350062000000000011011000000000002002100000000000000000000000000000013135360011000000062010',
  // same file, test_Union_Pay: a purchase response (0210) with 32, 44, 55, 63 'CUP' and an ECB MAC.
  purchaseResponse: '009f60000000066031009999990210703e02810ed082131962122602000241255730000000000000073700002332203217082723020827000100084803100032303332313734393138323730313233343530303030303036353930373133313030303538313230363131223031303230303030202020343830333130303020202031353600059f3602004700142200006500050100034355503635304341433741',
  // same file, test_Signoff: a sign-off response (0830).
  signOffResponse: '004a60000000026031003100300830003800000ac000100004471608130908313530393038383336303939303030303030313134323132333435363738393031323334350011000000070020',
};
