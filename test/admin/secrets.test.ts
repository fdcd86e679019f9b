// A full day of use — keys made and revoked, points fed as JSON and as a file, a merchant, a terminal and cards
// added, purchases with a PIN, a void, a refund and a reversal, a master key replaced, a PIN changed, a card frozen,
// transactions and the audit trail read, a wrong key tried — and then every log line, every admin reply and every
// answer a terminal got is searched for a full card number, a master key or an API key. The one place an API key
// may appear is the reply that makes it (shown once, by design); those replies are searched for the rest.
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { ApiKeys, type Role } from '../../src/admin/keys.js';
import { encode } from '../../protocol/index.js';
import { testEnv } from '../support/db.js';
import { seed, startSwitch } from '../switch/support/app.js';
import { TestTerminal } from '../switch/support/terminal.js';

t.test('a day of use leaves no card number, master key or API key in a log line, a reply or an answer', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const replies: Array<{ what: string; body: string; makesKey: boolean }> = [];
  const answers: string[] = [];
  const apiKeys: string[] = [];
  const { key: adminKey } = await new ApiKeys(app.ledger.pool).create({ role: 'admin', name: 'custodian' });
  apiKeys.push(adminKey);
  const call = async (key: string, method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: object, raw?: { body: string; contentType: string }): Promise<LightMyRequestResponse> => {
    const r = await app.admin.inject({
      method, url, headers: { authorization: `Bearer ${key}`, ...(raw ? { 'content-type': raw.contentType } : {}) },
      ...(raw ? { payload: raw.body } : payload ? { payload } : {}),
    });
    replies.push({ what: `${method} ${url}`, body: r.body, makesKey: url.startsWith('/keys') && method === 'POST' && r.statusCode === 201 });
    return r;
  };
  const makeKey = async (role: Role) => {
    const r = await call(adminKey, 'POST', '/keys', { role, name: `day ${role}` });
    t.equal(r.statusCode, 201);
    apiKeys.push(r.json().key);
    return r.json() as { key: string; keyId: number };
  };
  const ops = (await makeKey('operator')).key;
  const billing = (await makeKey('billing')).key;
  const auditor = (await makeKey('auditor')).key;

  const cards = ['8860000000200001', '8860000000200002'];
  const tmks = ['00112233445566778899AABBCCDDEEFF', 'F0E1D2C3B4A5968778695A4B3C2D1E0F'];
  t.equal((await call(ops, 'POST', '/merchants', { merchantId: '898310048165555', name: 'Day Shop', pointsPerYuan: 50, feeRateBp: 80 })).statusCode, 201);
  t.equal((await call(ops, 'POST', '/terminals', { terminalId: 'DAYT0001', merchantId: '898310048165555', tmkHex: tmks[0] })).statusCode, 201);
  t.equal((await call(ops, 'POST', '/cards', { cardNo: cards[0], expiry: '3012', pin: '975310', openingPoints: 50_000 })).statusCode, 201);
  t.equal((await call(ops, 'POST', '/cards', { cardNo: cards[1], expiry: '3012' })).statusCode, 201);
  t.equal((await call(billing, 'POST', '/accruals', { lines: [{ key: 'day-1', cardNo: cards[1], points: 20_000 }, { key: 'day-2', cardNo: '8869999999990000', points: 1 }] })).statusCode, 200);
  const feed = await call(billing, 'POST', '/accruals/csv', undefined, { body: `key,card_no,amount_fen\nday-3,${cards[0]},123456\nday-4,${cards[1]},99\n`, contentType: 'text/csv' });
  t.equal(feed.statusCode, 200);
  await call(billing, 'GET', feed.json().resultCsv);

  const term = await TestTerminal.connect({ port: app.posPort, terminalId: 'DAYT0001', merchantId: '898310048165555', tmk: Buffer.from(tmks[0]!, 'hex') });
  t.teardown(() => term.close());
  const keep = (a: Awaited<ReturnType<typeof term.send>>) => {
    answers.push(encode(a).toString('latin1'), encode(a).toString('hex'));
    return a;
  };
  const send = async (m: Parameters<typeof term.send>[0]) => keep(await term.send(m));
  t.equal(keep(await term.signOn()).fields[39], '00');
  const p1 = term.purchaseMessage(cards[0]!, 2000, { pin: '975310' });
  const a1 = await send(p1);
  t.equal(a1.fields[39], '00');
  t.equal((await send(term.voidMessage(cards[0]!, 2000, { rrn: String(a1.fields[37]), trace: String(p1.fields[11]) }))).fields[39], '00');
  const a2 = await send(term.purchaseMessage(cards[1]!, 3000));
  t.equal((await send(term.refundMessage(cards[1]!, 1000, { rrn: String(a2.fields[37]) }))).fields[39], '00');
  const p3 = term.purchaseMessage(cards[1]!, 500);
  await send(p3);
  await send(term.reversalMessage(p3));
  t.equal((await send(term.purchaseMessage(cards[0]!, 100, { pin: '000000' }))).fields[39], '55');

  await call(ops, 'POST', '/terminals/DAYT0001/master-key', { tmkHex: tmks[1] });
  await call(ops, 'PUT', `/cards/${cards[0]}/pin`, { pin: '864200' });
  await call(ops, 'PATCH', `/cards/${cards[1]}`, { status: 'frozen' });
  await call(ops, 'PATCH', '/merchants/898310048165555', { feeRateBp: 90 });
  await call(auditor, 'GET', `/transactions?cardNo=${cards[0]}`);
  const found = await call(auditor, 'GET', `/transactions?cardNo=${cards[1]}`);
  await call(auditor, 'GET', `/transactions/${found.json().transactions[0].id}`);
  await call(auditor, 'GET', `/cards/${cards[0]}`);
  await call(auditor, 'GET', '/cards');
  await call(auditor, 'GET', '/terminals/DAYT0001');
  await call(auditor, 'GET', '/audit-log?limit=1000');
  await call(auditor, 'GET', '/keys');
  await call(auditor, 'GET', '/accruals/feeds');
  const wrong = `${ops.slice(0, -6)}ZZZZZZ`;
  t.equal((await call(wrong, 'GET', '/merchants')).statusCode, 401);
  const rotated = await call(adminKey, 'POST', `/keys/${(await new ApiKeys(app.ledger.pool).list()).find((k) => k.name === 'day auditor')!.keyId}/rotate`, { graceSeconds: 0 });
  apiKeys.push(rotated.json().key);
  await call(adminKey, 'POST', '/keys/2/revoke');
  await call(auditor, 'GET', '/docs/json');

  const secrets = [
    ...cards.map((c) => ({ what: 'a card number', value: c })),
    ...tmks.flatMap((k) => [{ what: 'a master key', value: k }, { what: 'a master key', value: k.toLowerCase() }]),
    ...apiKeys.flatMap((k) => [{ what: 'an API key', value: k }, { what: 'an API key\'s secret', value: k.slice('psk_'.length + 11) }]),
  ];
  t.ok(app.logLines.length > 10, `${app.logLines.length} log lines, ${replies.length} replies, ${answers.length / 2} answers searched`);
  const found2: string[] = [];
  for (const s of secrets) {
    for (const l of app.logLines) if (l.includes(s.value)) found2.push(`${s.what} in a log line: ${l.slice(0, 120)}`);
    for (const r of replies) {
      if (r.makesKey && s.what.startsWith('an API key')) continue;
      if (r.body.includes(s.value)) found2.push(`${s.what} in the reply to ${r.what}`);
    }
    for (const a of answers) if (a.includes(s.value)) found2.push(`${s.what} in an answer to a terminal`);
  }
  t.same(found2, [], 'no secret anywhere');
  t.ok(replies.filter((r) => r.makesKey).every((r) => apiKeys.some((k) => r.body.includes(k))), 'a key is shown once: in the reply that makes it');
});
