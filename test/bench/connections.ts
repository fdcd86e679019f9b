// `npm run bench:connections`: does the switch hold thousands of terminal connections, and what do they cost
// the busy ones? The switch as deployed by default (a child process on the embedded default, durability on), in
// this one process:
//  1. the good terminals alone: 64 load terminals at BENCH_CONNECTIONS_RATE purchases a second (default 3,000)
//     for BENCH_CONNECTIONS_SECONDS (default 20): the baseline, measured in the same run;
//  2. a crowd connects: BENCH_CONNECTIONS_CROWD terminals (default 8,000), each on a connection of its own from
//     five loopback addresses (test/bench/crowd-client.ts, a process of its own), all signed on;
//  3. the good terminals again, the crowd connected and silent: what holding the connections costs;
//  4. the good terminals again, while the crowd purchases in turn at BENCH_CONNECTIONS_CROWD_RATE a second over
//     all its terminals (default one purchase per terminal every 30 s), on cards of its own (cold in the cache);
//  5. the crowd closes every connection at once: how long until the switch has seen them all closed.
// After the warm-up, BENCH_CONNECTIONS_WAL_WARMUP_MB (default 1024; 0 skips it) of WAL and a checkpoint, as in
// bench:switch (wal.ts).
// Printed: the switch's open connections and resident memory before and with the crowd, the crowd's sign-on
// rate and latency, and the good terminals' rate and latency in every run, second by second and whole;
// `-- --json FILE` writes the same figures, the alone run beside as the baseline.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { runLoad } from '../../simulators/load.js';
import { goodRun, phase, runFigures, summary } from './good-run.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';
import { embeddedPgUrl, entry, run, startSwitchProcess } from './switch-process.js';
import { warmWal } from './wal.js';

const rate = Number(process.env.BENCH_CONNECTIONS_RATE ?? 3000);
const seconds = Number(process.env.BENCH_CONNECTIONS_SECONDS ?? 20);
const crowd = Number(process.env.BENCH_CONNECTIONS_CROWD ?? 8000);
const walWarmupMb = Number(process.env.BENCH_CONNECTIONS_WAL_WARMUP_MB ?? 1024);
const crowdRate = Number(process.env.BENCH_CONNECTIONS_CROWD_RATE ?? Math.round(crowd / 30));
const terminals = 64;
const cards = 10_000;
const jsonFile = jsonFileOption('bench:connections');

function log(s: string): void { process.stderr.write(`bench:connections: ${s}\n`); }

/** Open POS connections and resident memory (MB), from the switch's /metrics. */
async function gauges(adminPort: number): Promise<{ connections: number; rssMb: number }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { connections: value('pointswitch_connections_open'), rssMb: Math.round(value('pointswitch_process_resident_memory_bytes') / 1e6) };
}

interface CrowdResult { terminals: number; signOnS: number; sent: number; perS: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; codes: Record<string, number> }

