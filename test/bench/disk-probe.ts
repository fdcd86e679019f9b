// The disk's own commit latency: write one 8 KB block and fdatasync it, HZ times a second, in a file of its own
// in a directory on the disk under test, and report how long each took. This is the smallest durable commit
// there is (PostgreSQL's WAL flush with synchronous_commit on is a write and an fdatasync of the WAL file), so a
// stall seen here holds up every commit of every database on that disk, whatever the software above it does.
//
// `npm run bench:disk [-- --dir D --seconds S --hz H --json FILE]`: a table for a person (is this disk fit for the
// latency target?), and with `--json FILE` the same figures as JSON ("-": on stdout instead of the table).
// `bench:switch` runs it beside each of its runs (`--json -`), as the control for the disk.
// The probe itself adds HZ small flushes a second (100 by default) to the disk's load.
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { summarise, type LatencySummary } from '../../simulators/load.js';
import { jsonFileArg, writeBenchJson } from './json-out.js';

/** A flush slower than this holds a commit past the switch's p99 target. */
export const flushTargetMs = 25;

export interface DiskProbeReport {
  dir: string;
  hz: number;
  seconds: number;
  /** Latency of write + fdatasync, ms. */
  latency: LatencySummary | null;
  /** Flushes slower than 25 ms (the switch's p99 target) and than 100 ms. */
  over25: number;
  over100: number;
  /** The time spent in flushes slower than 25 ms, ms: how long the disk held every commit up. */
  stalledMs: number;
  /** The slowest flushes, with when they began (ISO time), slowest first, at most 10. */
  worst: Array<{ at: string; ms: number }>;
}

/** Summarises write + fdatasync latencies (ms), with the start time of each (epoch ms). */
export function diskReport(dir: string, hz: number, seconds: number, latencies: number[], startedAt: number[]): DiskProbeReport {
  let over25 = 0;
  let over100 = 0;
  let stalledMs = 0;
  for (const ms of latencies) {
    if (ms > flushTargetMs) { over25++; stalledMs += ms; }
    if (ms > 100) over100++;
  }
  const worst = latencies.map((ms, i) => ({ at: new Date(startedAt[i] ?? 0).toISOString(), ms: Math.round(ms * 10) / 10 }))
    .sort((a, b) => b.ms - a.ms).slice(0, 10);
  return { dir, hz, seconds, latency: summarise(latencies), over25, over100, stalledMs: Math.round(stalledMs), worst };
}

/**
 * Probes for `seconds`, blocking this process's thread (run it in a process of its own). The file is 2 MB,
 * written through once first so that the probe overwrites allocated blocks, as PostgreSQL does a recycled WAL
 * segment; it is removed at the end.
 */
export function probeDisk(dir: string, seconds: number, hz: number, onSecond?: (elapsedS: number, last: number[]) => void): DiskProbeReport {
  const scratch = mkdtempSync(path.join(dir, '.disk-probe-'));
  const file = path.join(scratch, 'probe');
  const block = Buffer.alloc(8192, 0x5a);
  const blocks = 256;
  const fd = openSync(file, 'w');
  const latencies: number[] = [];
  const startedAt: number[] = [];
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  try {
    for (let i = 0; i < blocks; i++) writeSync(fd, block, 0, block.length, i * block.length);
    fsyncSync(fd);
    const t0 = performance.now();
    let second = 1;
    let fromIndex = 0;
    for (let i = 0; performance.now() - t0 < seconds * 1000; i++) {
      // On a fixed schedule: after a stall the probe does not try to catch up, it goes on from now.
      const due = t0 + (i * 1000) / hz;
      while (performance.now() < due) Atomics.wait(sleeper, 0, 0, Math.max(0, due - performance.now()));
      const wall = Date.now();
      const s = performance.now();
      writeSync(fd, block, 0, block.length, (i % blocks) * block.length);
      fdatasyncSync(fd);
      latencies.push(performance.now() - s);
      startedAt.push(wall);
      if (onSecond && performance.now() - t0 >= second * 1000) {
        onSecond(second, latencies.slice(fromIndex));
        fromIndex = latencies.length;
        second++;
      }
      if (performance.now() > due + 1000 / hz) i = Math.floor(((performance.now() - t0) * hz) / 1000);
    }
  } finally {
    closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
  return diskReport(dir, hz, seconds, latencies, startedAt);
}

export function formatDiskReport(r: DiskProbeReport): string {
  const l = r.latency;
  const lines = [
    `disk probe — ${r.dir}: an 8 KB write + fdatasync ${r.hz} times a second for ${r.seconds} s`,
    l ? `  flushes ${l.count}   p50 ${l.p50Ms} ms   p90 ${l.p90Ms}   p99 ${l.p99Ms}   p99.9 ${l.p999Ms}   max ${l.maxMs}` : '  no flushes',
    `  over 25 ms: ${r.over25}   over 100 ms: ${r.over100}   time in flushes over 25 ms: ${r.stalledMs} ms`,
  ];
  if (r.worst.length > 0 && r.worst[0]!.ms > 25) lines.push(`  slowest: ${r.worst.filter((w) => w.ms > 25).map((w) => `${w.at.slice(11, 23)} ${w.ms} ms`).join(', ')}`);
  return lines.join('\n');
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: ${JSON.stringify(value)} is not a positive number`);
  return n;
}

function cli(args: string[]): number {
  try {
    const dir = path.resolve(arg(args, '--dir') ?? os.tmpdir());
    const seconds = positive('--seconds', arg(args, '--seconds'), 60);
    const hz = positive('--hz', arg(args, '--hz'), 100);
    if (hz > 1000) throw new Error(`--hz: ${hz} is more than 1000`);
    const jsonFile = jsonFileArg(args);
    const quiet = jsonFile === '-';
    if (!quiet) process.stderr.write(`bench:disk: probing ${dir} for ${seconds} s\n`);
    const report = probeDisk(dir, seconds, hz, quiet ? undefined : (s, last) => {
      if (s % 5 === 0) process.stderr.write(`bench:disk: ${s} s, slowest flush of the last second ${Math.max(0, ...last).toFixed(1)} ms\n`);
    });
    if (!quiet) process.stdout.write(`${formatDiskReport(report)}\n`);
    // No software runs beside the probe: its baseline is the target a commit's flush is read against.
    if (jsonFile) writeBenchJson(jsonFile, 'bench:disk', report, { flushTargetMs });
    return 0;
  } catch (err) {
    process.stderr.write(`bench:disk: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = cli(process.argv.slice(2));
