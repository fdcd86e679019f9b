import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { diskReport, formatDiskReport, probeDisk } from './disk-probe.js';

t.test('the report counts flushes over 25 and 100 ms and the time spent in them, slowest first', async (t) => {
  const at = [0, 10, 20, 30, 40, 50].map((ms) => Date.UTC(2026, 10, 23, 12, 0, 0, ms));
  const r = diskReport('/d', 100, 1, [0.4, 25, 25.5, 100, 100.5, 3], at);
  t.equal(r.over25, 3, '25 ms itself is not over 25');
  t.equal(r.over100, 1);
  t.equal(r.stalledMs, Math.round(25.5 + 100 + 100.5));
  t.same(r.worst.slice(0, 3), [{ at: '2026-11-23T12:00:00.040Z', ms: 100.5 }, { at: '2026-11-23T12:00:00.030Z', ms: 100 }, { at: '2026-11-23T12:00:00.020Z', ms: 25.5 }]);
  t.equal(r.latency?.count, 6);
  t.equal(r.latency?.maxMs, 100.5);
  t.match(formatDiskReport(r), /over 25 ms: 3 {3}over 100 ms: 1/);
  t.match(formatDiskReport(r), /slowest: 12:00:00\.040 100\.5 ms, 12:00:00\.030 100 ms, 12:00:00\.020 25\.5 ms$/);
});

t.test('a probe flushes on its schedule and leaves nothing behind', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ps-disk-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seconds: number[] = [];
  const r = probeDisk(dir, 1.2, 50, (s) => seconds.push(s));
  const n = r.latency?.count ?? 0;
  // 50 a second for 1.2 s, less any the disk held up past their turn (the probe does not catch up)
  t.ok(n >= 20 && n <= 61, `${n} flushes`);
  t.same(seconds, [1]);
  t.ok((r.latency?.p50Ms ?? -1) >= 0);
  t.same(readdirSync(dir), [], 'its scratch file is removed');
});

t.test('the command refuses a bad setting in words, with exit 2', async (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.resolve('test/bench/disk-probe.ts'), '--hz', 'fast'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /--hz: "fast" is not a positive number/);
  t.equal(r.stdout, '');
});
