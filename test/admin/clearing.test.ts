// The clearing API over the real admin app and database: a run answers 202 and goes on in the background, its
// status and per-merchant table show what the engine computed, a download is byte for byte the file the engine
// writes, a close closes once and in order, and a closed period's fees cannot be changed any more.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { dateIn } from '../../src/clearing/periods.js';
import { periodFiles, runClearing } from '../../src/clearing/index.js';
import type { TxnKey } from '../../src/ledger/index.js';
import { testEnv } from '../support/db.js';
import { seed, startSwitch } from '../switch/support/app.js';
import { coffee, diamond, mart, t1, t3 } from '../ledger/helpers.js';
import { adminCaller, type AdminCall } from './support.js';

const params = { timeZone: 'Asia/Shanghai', graceDays: 1, terminalFeeFen: 2000 };
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let trace = 0;
const keyOn = (date: string, terminalId: string): TxnKey => ({ terminalId, batchNo: '000001', trace: String(++trace).padStart(6, '0'), businessDate: date });

type Status = {
  period: string; state: 'open' | 'closed'; closedBy: string | null;
  job: { action: string; state: string; step: string | null; error: { kind: string; message: string } | null; runId: number | null } | null;
  run: { runId: number; provisional: boolean; totals: Record<string, number | string | boolean>; files: Array<{ name: string; sha256: string }> } | null;
};

/** Polls a period's status until no job of this process is running there. */
async function settled(call: AdminCall, period: string): Promise<Status> {
  for (let i = 0; i < 1200; i++) {
    const s = (await call('GET', `/clearing/periods/${period}`)).json() as Status;
    if (s.job?.state !== 'running') return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`clearing of ${period} still running after a minute`);
}

