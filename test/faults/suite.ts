// `npm run faults`: terminals drive a mixed load against a real switch process while, one after another, the
// switch, its PostgreSQL, its Redis and its connections are broken (faults.ts). After each fault the terminals do
// what real ones do (sign on again, reverse what got no answer), then `pointswitch audit` must pass and what the
// terminals saw must reconcile with the ledger (reconcile.ts). Prints a table; exit 1 when an invariant broke.
//   --short            a few minutes (CI: test/faults/short.test.ts)
//   --only a,b         only these faults (names as in faults.ts)
//   --log-dir DIR      keep the switches' logs (and secrets.json: what no log may show) in DIR
//   --json FILE        the table as JSON
//   --terminals N      terminals (default 24, short 8)
//   --source           run the switch from the sources through tsx, not from the build (the short form always does)
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { encryptPinBlock } from '../../protocol/index.js';
import { demoCards, demoTmkHex, loadCardNo } from '../../simulators/demo.js';
import { track2For } from '../../simulators/messages.js';
import { entry } from '../bench/switch-process.js';
import { testKekHex } from '../support/kek.js';
import { faults, type Fault, type FaultContext } from './faults.js';
import { Fleet, pinCardNo } from './fleet.js';
import { balances, ledgerRows, reconcile, watermark, type Check } from './reconcile.js';
import { sourceMain, Stack } from './stack.js';
import { allHeld, formatTable, type Row } from './table.js';

const { values: a } = parseArgs({ options: {
  short: { type: 'boolean', default: false }, only: { type: 'string' }, 'log-dir': { type: 'string' }, json: { type: 'string' },
  terminals: { type: 'string' }, source: { type: 'boolean', default: false },
} });
const short = a.short!;
const terminals = Number(a.terminals ?? (short ? 8 : 24));
const cards = short ? 2000 : 10_000;
/** Seconds of load before each fault and after the terminals are served again. */
const beforeS = short ? 3 : 10;
const afterS = short ? 4 : 15;
const recoveryMaxMs = 180_000;
const settleMs = 60_000;

function log(s: string): void { process.stderr.write(`faults: ${s}\n`); }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function phase(fault: Fault, c: FaultContext, db: () => Promise<pg.Client>, apiKey: string): Promise<Row> {
  const { fleet, stack } = c;
  await fault.prepare?.(c);
  let client = await db();
  const since = await watermark(client);
  const before = await balances(client);
  await client.end();
  fleet.newPhase();
  fleet.start();
  await sleep(beforeS * 1000);
  log(`${fault.name}: ${fault.says}`);
  const t0 = performance.now();
  let extra: Check[];
  try {
    extra = await fault.inject(c);
  } catch (err) {
    extra = [{ name: 'the fault ran', ok: false, detail: String((err as Error).message) }];
  }
  let recoveredMs: number | null = null;
  for (const until = Date.now() + recoveryMaxMs; recoveredMs === null && Date.now() < until; await sleep(100)) recoveredMs = fleet.recoveredMs(t0);
  log(`${fault.name}: ${recoveredMs === null ? 'the terminals were NOT all served again' : `every terminal served again after ${(recoveredMs / 1000).toFixed(2)} s`}`);
  await sleep(afterS * 1000);
  await fleet.stop();
  const owed = await fleet.settle(settleMs);
  // An operator's read through the admin API with the run's key (no log may show the key).
  const live = stack.switches.find((s) => s.running);
  if (live) await fetch(`http://127.0.0.1:${live.adminPort}/cards/${loadCardNo(1)}`, { headers: { authorization: `Bearer ${apiKey}` } }).then((r) => r.body?.cancel()).catch(() => {});
  client = await db();
  const rows = await ledgerRows(client, since);
  const after = await balances(client);
  await client.end();
  const audit = await stack.cli(['audit']);
  const checks: Check[] = [
    { name: 'every terminal served again', ok: recoveredMs !== null, detail: recoveredMs === null ? `not within ${recoveryMaxMs / 1000} s` : `${Math.round(recoveredMs)} ms` },
    ...reconcile({ seen: [...fleet.seen.values()], resendMismatches: fleet.counts.resendMismatches, reversalsOwed: owed }, { rows, before, after }),
    { name: 'pointswitch audit passes', ok: audit.code === 0, detail: audit.code === 0 ? 'exit 0' : `exit ${audit.code}: ${(audit.stdout + audit.stderr).trim().split('\n').slice(-6).join(' | ')}` },
    ...extra,
  ];
  for (const ch of checks) log(`  ${ch.ok ? 'ok  ' : 'FAIL'} ${ch.name}: ${ch.detail}`);
  return { fault: fault.name, ...fleet.counts, recoveredMs, checks };
}

