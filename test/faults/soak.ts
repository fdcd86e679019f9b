// `npm run soak`: a long steady run against one switch process (from the build, on a PostgreSQL and a
// redis-server of its own) that looks for leaks. The simulator's load (simulators/load.ts) sends --count mixed
// requests (purchases, balance inquiries, voids, retransmissions) at --rate a second and reconciles the cards'
// balances with the approvals it saw; every 2 s the switch's RSS (/proc), its Prometheus metrics (heap, active
// handles, timers, POS connections, its PostgreSQL pool) and PostgreSQL's own count of client connections
// (pg_stat_activity) are sampled. A leak: the last tenth of the run above the first tenth by more than the
// tolerance of its row. Then `pointswitch audit`. Exit 1 on a leak, a failed audit or a load that did not
// reconcile.
//   --count N (1000000)  --rate R (2000)  --terminals N (32)  --cards N (10000)  --json FILE  --source
import { readFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import pg from 'pg';
import { formatReport, runLoad, type LoadReport } from '../../simulators/load.js';
import { entry } from '../bench/switch-process.js';
import { sourceMain, Stack, type SwitchProcess } from './stack.js';

const { values: a } = parseArgs({ options: {
  count: { type: 'string', default: '1000000' }, rate: { type: 'string', default: '2000' }, terminals: { type: 'string', default: '32' },
  cards: { type: 'string', default: '10000' }, json: { type: 'string' }, source: { type: 'boolean', default: false },
} });
const count = Number(a.count);
const rate = Number(a.rate);
const terminals = Number(a.terminals);
const cards = Number(a.cards);
/** About a hundred samples over the run, one a second at most. */
const sampleMs = Math.max(1000, Math.round((count / rate) * 10));

function log(s: string): void { process.stderr.write(`soak: ${s}\n`); }

export interface Sample {
  atS: number;
  rssBytes: number;
  heapUsedBytes: number;
  activeHandles: number;
  timers: number;
  posConnections: number;
  poolClients: number;
  /** Pool clients checked out (total − idle). */
  poolInUse: number;
  poolWaiting: number;
  pgConnections: number;
}

/** A metric's value from Prometheus text (the first series matching `name` and, when given, `labels`). */
export function metricValue(text: string, name: string, labels = ''): number | null {
  const re = new RegExp(`^${name}(\\{[^}]*${labels.replace(/[{}]/g, '')}[^}]*\\})? ([-+0-9.eE]+|NaN)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[2]) : null;
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function sample(sw: SwitchProcess, db: pg.Client, startedAt: number): Promise<Sample> {
  const text = await (await fetch(`http://127.0.0.1:${sw.adminPort}/metrics`)).text();
  const v = (name: string, labels = '') => metricValue(text, name, labels) ?? 0;
  const pgConnections = Number((await db.query("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")).rows[0].n);
  return {
    atS: (Date.now() - startedAt) / 1000,
    rssBytes: rssOf(sw.pid!),
    heapUsedBytes: v('pointswitch_nodejs_heap_size_used_bytes'),
    activeHandles: v('pointswitch_nodejs_active_handles_total'),
    timers: v('pointswitch_nodejs_active_resources', 'type="Timeout"'),
    posConnections: v('pointswitch_connections_open'),
    poolClients: v('pointswitch_db_pool_clients', 'state="total"'),
    poolInUse: v('pointswitch_db_pool_clients', 'state="total"') - v('pointswitch_db_pool_clients', 'state="idle"'),
    poolWaiting: v('pointswitch_db_pool_clients', 'state="waiting"'),
    pgConnections,
  };
}

export interface LeakRow {
  what: string;
  first: number;
  last: number;
  /** The most the last tenth may show (none: judged by idle after alone). */
  allowed?: number;
  /** Idle before the load, and idle after it (counts only: all that the load opened must be gone again). */
  before?: number;
  after?: number;
  afterAllowed?: number;
  leak: boolean;
}

const median = (xs: number[]) => { const s = [...xs].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)]! : 0; };
const mb = (b: number) => Math.round(b / 1048576);
const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);
/** Runs of the load at most, topping up what a saturated switch made it skip. */
const roundsMax = 5;

