// The operators' first session in src/admin/README.md, run as written: the copy-paste block makes two keys with the
// CLI, a merchant, a terminal and a card, feeds the card points, swipes it at the new terminal with the simulator
// and finds the purchase, against a running switch.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testEnv } from '../support/db.js';
import { seed, startSwitch } from '../switch/support/app.js';

const root = path.resolve(import.meta.dirname, '..', '..');

/** The first ```sh block after the heading. */
export function blockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(heading);
  if (at < 0) throw new Error(`no heading ${heading}`);
  const m = /```sh\n([\s\S]*?)```/.exec(markdown.slice(at));
  if (!m) throw new Error(`no sh block after ${heading}`);
  return m[1]!;
}

t.test('the first session of src/admin/README.md runs as written', async (t) => {
  const env = await testEnv(t);
  await seed(env);
  const app = await startSwitch(t, env);
  const block = blockAfter(readFileSync(path.join(root, 'src/admin/README.md'), 'utf8'), '## A first session, copy and paste');
  // `npx pointswitch` runs the checkout's CLI; here it runs its source, as `npm run pointswitch` does.
  const bin = mkdtempSync(path.join(os.tmpdir(), 'ps-readme-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const tsx = path.join(root, 'node_modules/.bin/tsx');
  writeFileSync(path.join(bin, 'npx'), `#!/bin/sh\ncase "$1" in\n  pointswitch) shift; exec "${tsx}" "${path.join(root, 'src/cli/main.ts')}" "$@";;\n`
    + `  pointswitch-sim) shift; exec "${tsx}" "${path.join(root, 'simulators/cli.ts')}" "$@";;\nesac\nexit 97\n`);
  chmodSync(path.join(bin, 'npx'), 0o755);
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn('bash', ['-euo', 'pipefail', '-c', block], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ADMIN: `http://127.0.0.1:${app.adminPort}`, DATABASE_URL: env.databaseUrl, POS_PORT: String(app.posPort) },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.equal(run.code, 0, run.stderr);
  const out = run.stdout.trim().split('\n');
  const card = JSON.parse(out.at(-1)!);
  t.same([card.cardNo, card.balancePoints], ['886000******3456', 2100], '2,500 yuan billed earned 2,500 points, 10 yuan at 40 a yuan spent 400; the number comes back masked');
  const found = JSON.parse(out.at(-2)!).transactions;
  t.same(found.map((x: { kind: string; amountFen: number; points: number; terminalId: string }) => [x.kind, x.amountFen, x.points, x.terminalId]), [['purchase', 1000, 400, 'NEWC0001']], 'the purchase is found by the card');
  t.notOk(run.stdout.includes('8860000000123456'), 'no reply shows the full card number');
  const { rows } = await app.ledger.pool.query('SELECT action, actor FROM audit_log ORDER BY audit_id');
  t.same(rows.map((r) => r.action), ['key.create', 'key.create', 'merchant.create', 'terminal.create', 'card.create', 'accruals.feed']);
  t.match(rows[0].actor, /^cli:/, 'the CLI\'s keys are audited with the CLI user');
  t.equal(rows[2].actor, 'key:ops desk');
});