async function main(): Promise<number> {
  if (!(rate > 0 && seconds >= 5 && crowd >= 1 && crowdRate > 0)) {
    log('BENCH_CONNECTIONS_RATE > 0, BENCH_CONNECTIONS_SECONDS >= 5, BENCH_CONNECTIONS_CROWD >= 1 and BENCH_CONNECTIONS_CROWD_RATE > 0, please');
    return 2;
  }
  const main = entry(log);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-bench-'));
  chmodSync(scratch, 0o755);   // run as root, embedded PostgreSQL runs as its own user and must reach its directory
  const dataDir = path.join(scratch, 'data');
  let sw: Awaited<ReturnType<typeof startSwitchProcess>> | null = null;
  let child: ReturnType<typeof spawn> | null = null;
  try {
    log(`seeding ${dataDir}: ${terminals + crowd} load terminals, ${2 * cards} load cards`);
    run([...main, 'seed', '--demo', '--load-terminals', String(terminals + crowd), '--load-cards', String(2 * cards), '--data-dir', dataDir]);
    // The crowd signs on as fast as the switch lets it: this bench is about holding connections, so the sign-on
    // budget (200 a second by default, 50 from one address) is raised for it unless set.
    process.env.POINTSWITCH_SIGN_ONS_PER_SECOND_MAX ??= '1000000';
    process.env.POINTSWITCH_SIGN_ONS_PER_ADDRESS_PER_SECOND_MAX ??= '1000000';
    sw = await startSwitchProcess(main, dataDir, 'info', '/dev/null');
    log(`switch ready (POS ${sw.posPort}); warm-up 5 s at ${rate}/s`);
    const stateDir = path.join(scratch, 'sim-state');
    await runLoad({ host: '127.0.0.1', port: sw.posPort, terminals, cards, durationS: 5, rate, mix: { purchase: 100, balance: 0, void: 0 }, connectionsPerTerminal: 1, stateDir, reconcile: false, timeoutMs: 30_000 });
    // As bench:switch does (wal.ts): WAL segments to reuse, as a running switch's Postgres has.
    await warmWal(embeddedPgUrl(dataDir), walWarmupMb, log);
    const runOptions = { port: sw.posPort, stateDir, rate, seconds, terminals, cards, log };
    log(`run 1: ${rate}/s for ${seconds} s, the good terminals alone`);
    const idle = await gauges(sw.adminPort);
    const alone = await goodRun({ ...runOptions, label: 'alone' });

    log(`the crowd: ${crowd} terminals connecting and signing on`);
    const c = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/bench/crowd-client.ts'), '--port', String(sw.posPort),
      '--first', String(terminals + 1), '--count', String(crowd), '--rate', String(crowdRate), '--seconds', String(seconds),
      '--first-card', String(cards + 1), '--cards', String(cards)], { stdio: ['pipe', 'pipe', 'inherit'] });
    child = c;
    const lines = createInterface({ input: c.stdout! });
    const nextLine = () => new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      c.once('close', (code) => reject(new Error(`the crowd exited (${code})`)));
    });
    const ready = JSON.parse((await nextLine()).replace(/^ready /, '')) as { terminals: number; signOnS: number };
    const crowded = await gauges(sw.adminPort);
    log(`the crowd is connected: ${crowded.connections} connections open, signed on in ${ready.signOnS} s; run 2 with it silent`);
    const silent = await goodRun({ ...runOptions, label: 'crowd silent' });
    log(`run 3 with the crowd purchasing ${crowdRate}/s`);
    c.stdin!.write('go\n');
    const result = nextLine();
    const withCrowd = await goodRun({ ...runOptions, label: 'crowd purchasing' });
    const got = JSON.parse(await result) as CrowdResult;
    const after = await gauges(sw.adminPort);
    // Every crowd connection closed at once (a concentrator or NAT dropping them all): how long the switch takes.
    c.stdin!.write('close\n');
    const closeStarted = performance.now();
    let open = after.connections;
    while (open > 0 && performance.now() - closeStarted < 30_000) {
      await new Promise((r) => setTimeout(r, 10));
      open = (await gauges(sw.adminPort)).connections;
    }
    const closeMs = Math.round(performance.now() - closeStarted);

    const out = [`bench:connections — ${os.cpus().length} CPUs, ${terminals} good terminals at ${rate} purchases/s for ${seconds} s, alone and beside a crowd of ${crowd} terminals each on its own connection`];
    out.push('');
    out.push('  the switch                     before the crowd   with the crowd');
    out.push(`  POS connections open           ${String(idle.connections).padStart(16)}   ${String(crowded.connections).padStart(14)}`);
    out.push(`  resident memory (MB)           ${String(idle.rssMb).padStart(16)}   ${String(crowded.rssMb).padStart(14)}   (${after.rssMb} after run 3; ${Math.round(((crowded.rssMb - idle.rssMb) * 1e6) / Math.max(1, crowded.connections - idle.connections) / 100) / 10} kB a connection)`);
    out.push(`  all ${after.connections} closed at once by the crowd: ${open === 0 ? `seen closed within ${closeMs} ms` : `${open} still open after 30 s`}`);
    out.push('');
    out.push(`  the crowd: ${ready.terminals} terminals signed on in ${ready.signOnS} s (${Math.round(ready.terminals / ready.signOnS)}/s); then ${got.perS} purchases/s answered of ${got.sent} sent, p50 ${got.p50Ms} ms, p99 ${got.p99Ms}, max ${got.maxMs}; codes ${Object.entries(got.codes).map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    out.push('');
    out.push('  the good terminals\' answers and recent p99 (ms) each second:');
    const runs = [['alone', alone], ['crowd silent', silent], ['crowd purchasing', withCrowd]] as const;
    out.push(`  second  ${runs.map(([name]) => name.padStart(18)).join('  ')}`);
    for (let i = 0; i < Math.max(...runs.map(([, r]) => r.seconds.length)); i++) {
      const cell = (s: typeof alone.seconds[number] | undefined) => (s ? `${s.answered} ${String(s.p99 ?? '-').padStart(7)}` : '');
      out.push(`  ${String(i + 1).padStart(6)}  ${runs.map(([, r]) => cell(r.seconds[i]).padStart(18)).join('  ')}`);
    }
    out.push('');
    for (const [name, r] of runs) {
      out.push(`  ${`${name}:`.padEnd(18)} ${phase(r.seconds, 0, seconds)}; whole run ${Math.round(r.report.purchasesApprovedPerS)} purchases/s, ${summary(r.report)}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    if (jsonFile) {
      const whole = (r: typeof alone) => runFigures(r, 0, seconds);
      writeBenchJson(jsonFile, 'bench:connections', {
        ratePerS: rate, secondsPerRun: seconds, terminals, crowd: { terminals: ready.terminals, signOnS: ready.signOnS, signOnsPerS: Math.round(ready.terminals / ready.signOnS), purchases: got },
        connectionsOpen: { before: idle.connections, withCrowd: crowded.connections },
        residentMemoryMb: { before: idle.rssMb, withCrowd: crowded.rssMb, afterCrowdPurchases: after.rssMb },
        closedAtOnce: { connections: after.connections, stillOpen: open, seenClosedWithinMs: open === 0 ? closeMs : null },
        crowdSilent: whole(silent), crowdPurchasing: whole(withCrowd),
      }, { alone: whole(alone) });
    }
    const crowdOk = Object.keys(got.codes).every((k) => k === '00');
    if (!crowdOk) log('some of the crowd\'s purchases were not approved (codes above)');
    return runs.every(([, r]) => r.report.ok) && crowdOk ? 0 : 1;
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await sw?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
