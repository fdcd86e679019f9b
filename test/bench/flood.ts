// `npm run bench:flood`: does one bad client hurt the good ones? The switch as deployed by default (a child
// process on the embedded default, durability on), 64 load terminals driven at BENCH_FLOOD_RATE purchases a
// second (default 3,000) for BENCH_FLOOD_SECONDS (default 24), one run after another in this one process:
//  1. alone: the baseline, measured in the same run;
//  2. then once with each flood of BENCH_FLOOD_KINDS (default all five), started a third of the way in and
//     lasting a third of the run: 160 connections from 127.0.0.2 (another client address), each pipelining 32
//     purchases and sending the next as soon as one is answered (test/bench/flood-client.ts, a process of its
//     own): one-card (one signed-on terminal, all on one card), strangers (a new unknown terminal number each
//     time), bad-mac (the good terminals' numbers without their keys), scattered (strangers from 32
//     addresses, 127.0.1.1 …, so that no one address's budget holds it) or sign-on (sign-ons for the good
//     terminals' own numbers: no MAC needed, answered 00).
// Printed: the good terminals' answers and p99 second by second in every run, side by side, and over the
// flood's seconds, with what each flood itself got. Before run 1, after a 5 s warm-up, BENCH_FLOOD_WAL_WARMUP_MB
// (default 1024; 0 skips it) of WAL and a checkpoint, as in bench:switch (wal.ts). The limits at work: cardInFlightMax, inFlightPerAddressMax,
// terminalRequestsPerSecondMax, refusalsPerAddressPerSecondMax, refusalsPerSecondMax and the sign-on budgets
// (src/switch/README.md, "Limits"). `-- --json FILE` writes the figures, the alone run beside as the baseline.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from '../../simulators/load.js';
import { goodRun, phase, runFigures, summary, type GoodRunOptions } from './good-run.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';
import { embeddedPgUrl, entry, run, startSwitchProcess } from './switch-process.js';
import { warmWal } from './wal.js';

const rate = Number(process.env.BENCH_FLOOD_RATE ?? 3000);
const seconds = Number(process.env.BENCH_FLOOD_SECONDS ?? 24);
const walWarmupMb = Number(process.env.BENCH_FLOOD_WAL_WARMUP_MB ?? 1024);
const terminals = 64;
const cards = 10_000;
const jsonFile = jsonFileOption('bench:flood');

function log(s: string): void { process.stderr.write(`bench:flood: ${s}\n`); }

/** Addresses a scattered flood comes from: 127.0.1.1 … 127.0.1.32. */
const scatteredFrom = Array.from({ length: 32 }, (_, i) => `127.0.1.${i + 1}`);

/** The bad clients (test/bench/flood-client.ts --kind, from --from), and what each sends. */
const floodKinds = {
  'one-card': { kind: 'one-card', from: ['127.0.0.2'], says: 'terminal 10000001, signed on, purchases of one card' },
  strangers: { kind: 'strangers', from: ['127.0.0.2'], says: 'a new terminal number with each purchase, none known to the switch (refused 97)' },
  'bad-mac': { kind: 'bad-mac', from: ['127.0.0.2'], says: 'the good terminals\' own numbers, without their keys (refused A0)' },
  'sign-on': { kind: 'sign-on', from: ['127.0.0.2'], says: 'sign-ons for the good terminals\' own numbers (no MAC: answered 00, new keys each time)' },
  scattered: { kind: 'strangers', from: scatteredFrom, says: `strangers from ${scatteredFrom.length} addresses (127.0.1.1 …), 5 connections each: each address under its own refusal budget` },
} as const;
type FloodKind = keyof typeof floodKinds;
const kinds = (process.env.BENCH_FLOOD_KINDS ?? Object.keys(floodKinds).join(',')).split(',').map((k) => k.trim()) as FloodKind[];

type FloodResult = { perS: number; answered: number; codes: Record<string, number> } | { error: string };

/**
 * The flood client, a process of its own, from 127.0.0.2 for `seconds`: started and set up ahead (`ready`), so
 * that its own start (Node, TypeScript, a sign-on) does not land in the measured seconds; `go` floods.
 */
function floodClient(port: number, bench: FloodKind, seconds: number): { ready: Promise<void>; go(): void; result: Promise<FloodResult> } {
  const { kind, from } = floodKinds[bench];
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/bench/flood-client.ts'), '--port', String(port), '--kind', kind, '--from', from.join(','), '--seconds', String(seconds)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); if (out.startsWith('ready\n')) markReady(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const result = new Promise<FloodResult>((resolve) => child.on('close', (code) => {
    markReady();
    try { resolve(JSON.parse(out.trim().split('\n').pop() ?? '')); } catch { resolve({ error: `exit ${code}: ${err.trim().split('\n').pop() ?? ''}` }); }
  }));
  return { ready, go: () => child.stdin.write('go\n'), result };
}

