// A switch process killed with SIGKILL mid-flight: every approval it reported is in the ledger, and the
// ledger's invariants hold (no half-written debit).
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { audit } from '../../src/ledger/audit.js';
import { seededLedger } from './helpers.js';

t.test('after SIGKILL of a debiting process every approval it printed is in the ledger and audit passes', async (t) => {
  const { env, ledger } = await seededLedger(t);
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/ledger/debit-child.ts')], {
    env: { ...process.env, CHILD_DATABASE_URL: env.databaseUrl, CHILD_REDIS_URL: env.redisUrl, CHILD_REDIS_PREFIX: env.redisPrefix },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const approvals: Array<{ trace: string; rrn: string; points: number }> = [];
  let buffer = '';
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child approved too little in 60 s')), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [word, trace, rrn, points] = line.split(' ');
        if (word === 'APPROVED' && trace && rrn) approvals.push({ trace, rrn, points: Number(points) });
      }
      if (approvals.length >= 400 && child.exitCode === null && !child.killed) {
        child.kill('SIGKILL');
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => { clearTimeout(timer); resolve(); });
  });
  t.equal(await exited, 'SIGKILL', 'killed, not exited');
  t.ok(approvals.length >= 400, `${approvals.length} approvals printed before the kill`);
  const { rows } = await ledger.pool.query(
    `SELECT rrn, points, state FROM authorisations WHERE rrn = ANY($1)`, [approvals.map((a) => a.rrn)]);
  const byRrn = new Map(rows.map((r) => [r.rrn as string, r]));
  const missing = approvals.filter((a) => byRrn.get(a.rrn)?.state !== 'approved' || byRrn.get(a.rrn)?.points !== a.points);
  t.same(missing, [], 'every printed approval is an approved authorisation with its points');
  const report = await audit(ledger.pool);
  t.same(report.problems, [], 'audit passes after the kill');
  const stored = await ledger.pool.query(`SELECT count(*)::int AS n FROM authorisations WHERE batch_no = '000777' AND state = 'approved'`);
  t.ok(stored.rows[0].n >= approvals.length, 'the ledger may hold approvals the process never got to print, never fewer');
});
