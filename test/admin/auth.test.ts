// API keys and roles over the real admin app and database: every route needs a key of a role that may call it,
// keys are shown once and stored as hashes, revoked and rotated keys stop, failures are slowed down, every change
// is in the audit trail, and card numbers come back masked.
import t from 'tap';
import { createHash } from 'node:crypto';
import { ApiKeys, roles, type Role } from '../../src/admin/keys.js';
import { testEnv } from '../support/db.js';
import { seed, startSwitch } from '../switch/support/app.js';

t.test('admin API keys and roles', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const keys = new ApiKeys(app.ledger.pool);
  const keyOf: Record<Role, string> = {} as Record<Role, string>;
  for (const role of roles) keyOf[role] = (await keys.create({ role, name: `test ${role}` })).key;
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, key: string | null, payload?: object) =>
    app.admin.inject({ method, url, ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}), ...(payload ? { payload } : {}) });

  await t.test('each role may call what it is for and is refused 403 elsewhere', async (t) => {
    // Every route of the admin API: [method, route, a url of it, roles that may call it]. Reads admit the auditor.
    // Write routes get an empty body: a role that may call one gets past the key check and is answered 400 (or
    // 404), one that may not is answered 403 before the body is read. The table must name every documented route.
    type Method = 'GET' | 'POST' | 'PATCH' | 'PUT';
    const table: Array<[Method, string, string, Role[]]> = [
      ['GET', '/merchants/', '/merchants', ['operator', 'auditor']],
      ['POST', '/merchants/', '/merchants', ['operator']],
      ['GET', '/merchants/{merchantId}', '/merchants/898310048160001', ['operator', 'auditor']],
      ['PATCH', '/merchants/{merchantId}', '/merchants/898310048160001', ['operator']],
      ['GET', '/merchants/{merchantId}/rates', '/merchants/898310048160001/rates', ['operator', 'auditor']],
      ['POST', '/merchants/{merchantId}/rates', '/merchants/898310048160001/rates', ['operator']],
      ['GET', '/terminals/', '/terminals', ['operator', 'auditor']],
      ['POST', '/terminals/', '/terminals', ['operator']],
      ['GET', '/terminals/{terminalId}', '/terminals/10000001', ['operator', 'auditor']],
      ['PATCH', '/terminals/{terminalId}', '/terminals/10000001', ['operator']],
      ['GET', '/terminals/{terminalId}/history', '/terminals/10000001/history', ['operator', 'auditor']],
      ['POST', '/terminals/{terminalId}/master-key', '/terminals/10000001/master-key', ['operator']],
      ['GET', '/cards/', '/cards', ['operator', 'auditor']],
      ['POST', '/cards/', '/cards', ['operator']],
      ['GET', '/cards/{cardNo}', '/cards/8860000000000001', ['operator', 'auditor']],
      ['PATCH', '/cards/{cardNo}', '/cards/8860000000000001', ['operator']],
      ['PUT', '/cards/{cardNo}/pin', '/cards/8860000000000001/pin', ['operator']],
      ['GET', '/transactions/', '/transactions', ['operator', 'clearing', 'auditor']],
      ['GET', '/transactions/{id}', '/transactions/1', ['operator', 'clearing', 'auditor']],
      ['POST', '/accruals/', '/accruals', ['billing']],
      ['POST', '/accruals/csv', '/accruals/csv', ['billing']],
      ['GET', '/accruals/feeds', '/accruals/feeds', ['billing', 'auditor']],
      ['GET', '/accruals/feeds/{feedId}', '/accruals/feeds/1', ['billing', 'auditor']],
      ['GET', '/accruals/feeds/{feedId}/result.csv', '/accruals/feeds/1/result.csv', ['billing', 'auditor']],
      // A clearing POST is sent a month that is not one: a role that may call it is answered 400 and nothing runs.
      ['POST', '/clearing/periods/{period}/runs', '/clearing/periods/2026-13/runs', ['clearing']],
      ['POST', '/clearing/periods/{period}/close', '/clearing/periods/2026-13/close', ['clearing']],
      ['GET', '/clearing/periods', '/clearing/periods', ['clearing', 'auditor']],
      ['GET', '/clearing/periods/{period}', '/clearing/periods/2026-10', ['clearing', 'auditor']],
      ['GET', '/clearing/periods/{period}/merchants', '/clearing/periods/2026-10/merchants', ['clearing', 'auditor']],
      ['GET', '/clearing/periods/{period}/files/{name}', '/clearing/periods/2026-10/files/summary.json', ['clearing', 'auditor']],
      ['GET', '/keys/', '/keys', ['admin', 'auditor']],
      ['POST', '/keys/', '/keys', ['admin']],
      ['POST', '/keys/{keyId}/revoke', '/keys/999/revoke', ['admin']],
      ['POST', '/keys/{keyId}/rotate', '/keys/999/rotate', ['admin']],
      ['GET', '/audit-log/', '/audit-log', ['admin', 'auditor']],
      ['GET', '/clients', '/clients', ['operator', 'auditor']],
      ['GET', '/docs/json', '/docs/json', [...roles]],
    ];
    const doc = (await call('GET', '/docs/json', keyOf.auditor)).json() as { paths: Record<string, Record<string, { security?: unknown; description?: string }>> };
    const documented = Object.entries(doc.paths).flatMap(([route, ops]) => Object.entries(ops).filter(([, op]) => op.security).map(([m]) => `${m.toUpperCase()} ${route}`)).sort();
    t.same(table.filter(([, route]) => !route.startsWith('/docs')).map(([m, route]) => `${m} ${route}`).sort(), documented, 'the table names every route that needs a key');
    for (const [m, route, , may] of table) {
      const described = doc.paths[route]?.[m.toLowerCase()]?.description;
      if (described) t.match(described, new RegExp(`Roles: ${[...may].sort((a, b) => roles.indexOf(a) - roles.indexOf(b)).join(', ')}\\.$`), `the document says who may ${m} ${route}`);
    }
    for (const [method, , url, may] of table) {
      const body = method === 'GET' ? undefined : {};
      for (const role of roles) {
        const r = await call(method, url, keyOf[role], body);
        if (may.includes(role)) t.not(r.statusCode, 403, `${role} may ${method} ${url} (got ${r.statusCode})`);
        else {
          t.equal(r.statusCode, 403, `${role} may not ${method} ${url}`);
          t.match(r.headers['content-type'], /application\/problem\+json/);
          t.equal(r.json().type, 'about:blank#forbidden');
        }
      }
      // From an address of its own each time, so these failures do not spend 127.0.0.1's failure budget.
      const none = await app.admin.inject({ method, url, remoteAddress: `127.0.${table.findIndex((r) => r[2] === url && r[0] === method) + 1}.1`, ...(body ? { payload: body } : {}) });
      t.equal(none.statusCode, 401, `no key: ${method} ${url} answers 401`);
    }
    for (const role of roles) {
      t.equal((await call('POST', '/keys', keyOf[role], { role: 'auditor', name: 'x' })).statusCode, role === 'admin' ? 201 : 403, `POST /keys as ${role}`);
    }
  });

  await t.test('/health and /health/live answer without a key; /metrics too on a loopback bind', async (t) => {
    t.equal((await call('GET', '/health', null)).statusCode, 200);
    t.equal((await call('GET', '/health/live', null)).statusCode, 200);
    t.equal((await call('GET', '/metrics', null)).statusCode, 200);
  });

  await t.test('a wrong, malformed, revoked or expired key is 401; a key is stored only as its hash', async (t) => {
    const wrong = keyOf.operator.slice(0, -4) + (keyOf.operator.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    t.equal((await call('GET', '/merchants', wrong)).statusCode, 401, 'right prefix, wrong secret');
    t.equal((await call('GET', '/merchants', 'not-a-key')).statusCode, 401);
    t.equal((await app.admin.inject({ method: 'GET', url: '/merchants', headers: { 'x-api-key': keyOf.operator } })).statusCode, 200, 'X-Api-Key works too');
    const made = await keys.create({ role: 'operator', name: 'short-lived' });
    t.equal((await call('GET', '/merchants', made.key)).statusCode, 200);
    const revoked = await call('POST', `/keys/${made.info.keyId}/revoke`, keyOf.admin);
    t.equal(revoked.statusCode, 200);
    t.ok(revoked.json().revokedAt);
    t.equal((await call('GET', '/merchants', made.key)).statusCode, 401, 'revoked through the API: refused at once');
    const { rows } = await app.ledger.pool.query('SELECT * FROM api_keys WHERE key_id = $1', [made.info.keyId]);
    t.same(rows[0].secret_sha256, createHash('sha256').update(made.key).digest(), 'the hash is stored');
    t.notOk(JSON.stringify(rows[0]).includes(made.key.slice('psk_'.length + 11)), 'the secret is not');
    const listed = await call('GET', '/keys', keyOf.admin);
    t.notOk(listed.body.includes(made.key.slice('psk_'.length + 11)), 'a list never shows a key');
  });

  await t.test('a rotated key works for its grace period, then stops; the new key works', async (t) => {
    const a = await keys.create({ role: 'operator', name: 'rotating' });
    const r = await call('POST', `/keys/${a.info.keyId}/rotate`, keyOf.admin, { graceSeconds: 3600 });
    t.equal(r.statusCode, 201);
    const fresh = r.json().key as string;
    t.not(fresh, a.key);
    t.equal(r.json().role, 'operator');
    t.equal((await call('GET', '/merchants', a.key)).statusCode, 200, 'old key within its grace');
    t.equal((await call('GET', '/merchants', fresh)).statusCode, 200, 'new key');
    const b = await keys.create({ role: 'operator', name: 'rotating now' });
    const now = await call('POST', `/keys/${b.info.keyId}/rotate`, keyOf.admin, { graceSeconds: 0 });
    t.equal(now.statusCode, 201);
    t.equal((await call('GET', '/merchants', b.key)).statusCode, 401, 'grace 0: the old key stops at once');
    t.equal((await call('POST', `/keys/${b.info.keyId}/rotate`, keyOf.admin, { graceSeconds: 0 })).statusCode, 404, 'a stopped key cannot be rotated');
    t.equal((await call('POST', `/keys/${a.info.keyId}/rotate`, keyOf.admin, { graceSeconds: 0, extra: 1 })).statusCode, 400, 'unknown fields are refused');
  });

  await t.test('changes are in the audit trail with the key that made them; card numbers masked', async (t) => {
    const made = await call('POST', '/cards', keyOf.operator, { cardNo: '8860000000007777', expiry: '3012' });
    t.equal(made.statusCode, 201);
    t.equal(made.json().cardNo, '886000******7777', 'the reply masks the card number');
    t.equal((await call('GET', '/cards/8860000000007777', keyOf.auditor)).json().cardNo, '886000******7777');
    t.equal((await call('PATCH', '/cards/8860000000007777', keyOf.operator, { status: 'frozen' })).json().status, 'frozen');
    const log = await call('GET', '/audit-log?subject=8860000000007777', keyOf.auditor);
    t.equal(log.statusCode, 200);
    const entries = log.json().entries as Array<{ action: string; actor: string; before: { status: string } | null; after: { status: string } }>;
    t.same(entries.map((e) => e.action), ['card.status', 'card.create']);
    t.equal(entries[0]!.actor, 'key:test operator');
    t.same([entries[0]!.before?.status, entries[0]!.after.status], ['active', 'frozen']);
    t.notOk(log.body.includes('8860000000007777'), 'the trail never holds the full number');
    t.equal((await call('POST', '/cards', keyOf.operator, { cardNo: '8860000000007778', expiry: '1399' })).statusCode, 400, 'month 99 is refused');
  });

  await t.test('repeated failures from one address are answered 429 without looking at the key, and logged without it', async (t) => {
    const bogus = 'psk_aaaaaaaaaa_' + 'B'.repeat(43);
    const codes: number[] = [];
    for (let i = 0; i < 15; i++) codes.push((await call('GET', '/merchants', bogus)).statusCode);
    t.ok(codes.includes(429), `429 after repeated failures (${codes.join(',')})`);
    const limited = await call('GET', '/merchants', keyOf.operator);
    t.equal(limited.statusCode, 429, 'even a good key waits while the address is over its budget');
    t.ok(Number(limited.headers['retry-after']) >= 1);
    t.ok(app.logLines.some((l) => l.includes('missing or wrong API key')), 'the failures are logged');
    t.notOk(app.logLines.some((l) => l.includes(bogus) || l.includes('B'.repeat(43))), 'never with the key');
  });
});
