// `npm run faults -- --short` as part of `npm test`: every fault, briefly, on servers of its own (it kills them,
// so never the test run's shared ones); the table must say that every invariant held under every fault.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { faults } from './faults.js';
import type { Row } from './table.js';

t.setTimeout(900_000);

t.test('the short fault suite: every fault survived, every invariant held', { timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-faults-short-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = path.join(dir, 'table.json');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/faults/suite.ts'), '--short', '--json', json], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.comment(out);
  t.equal(code, 0, `the suite exits 0${code === 0 ? '' : `: ${err.split('\n').slice(-30).join('\n')}`}`);
  const rows = (JSON.parse(readFileSync(json, 'utf8')) as { rows: Row[] }).rows;
  t.same(rows.map((r) => r.fault), faults.map((f) => f.name), 'every fault ran, in order');
  for (const r of rows) {
    t.ok(r.requests > 0 && r.approvals > 0, `${r.fault}: the terminals were served (${r.requests} requests, ${r.approvals} approvals)`);
    for (const c of r.checks) t.ok(c.ok, `${r.fault}: ${c.name} (${c.detail})`);
  }
  t.match(out, new RegExp(`\\| total .*\\| yes: ${faults.length} faults survived`), 'the table says so');
});