/** What no log line may show: card numbers, track data, PIN blocks, master, working and key-encryption keys, API keys. */
function secrets(fleet: Fleet, apiKey: string): Record<string, string[]> {
  const cardNos = [...demoCards.map((d) => d.cardNo), ...Array.from({ length: cards }, (_, i) => loadCardNo(i + 1))];
  const piks = [...fleet.keysSeen];
  return {
    cardNumbers: cardNos,
    trackData: cardNos.map((c) => track2For(c, '3012')),
    pinBlocks: piks.map((k) => encryptPinBlock('123456', pinCardNo, Buffer.from(k, 'hex')).toString('hex').toUpperCase()),
    masterKeys: [demoTmkHex.toUpperCase()],
    workingKeys: piks,
    keyEncryptionKeys: [testKekHex.toUpperCase()],
    apiKeys: [apiKey],
  };
}

async function main(): Promise<number> {
  const only = a.only?.split(',').map((s) => s.trim());
  const chosen = only ? faults.filter((f) => only.includes(f.name)) : faults;
  if (only && chosen.length !== only.length) { log(`--only: some of ${faults.map((f) => f.name).join(', ')}`); return 2; }
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-faults-'));
  chmodSync(scratch, 0o755);   // run as root, embedded PostgreSQL runs as its own user and must reach its directory
  const logDir = a['log-dir'] ? path.resolve(a['log-dir']) : path.join(scratch, 'logs');
  let stack: Stack | null = null;
  let fleet: Fleet | null = null;
  try {
    log(`${short ? 'short form: ' : ''}${chosen.length} faults, ${terminals} terminals, ${cards} cards; logs in ${logDir}`);
    // The full run starts the switch as `npm start` does, from the build (a restart is then a Node start, not a
    // TypeScript compile); the short one from the sources, so that `npm test` builds nothing.
    const main = short || a.source ? sourceMain : entry(log);
    stack = await Stack.create(path.join(scratch, 'servers'), logDir, { main, frameTimeoutMs: 3000, logLevel: 'info' });
    const seeded = await stack.cli(['seed', '--demo', '--load-terminals', String(terminals), '--load-cards', String(cards)]);
    if (seeded.code !== 0) throw new Error(`seed failed: ${seeded.stderr}`);
    const key = await stack.cli(['apikey', 'create', '--role', 'operator', '--name', 'faults', '--key-only']);
    if (key.code !== 0) throw new Error(`apikey create failed: ${key.stderr}`);
    const apiKey = key.stdout.trim();
    const sw = await stack.addSwitch('switch-a');
    fleet = new Fleet({ host: '127.0.0.1', ports: [sw.posPort], terminals, cards, timeoutMs: 5000 });
    const s = stack;
    const db = async () => { const c = new pg.Client({ connectionString: s.databaseUrl }); await c.connect(); return c; };
    const rows: Row[] = [];
    for (const fault of chosen) rows.push(await phase(fault, { stack, fleet, sw, short, log }, db, apiKey));
    process.stdout.write(`${formatTable(rows)}\n`);
    if (a.json) writeFileSync(a.json, `${JSON.stringify({ short, terminals, cards, rows }, null, 2)}\n`);
    if (a['log-dir']) writeFileSync(path.join(logDir, 'secrets.json'), `${JSON.stringify(secrets(fleet, apiKey))}\n`, { mode: 0o600 });
    return allHeld(rows) ? 0 : 1;
  } finally {
    await fleet?.stop();
    await fleet?.close();
    await stack?.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
