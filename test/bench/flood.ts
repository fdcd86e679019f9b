// `npm run bench:flood`: does one bad client hurt the good ones? The switch as deployed by default (a child
// process on the embedded default, durability on), 64 load terminals driven at BENCH_FLOOD_RATE purchases a
// second (default 3,000) for BENCH_FLOOD_SECONDS (default 24), twice in this one process:
//  1. alone: the baseline, measured in the same run;
//  2. with a flood started a third of the way in and lasting a third of the run: one terminal (10000001) on 160
//     connections from 127.0.0.2 (another client address), each pipelining 32 purchases of one card and sending
//     the next as soon as one is answered (test/bench/flood-client.ts, a process of its own).
// Printed: the good terminals' answers and p99 second by second in both runs, side by side, and per phase
// (before, during, after the flood), with what the flood itself got. The limits at work: cardInFlightMax,
// inFlightPerAddressMax and terminalRequestsPerSecondMax (README, "What the switch does with a request").
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad, type LoadReport } from '../../simulators/load.js';
import { entry, run, startSwitchProcess } from './switch-process.js';

const rate = Number(process.env.BENCH_FLOOD_RATE ?? 3000);
const seconds = Number(process.env.BENCH_FLOOD_SECONDS ?? 24);
const terminals = 64;
const cards = 10_000;

function log(s: string): void { process.stderr.write(`bench:flood: ${s}\n`); }

interface Second { at: number; answered: number; p99: number | null }

/** One good run at `rate`, with its answers and recent p99 each second. */
async function goodRun(port: number, stateDir: string, label: string, during?: () => void): Promise<{ report: LoadReport; seconds: Second[] }> {
  const perSecond: Second[] = [];
  let last = 0;
  let next = 1;
  const report = await runLoad({
    host: '127.0.0.1', port, terminals, cards, durationS: seconds, rate, mix: { purchase: 100, balance: 0, void: 0 },
    connectionsPerTerminal: 1, stateDir, reconcile: true, timeoutMs: 30_000,
    onProgress: (p) => {
      if (p.elapsedS < next) return;
      perSecond.push({ at: next, answered: p.answered - last, p99: p.p99Ms });
      last = p.answered;
      if (next === Math.round(seconds / 3)) during?.();
      if (next % 4 === 0) log(`${label} ${next} s: ${p.answered} answered, recent p99 ${p.p99Ms ?? '-'} ms`);
      next++;
    },
  });
  return { report, seconds: perSecond };
}

async function main(): Promise<number> {
  if (!(rate > 0 && seconds >= 9)) { log('BENCH_FLOOD_RATE > 0 and BENCH_FLOOD_SECONDS >= 9, please'); return 2; }
  const main = entry(log);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-bench-'));
  chmodSync(scratch, 0o755);   // run as root, embedded PostgreSQL runs as its own user and must reach its directory
  const dataDir = path.join(scratch, 'data');
  let sw: Awaited<ReturnType<typeof startSwitchProcess>> | null = null;
  try {
    log(`seeding ${dataDir}: ${terminals} load terminals, ${cards} load cards`);
    run([...main, 'seed', '--demo', '--load-terminals', String(terminals), '--load-cards', String(cards), '--data-dir', dataDir]);
    sw = await startSwitchProcess(main, dataDir, 'info', '/dev/null');
    log(`switch ready (POS ${sw.posPort}); warm-up 5 s at ${rate}/s`);
    const stateDir = path.join(scratch, 'sim-state');
    await runLoad({ host: '127.0.0.1', port: sw.posPort, terminals, cards, durationS: 5, rate, mix: { purchase: 100, balance: 0, void: 0 }, connectionsPerTerminal: 1, stateDir, reconcile: false, timeoutMs: 30_000 });
    log(`run 1: ${rate}/s for ${seconds} s, no flood (the baseline)`);
    const alone = await goodRun(sw.posPort, stateDir, 'alone');
    const floodSeconds = Math.round(seconds / 3);
    let flood: Promise<{ perS: number; answered: number; codes: Record<string, number> } | { error: string }> = Promise.resolve({ error: 'not started' });
    const startFlood = () => {
      log(`flood: terminal 10000001, 160 connections from 127.0.0.2, 32 pipelined purchases each, one card, ${floodSeconds} s`);
      flood = new Promise((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/bench/flood-client.ts'), '--port', String(sw!.posPort), '--seconds', String(floodSeconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
        child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
        child.on('close', (code) => {
          try { resolve(JSON.parse(out.trim().split('\n').pop() ?? '')); } catch { resolve({ error: `exit ${code}: ${err.trim().split('\n').pop() ?? ''}` }); }
        });
      });
    };
    log(`run 2: ${rate}/s for ${seconds} s, the flood from second ${floodSeconds} to about ${2 * floodSeconds}`);
    const flooded = await goodRun(sw.posPort, stateDir, 'flooded', startFlood);
    const f = await flood;

    const lines = [`bench:flood — ${os.cpus().length} CPUs, ${terminals} good terminals at ${rate} purchases/s, ${seconds} s a run; the flood from second ${floodSeconds} for ${floodSeconds} s`];
    lines.push('  second   alone: answered  p99 ms   with the flood: answered  p99 ms');
    for (let i = 0; i < Math.max(alone.seconds.length, flooded.seconds.length); i++) {
      const x = alone.seconds[i];
      const y = flooded.seconds[i];
      const inFlood = (y?.at ?? 0) > floodSeconds && (y?.at ?? 0) <= 2 * floodSeconds + 1;
      lines.push(`  ${String(i + 1).padStart(6)}   ${String(x?.answered ?? '').padStart(15)}  ${String(x?.p99 ?? '').padStart(7)}   ${String(y?.answered ?? '').padStart(24)}  ${String(y?.p99 ?? '').padStart(7)}${inFlood ? '   flood' : ''}`);
    }
    const phase = (s: Second[], from: number, to: number) => {
      const xs = s.filter((p) => p.at > from && p.at <= to);
      const answered = xs.reduce((n, p) => n + p.answered, 0) / Math.max(1, xs.length);
      const p99 = Math.max(0, ...xs.map((p) => p.p99 ?? 0));
      return `${Math.round(answered)}/s, worst recent p99 ${p99} ms`;
    };
    lines.push(`  during the flood's seconds: alone ${phase(alone.seconds, floodSeconds, 2 * floodSeconds + 1)}; with the flood ${phase(flooded.seconds, floodSeconds, 2 * floodSeconds + 1)}`);
    const l = (r: LoadReport) => `p50 ${r.latency?.p50Ms} ms, p99 ${r.latency?.p99Ms}, max ${r.latency?.maxMs}; ${r.ok ? 'every request answered, reconciled' : 'NOT ALL ANSWERED OR NOT RECONCILED'}`;
    lines.push(`  whole run: alone ${Math.round(alone.report.purchasesApprovedPerS)} purchases/s, ${l(alone.report)}`);
    lines.push(`             with the flood ${Math.round(flooded.report.purchasesApprovedPerS)} purchases/s, ${l(flooded.report)}`);
    lines.push(`  the flood got: ${'error' in f ? f.error : `${f.perS} answers/s, ${Object.entries(f.codes).map(([c, n]) => `${c}: ${n}`).join(', ')}`}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return alone.report.ok && flooded.report.ok ? 0 : 1;
  } finally {
    await sw?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
