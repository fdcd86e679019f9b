// The response mapping: a refusal becomes its code in one place, and the answer's MTI is the protocol's.
import t from 'tap';
import { decode } from '../../protocol/index.js';
import { buildFormatError, buildResponse, declined, reasonOf } from '../../src/switch/respond.js';
import { purchase, batchClose } from '../protocol/messages.js';

const answerOf = (body: Buffer) => {
  const d = decode(body);
  if (!d.ok) throw d.error;
  return d.message;
};

t.test('a refusal is answered with its code and kept on the reply; insufficient points adds the balance (54)', async (t) => {
  t.same(declined({ kind: 'not-signed-on' }), { responseCode: '97', refusal: { kind: 'not-signed-on' }, fields: {} });
  t.same(declined({ kind: 'mac-invalid' }, { cardNo: '1' }).responseCode, 'A0');
  const poor = declined({ kind: 'insufficient-points', balancePoints: 12 });
  t.equal(poor.responseCode, '51');
  t.equal(poor.fields?.[54], '1002156C000000000012');
  t.equal(declined({ kind: 'system-error', detail: 'x' }).responseCode, '96');
  t.equal(declined({ kind: 'function-not-supported' }).responseCode, '40');
});

t.test('the log reason of a refusal is its kind, with its detail or status', async (t) => {
  t.equal(reasonOf({ kind: 'mac-missing' }), 'mac-missing');
  t.equal(reasonOf({ kind: 'terminal-inactive', status: 'suspended' }), 'terminal-inactive: suspended');
  t.equal(reasonOf({ kind: 'format-error', detail: 'no terminal id (41)' }), 'format-error: no terminal id (41)');
});

t.test('the answer carries the response MTI of its request; a declined one carries no 37 or 38', async (t) => {
  const a = answerOf(buildResponse(purchase, declined({ kind: 'card-lost' }), null));
  t.equal(a.mti, '0210');
  t.equal(a.fields[39], '41');
  t.equal(a.fields[37], undefined);
  t.equal(answerOf(buildResponse(batchClose, { responseCode: '00' }, null)).mti, '0510');
  // A response sent to the switch is answered under its own MTI (it has no response MTI).
  t.equal(answerOf(buildResponse({ ...purchase, mti: '0210' }, declined({ kind: 'function-not-supported' }), null)).mti, '0210');
});

t.test('an unreadable request is answered 30 under its response MTI', async (t) => {
  const a = answerOf(buildFormatError({ tpdu: purchase.tpdu, header: purchase.header, mti: '0200' }));
  t.equal(a.mti, '0210');
  t.equal(a.fields[39], '30');
  t.same(a.tpdu, { id: purchase.tpdu.id, destination: purchase.tpdu.source, source: purchase.tpdu.destination });
});