t.test('the clearing API', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const clearing = await adminCaller(app, 'clearing');
  const auditor = await adminCaller(app, 'auditor');
  const operator = await adminCaller(app, 'operator');
  const buy = async (date: string, amountFen: number, merchantId: string) => {
    const r = await app.ledger.purchase({ key: keyOn(date, merchantId === mart ? t3 : t1), merchantId, cardNo: diamond, amountFen });
    if (!r.ok) throw new Error(`purchase declined: ${JSON.stringify(r.decline)}`);
  };
  await buy('2026-10-05', 10_000, coffee);   // 5000 points, ¥100.00 gross, 60 bp: 60 fen
  await buy('2026-10-20', 2_500, coffee);    // 1250 points, ¥25.00 gross
  await buy('2026-10-07', 10_000, mart);     // 4500 points, ¥90.00 gross, 80 bp: 72 fen

  await t.test('a run answers 202 with its status as Location; polled, the status gives the totals', async (t) => {
    const r = await clearing('POST', '/clearing/periods/2026-10/runs');
    t.equal(r.statusCode, 202, r.body);
    t.equal(r.headers.location, '/clearing/periods/2026-10');
    t.equal(r.json().job.action, 'run');
    const s = await settled(clearing, '2026-10');
    t.equal(s.job?.state, 'done', JSON.stringify(s.job));
    t.equal(s.job?.step, 'files', 'the last step reported');
    t.equal(s.state, 'open');
    t.equal(s.run?.runId, s.job?.runId);
    t.equal(s.run?.provisional, false, 'October has ended');
    t.match(s.run?.totals, { merchants: 2, purchaseCount: 3, purchasePoints: 10_750, grossFen: 21_500, feeFen: 75 + 72, issuerOwesFen: 21_500 });
    t.same(s.run?.files.map((f) => f.name), ['merchants.csv', 'merchant-fees.csv', 'terminals.csv', 'summary.csv', 'summary.json', 'report.html']);
    const listed = (await auditor('GET', '/clearing/periods')).json() as Status[];
    t.same(listed.map((p) => p.period), ['2026-10']);
    const trail = (await auditor('GET', '/audit-log?subject=2026-10')).json().entries as Array<{ action: string; actor: string; after: { runId: number } }>;
    t.same(trail.map((e) => [e.action, e.actor, e.after.runId]), [['clearing.run', 'key:test clearing', s.run?.runId]], 'the run is in the audit trail with its key');
  });

  await t.test('a second run while one is under way is refused 409', async (t) => {
    const [a, b] = await Promise.all([clearing('POST', '/clearing/periods/2026-10/runs'), clearing('POST', '/clearing/periods/2026-10/runs')]);
    t.same([a.statusCode, b.statusCode].sort(), [202, 409]);
    const refused = a.statusCode === 409 ? a : b;
    t.match(refused.headers['content-type'], /application\/problem\+json/);
    t.match(refused.json().detail, /^params\.period: a run of 2026-10 .* is under way/);
    t.equal((await settled(clearing, '2026-10')).job?.state, 'done');
  });

  await t.test('the per-merchant table pages by merchantId, numbers as integers', async (t) => {
    const all = (await auditor('GET', '/clearing/periods/2026-10/merchants')).json();
    t.same(all.merchants.map((m: { merchantId: string }) => m.merchantId), [coffee, mart]);
    t.match(all.merchants[0], { merchantName: 'Demo Coffee', purchaseCount: 2, purchasePoints: 6250, grossFen: 12_500, feeRatesBp: '60', feeFen: 75, netPayableFen: 12_425 });
    t.equal(all.next, null);
    const pages: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      const page = (await clearing('GET', `/clearing/periods/2026-10/merchants?limit=1${after ? `&after=${after}` : ''}`)).json() as { merchants: Array<{ merchantId: string }>; next: string | null };
      pages.push(...page.merchants.map((m) => m.merchantId));
      after = page.next;
      if (after === null) break;
    }
    t.same(pages, [coffee, mart], 'a page at a time, each merchant once');
    t.equal((await clearing('GET', '/clearing/periods/2026-10/merchants?after=12')).statusCode, 400);
  });

  await t.test('a download is the file the engine writes for the same data, with its SHA-256', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-clearing-api-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const out = path.join(dir, 'out');
    // The engine's own run (it becomes the period's latest): the download is written again from its stored rows.
    await runClearing(app.ledger.pool, { period: '2026-10', outDir: out, actor: 'test', options: params });
    const s = (await auditor('GET', '/clearing/periods/2026-10')).json() as Status;
    for (const name of ['merchants.csv', 'merchant-fees.csv', 'terminals.csv', 'summary.json', 'report.html']) {
      const r = await auditor('GET', `/clearing/periods/2026-10/files/${name}`);
      t.equal(r.statusCode, 200, `${name}: ${r.statusCode}`);
      const written = await readFile(path.join(out, name));
      t.equal(sha256(r.rawPayload), sha256(written), `${name}: the same bytes as runClearing wrote`);
      t.equal(r.headers['x-content-sha256'], sha256(written));
      t.equal(r.headers.etag, `"${sha256(written)}"`);
      t.equal(s.run?.files.find((f) => f.name === name)?.sha256, sha256(written), `${name}: the hash the status gives`);
    }
    t.match((await auditor('GET', '/clearing/periods/2026-10/files/merchants.csv')).headers['content-type'], /^text\/csv/);
    t.match((await auditor('GET', '/clearing/periods/2026-10/files/summary.json')).headers['content-type'], /^application\/json/);
    const page = await auditor('GET', '/clearing/periods/2026-10/files/report.html');
    t.match(page.headers['content-type'], /^text\/html/);
    t.match(page.body, /<html/i, 'the report page');
    t.equal((await auditor('GET', '/clearing/periods/2026-10/files/manifest.json')).json().runId, s.run?.runId);
    t.equal((await auditor('GET', '/clearing/periods/2026-10/files/passwd')).statusCode, 400, 'only the run\'s files');
    t.equal((await auditor('GET', '/clearing/periods/2026-08/files/merchants.csv')).statusCode, 404, 'a period never run');
  });

  await t.test('refusals: a bad period 400 naming it, one never run 404, the auditor may not run, no key 401', async (t) => {
    const bad = await clearing('GET', '/clearing/periods/2026-13');
    t.equal(bad.statusCode, 400);
    t.match(bad.json().detail, /^params\.period: a period is a month written YYYY-MM/);
    t.equal((await clearing('POST', '/clearing/periods/october/runs')).statusCode, 400);
    const never = await clearing('GET', '/clearing/periods/2026-08');
    t.equal(never.statusCode, 404);
    t.match(never.json().detail, /2026-08 has never been run/);
    t.equal((await clearing('GET', '/clearing/periods/2026-08/merchants')).statusCode, 404);
    t.equal((await auditor('GET', '/clearing/periods/2026-10')).statusCode, 200);
    t.equal((await auditor('POST', '/clearing/periods/2026-10/runs')).statusCode, 403);
    t.equal((await auditor('POST', '/clearing/periods/2026-10/close')).statusCode, 403);
    t.equal((await operator('GET', '/clearing/periods/2026-10')).statusCode, 403);
    t.equal((await app.admin.inject({ method: 'GET', url: '/clearing/periods/2026-10', remoteAddress: '127.0.9.1' })).statusCode, 401);
    const future = await clearing('POST', '/clearing/periods/2099-01/runs');
    t.equal(future.statusCode, 409);
    t.match(future.json().detail, /2099-01 has not started yet/);
  });

  await t.test('a period that has not ended cannot be closed; the detail says from when', async (t) => {
    const thisMonth = dateIn(params.timeZone, new Date()).slice(0, 7);
    const r = await clearing('POST', `/clearing/periods/${thisMonth}/close`);
    t.equal(r.statusCode, 409);
    t.match(r.json().detail, new RegExp(`^params\\.period: ${thisMonth} has not ended: it may be closed from \\d{4}-\\d{2}-\\d{2}`));
  });

  await t.test('a close answers 202, then the period is closed; closing again is 409, and an earlier period is out of order', async (t) => {
    const r = await clearing('POST', '/clearing/periods/2026-10/close');
    t.equal(r.statusCode, 202, r.body);
    t.equal(r.headers.location, '/clearing/periods/2026-10');
    const s = await settled(clearing, '2026-10');
    t.equal(s.job?.state, 'done', JSON.stringify(s.job));
    t.equal(s.state, 'closed');
    t.equal(s.closedBy, 'key:test clearing');
    const again = await clearing('POST', '/clearing/periods/2026-10/close');
    t.equal(again.statusCode, 409);
    t.match(again.json().detail, /2026-10 is already closed/);
    const earlier = await clearing('POST', '/clearing/periods/2026-09/close');
    t.equal(earlier.statusCode, 409);
    t.match(earlier.json().detail, /can no longer be closed: periods up to 2026-10-31 are closed/);
    // A closed period's files come again from its closing run, with the hashes recorded at the close.
    const json = await auditor('GET', '/clearing/periods/2026-10/files/summary.json');
    t.equal(sha256(json.rawPayload), s.run?.files.find((f) => f.name === 'summary.json')?.sha256);
    t.equal(json.json().provisional, false);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ps-clearing-closed-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const fromEngine = await periodFiles(app.ledger.pool, '2026-10', path.join(dir, 'out'));
    t.equal(fromEngine.sameAsClosed, true, 'periodFiles gives the bytes hashed at the close');
    t.equal(sha256(await readFile(path.join(dir, 'out', 'summary.json'))), sha256(json.rawPayload), 'and the same bytes as the download');
    const trail = (await auditor('GET', '/audit-log?subject=2026-10&action=clearing.close')).json().entries as Array<{ actor: string }>;
    t.same(trail.map((e) => e.actor), ['key:test clearing'], 'the close is in the audit trail with its key');
  });

  await t.test('a rate change dated into a closed period is refused 409 naming body.effectiveFrom', async (t) => {
    const r = await operator('POST', `/merchants/${coffee}/rates`, { feeRateBp: 100, effectiveFrom: '2026-10-31' });
    t.equal(r.statusCode, 409);
    t.match(r.json().detail, /^body\.effectiveFrom: clearing is closed through 2026-10-31/);
    t.equal((await operator('GET', `/merchants/${coffee}/rates`)).json().length, 0, 'nothing recorded');
    t.equal((await operator('POST', `/merchants/${coffee}/rates`, { feeRateBp: 100, effectiveFrom: '2026-11-01' })).statusCode, 200, 'the day after is open');
  });
});