/**
 * The first and last tenth of the samples compared by their medians, and the switch idle before the load against
 * idle after it: what the load opened must be closed again. A count that follows the requests in flight (pool
 * clients checked out, requests waiting for one, timers) moves with the latency of the moment, so only the idle
 * after judges it. Memory by the heap's lowest value in each
 * tenth (what is left after a collection: the live data) and RSS's median, each of which may grow by half plus a
 * margin (caches filling, the heap settling) but not without bound.
 */
export function leaks(samples: Sample[], before: Sample, after: Sample): LeakRow[] {
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const first = samples.slice(0, tenth);
  const last = samples.slice(-tenth);
  /** `slack` null: a count that follows the requests in flight, judged by what is left idle after the load alone. */
  const count = (what: string, k: keyof Sample, slack: number | null, afterAllowed: number): LeakRow => {
    const f = median(first.map((s) => s[k]));
    const l = median(last.map((s) => s[k]));
    const allowed = slack === null ? undefined : Math.round(f * 1.5 + slack);
    return { what, first: f, last: l, allowed, before: before[k], after: after[k], afterAllowed, leak: (allowed !== undefined && l > allowed) || after[k] > afterAllowed };
  };
  const memory = (what: string, k: keyof Sample, of: (xs: number[]) => number, marginBytes: number): LeakRow => {
    const f = of(first.map((s) => s[k]));
    const l = of(last.map((s) => s[k]));
    const allowed = Math.round(f * 1.5 + marginBytes);
    return { what, first: mb(f), last: mb(l), allowed: mb(allowed), leak: l > allowed };
  };
  return [
    count('PostgreSQL client connections (pg_stat_activity)', 'pgConnections', 2, Math.max(before.pgConnections, after.poolClients + 2)),
    count('pool clients checked out', 'poolInUse', null, 0),
    count('pool requests waiting', 'poolWaiting', null, 0),
    count('POS connections', 'posConnections', 2, before.posConnections),
    // An idle pool client holds a socket and its idle timer until the pool closes it.
    count('active handles', 'activeHandles', 16, before.activeHandles + after.poolClients + 4),
    count('timers', 'timers', null, before.timers + after.poolClients + 4),
    memory('heap used after collection (MB, lowest)', 'heapUsedBytes', (xs) => Math.min(...xs), 32 * 1048576),
    memory('RSS (MB, median)', 'rssBytes', median, 64 * 1048576),
  ];
}

