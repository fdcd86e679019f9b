import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { benchJson, jsonFileArg } from './json-out.js';

t.test('--json takes a file, "-" for stdout, and refuses to go without one', async (t) => {
  t.equal(jsonFileArg(['--seconds', '5']), undefined);
  t.equal(jsonFileArg(['--json', 'out.json']), 'out.json');
  t.equal(jsonFileArg(['--dir', '/d', '--json', '-']), '-');
  t.throws(() => jsonFileArg(['--json']), /--json needs a file/);
  t.throws(() => jsonFileArg(['--json', '--seconds', '5']), /--json needs a file/);
});

t.test('a bench\'s JSON carries its figures with the date, the machine and the baseline beside', async (t) => {
  const j = benchJson('bench:x', { perS: 2 }, { perS: 1 });
  t.equal(j.bench, 'bench:x');
  t.ok(Number.isFinite(Date.parse(j.at)));
  t.equal(j.machine.cores, os.cpus().length);
  t.type(j.machine.cpuModel, 'string');
  t.same(j.figures, { perS: 2 });
  t.same(j.baseline, { perS: 1 });
});

t.test('bench:disk writes its figures to --json FILE', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-bench-json-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'disk.json');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.resolve('test/bench/disk-probe.ts'), '--dir', dir, '--seconds', '0.2', '--hz', '20', '--json', file], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const j = JSON.parse(readFileSync(file, 'utf8')) as { bench: string; figures: { hz: number; latency: { count: number } }; baseline: { flushTargetMs: number } };
  t.equal(j.bench, 'bench:disk');
  t.equal(j.figures.hz, 20);
  t.ok(j.figures.latency.count > 0);
  t.same(j.baseline, { flushTargetMs: 25 });
  t.match(r.stdout, /disk probe/, 'the table is still printed');
});