async function main(): Promise<number> {
  if (!(rate > 0 && seconds >= 9)) { log('BENCH_FLOOD_RATE > 0 and BENCH_FLOOD_SECONDS >= 9, please'); return 2; }
  const unknown = kinds.filter((k) => !(k in floodKinds));
  if (unknown.length > 0 || kinds.length === 0) { log(`BENCH_FLOOD_KINDS: some of ${Object.keys(floodKinds).join(', ')}, not ${unknown.join(', ') || 'none'}`); return 2; }
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
    // As bench:switch does (wal.ts): a fresh data directory would create a WAL segment every few seconds, every
    // commit waiting, which a running switch's Postgres does not.
    await warmWal(embeddedPgUrl(dataDir), walWarmupMb, log);
    log(`run 1: ${rate}/s for ${seconds} s, no flood (the baseline)`);
    const runOptions: Omit<GoodRunOptions, 'label'> = { port: sw.posPort, stateDir, rate, seconds, terminals, cards, log };
    const alone = await goodRun({ ...runOptions, label: 'alone' });
    const floodSeconds = Math.round(seconds / 3);
    const flooded: Array<{ kind: FloodKind; run: Awaited<ReturnType<typeof goodRun>>; got: FloodResult }> = [];
    for (const [i, kind] of kinds.entries()) {
      const flood = floodClient(sw.posPort, kind, floodSeconds);
      await flood.ready;
      const startFlood = () => {
        log(`flood ${kind}: ${floodKinds[kind].says}, ${floodSeconds} s`);
        flood.go();
      };
      log(`run ${i + 2}: ${rate}/s for ${seconds} s, the ${kind} flood from second ${floodSeconds} to about ${2 * floodSeconds}`);
      const run = await goodRun({ ...runOptions, label: kind, during: { atSecond: floodSeconds, run: startFlood } });
      flooded.push({ kind, run, got: await flood.result });
    }

    const lines = [`bench:flood — ${os.cpus().length} CPUs, ${terminals} good terminals at ${rate} purchases/s, ${seconds} s a run; each flood from second ${floodSeconds} for ${floodSeconds} s, on 160 connections pipelining 32, from 127.0.0.2 unless said:`];
    for (const { kind } of flooded) lines.push(`  ${kind.padEnd(9)} ${floodKinds[kind].says}`);
    lines.push('');
    lines.push('  the good terminals\' answers and recent p99 (ms) each second:');
    lines.push(`  second  ${['alone', ...flooded.map((f) => f.kind)].map((k) => k.padStart(18)).join('')}`);
    const runs = [alone, ...flooded.map((f) => f.run)];
    for (let i = 0; i < Math.max(...runs.map((r) => r.seconds.length)); i++) {
      const at = i + 1;
      const cells = runs.map((r) => { const x = r.seconds[i]; return x ? `${x.answered} ${String(x.p99 ?? '-').padStart(7)}` : ''; });
      const inFlood = at > floodSeconds && at <= 2 * floodSeconds + 1;
      lines.push(`  ${String(at).padStart(6)}  ${cells.map((c) => c.padStart(18)).join('')}${inFlood ? '   flood' : ''}`);
    }
    lines.push('');
    lines.push(`  alone:     in the flood's seconds ${phase(alone.seconds, floodSeconds, 2 * floodSeconds + 1)}; whole run ${Math.round(alone.report.purchasesApprovedPerS)} purchases/s, ${summary(alone.report)}`);
    for (const { kind, run, got } of flooded) {
      lines.push(`  ${kind.padEnd(9)}  in the flood's seconds ${phase(run.seconds, floodSeconds, 2 * floodSeconds + 1)}; whole run ${Math.round(run.report.purchasesApprovedPerS)} purchases/s, ${summary(run.report)}`);
      lines.push(`             the flood got ${'error' in got ? got.error : `${got.perS} answers/s, ${Object.entries(got.codes).map(([c, n]) => `${c}: ${n}`).join(', ')}`}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    if (jsonFile) {
      const during = (r: typeof alone) => runFigures(r, floodSeconds, 2 * floodSeconds + 1);
      writeBenchJson(jsonFile, 'bench:flood', {
        ratePerS: rate, secondsPerRun: seconds, floodFromSecond: floodSeconds, floodSeconds, terminals,
        floods: flooded.map(({ kind, run, got }) => ({ kind, says: floodKinds[kind].says, goodTerminalsInTheFloodsSeconds: during(run), floodGot: got })),
      }, { alone: during(alone) });
    }
    return runs.every((r) => r.report.ok) ? 0 : 1;
  } finally {
    await sw?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