async function main(): Promise<number> {
  if (!(count > 0 && rate > 0 && terminals > 0 && cards > 0)) { log('--count, --rate, --terminals and --cards: positive numbers'); return 2; }
  const durationS = count / rate;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-soak-'));
  chmodSync(scratch, 0o755);   // run as root, embedded PostgreSQL runs as its own user and must reach its directory
  let stack: Stack | null = null;
  let db: pg.Client | null = null;
  try {
    const main = a.source ? sourceMain : entry(log);
    stack = await Stack.create(path.join(scratch, 'servers'), path.join(scratch, 'logs'), { main, frameTimeoutMs: 10_000, logLevel: 'warn' });
    const seeded = await stack.cli(['seed', '--demo', '--load-terminals', String(terminals), '--load-cards', String(cards)]);
    if (seeded.code !== 0) throw new Error(`seed failed: ${seeded.stderr}`);
    const sw = await stack.addSwitch('switch');
    db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    log(`${count} requests at ${rate}/s (${Math.round(durationS)} s), ${terminals} terminals, ${cards} cards; switch pid ${sw.pid}`);

    // Sampled while the load drives (from its first progress call), not while it signs on and asks every card's
    // balance before and after: the tenths compare like with like.
    const samples: Sample[] = [];
    const startedAt = Date.now();
    const before = await sample(sw, db, startedAt);
    const d = db;
    let driving = false;
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      if (driving) sampling = sampling.then(async () => { samples.push(await sample(sw, d, startedAt)); }).catch(() => {});
    }, sampleMs);
    const bar = new cliProgress.SingleBar({
      format: 'soak [{bar}] {percentage}% | {value}/{total} sent | {perS}/s | p99 {p99} ms | switch RSS {rss} MB',
      noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 10_000, stream: process.stderr,
    }, cliProgress.Presets.shades_classic);
    bar.start(count, 0, { perS: 0, p99: '-', rss: '-' });
    // The load runs for count/rate seconds; when the switch falls behind, a terminal whose connection already has
    // its most requests in flight skips one (the load counts it), so the load runs again for what is left, until
    // --count requests were sent. The terminals' state (traces) carries on across runs in stateDir.
    const reports: LoadReport[] = [];
    const stateDir = path.join(scratch, 'sim-state');
    for (let sent = 0, round = 0; sent < count && round < roundsMax; round++) {
      const left = count - sent;
      // Less than a second's worth left: that many in one second (a run shorter than the load's 2 ms tick sends none).
      const last = left < rate;
      const report = await runLoad({
        host: '127.0.0.1', port: sw.posPort, terminals, cards, rate: last ? left : rate, durationS: last ? 1.001 : left / rate, connectionsPerTerminal: 1, reconcile: true,
        timeoutMs: 30_000, stateDir, mix: { purchase: 70, balance: 20, void: 5, resend: 5 },
        onProgress: (p) => {
          driving = p.elapsedS < p.durationS;
          bar.update(Math.min(count, sent + p.sent), { perS: Math.round(p.ratePerS), p99: p.p99Ms ?? '-', rss: mb(samples.at(-1)?.rssBytes ?? 0) });
        },
      });
      driving = false;
      reports.push(report);
      sent += report.sent;
    }
    bar.stop();
    clearInterval(sampler);
    await sampling;
    // The terminals have hung up (the switch closes their sockets as it reads the end), and the pool closes a
    // client left idle for 10 s (node-postgres's idleTimeoutMillis): after 12 s idle, what is left is what stays.
    await new Promise((r) => setTimeout(r, 12_000));
    const idle = await sample(sw, db, startedAt);
    for (const r of reports) process.stdout.write(`${formatReport(r)}\n`);
    const report = { sent: sum(reports, (r) => r.sent), answered: sum(reports, (r) => r.answered), durationS: Math.round(sum(reports, (r) => r.durationS)), ok: reports.every((r) => r.ok) };
    const perS = Math.round(report.answered / Math.max(1, report.durationS));

    const rows = leaks(samples, before, idle);
    const peakRss = Math.max(idle.rssBytes, ...samples.map((s) => s.rssBytes));
    const audit = await stack.cli(['audit']);
    const lines = [`soak: ${report.sent} requests (${report.answered} answered) in ${report.durationS} s (${perS}/s, ${reports.length} run${reports.length > 1 ? 's' : ''} of the load), ${samples.length} samples; switch peak RSS ${mb(peakRss)} MB`,
      `  ${'what'.padEnd(50)}${'first tenth'.padStart(12)}${'last tenth'.padStart(12)}${'allowed'.padStart(9)}${'idle before'.padStart(13)}${'idle after'.padStart(12)}${'allowed'.padStart(9)}  verdict`];
    const cell = (v: number | undefined, w: number) => String(v ?? '').padStart(w);
    for (const r of rows) lines.push(`  ${r.what.padEnd(50)}${cell(r.first, 12)}${cell(r.last, 12)}${cell(r.allowed, 9)}${cell(r.before, 13)}${cell(r.after, 12)}${cell(r.afterAllowed, 9)}  ${r.leak ? 'LEAK' : 'ok'}`);
    lines.push(`  pointswitch audit: ${audit.code === 0 ? 'passes' : `FAILED (exit ${audit.code}): ${audit.stdout.trim().split('\n').slice(-5).join(' | ')}`}`);
    lines.push(`  load: ${report.ok ? 'every request answered, balances reconciled' : 'NOT ALL ANSWERED OR NOT RECONCILED'}`);
    const ok = report.ok && audit.code === 0 && rows.every((r) => !r.leak);
    lines.push(`result: ${ok ? 'OK' : 'FAILED'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (a.json) writeFileSync(a.json, `${JSON.stringify({ count, rate, terminals, cards, reports, peakRssBytes: peakRss, leaks: rows, idleBefore: before, idleAfter: idle, auditOk: audit.code === 0, ok, samples }, null, 2)}\n`);
    return ok ? 0 : 1;
  } finally {
    await db?.end().catch(() => {});
    await stack?.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
