// A real switch for the simulator tests: its own migrated database with the demo seed (and load terminals and
// cards when asked), the shared Redis under its own prefix, the app from src/app.ts on free loopback ports.
// Also a TCP proxy that can swallow answers, to make "the answer never arrived" happen without timing tricks.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Deframer, decode, frame } from '../../protocol/index.js';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfigOrThrow, type Config } from '../../src/config/index.js';
import { createPool } from '../../src/db/pool.js';
import { Kek } from '../../src/ledger/index.js';
import { seedDemo } from '../../src/ledger/seed.js';
import { silentLogger } from '../../src/log.js';
import { testEnv } from '../support/db.js';
import { testKekHex } from '../support/kek.js';
import { ApiKeys } from '../../src/admin/keys.js';

interface T { teardown(fn: () => unknown): void }

export async function startSwitch(t: T, o: { loadTerminals?: number; loadCards?: number; config?: Partial<Config> } = {}): Promise<{ port: number; app: RunningApp; databaseUrl: string; adminUrl: string; adminKey: string; operatorKey: string }> {
  const env = await testEnv(t);
  const pool = createPool(env.databaseUrl, { poolSize: 2 });
  await seedDemo(pool, new Kek(testKekHex), { loadTerminals: o.loadTerminals ?? 0, loadCards: o.loadCards ?? 0 });
  await pool.end();
  const config = loadConfigOrThrow({
    env: {},
    flags: { databaseUrl: env.databaseUrl, redisUrl: env.redisUrl, kekHex: testKekHex, posPort: 0, adminPort: 0, posHost: '127.0.0.1', adminHost: '127.0.0.1', logLevel: 'silent', ...o.config },
  });
  const app = await startApp({ config, redisPrefix: env.redisPrefix, log: silentLogger });
  t.teardown(() => app.stop());
  const keys = new ApiKeys(app.ledger.pool);
  const { key: adminKey } = await keys.create({ role: 'auditor', name: 'simulator tests' });
  const { key: operatorKey } = await keys.create({ role: 'operator', name: 'simulator tests, own terminals' });
  return { port: app.posPort, app, databaseUrl: env.databaseUrl, adminUrl: `http://127.0.0.1:${app.adminPort}`, adminKey, operatorKey };
}

/** A tester's own merchant, terminal and card, added through the admin API as a tester would. */
export const own = { merchant: '898310048169999', pointsPerYuan: 40, terminal: 'NEWC0001', tmk: '00112233445566778899AABBCCDDEEFF', card: '8860000000123456', points: 5000 };

export async function addOwnTerminal(adminUrl: string, operatorKey: string): Promise<void> {
  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${adminUrl}${route}`, { method: 'POST', headers: { authorization: `Bearer ${operatorKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`POST ${route}: ${res.status} ${await res.text()}`);
  };
  await post('/merchants', { merchantId: own.merchant, name: 'Tea House', pointsPerYuan: own.pointsPerYuan, feeRateBp: 60 });
  await post('/terminals', { terminalId: own.terminal, merchantId: own.merchant, tmkHex: own.tmk });
  await post('/cards', { cardNo: own.card, expiry: '3012', openingPoints: own.points });
}

/** A temporary directory for terminal state files, removed when the test ends. */
export function stateDir(t: T): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-sim-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A proxy in front of the switch: forwards every frame, but each answer for which `swallow(mti)` returns true
 * is dropped (counted in `swallowed`), as if the line lost it.
 */
export async function answerSwallowingProxy(t: T, upstreamPort: number, swallow: (mti: string) => boolean): Promise<{ port: number; swallowed: number }> {
  const state = { port: 0, swallowed: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    const deframer = new Deframer({ frameBytesMax: 65535 });
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      for (const f of deframer.push(chunk)) {
        if (!f.ok) { client.destroy(); return; }
        const d = decode(f.body);
        if (d.ok && swallow(d.message.mti)) { state.swallowed++; continue; }
        client.write(frame(f.body));
      }
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end); upstream.on('close', end);
    client.on('error', () => {}); upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

export interface CliRun { code: number; stdout: string; stderr: string }

/** Runs `pointswitch-sim …` as a child process (through tsx), optionally feeding stdin. */
export function sim(args: string[], o: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return run(process.execPath, ['--import', 'tsx', path.resolve('simulators/cli.ts'), ...args], o);
}

/**
 * Runs a README's shell block as a tester pastes it (bash, stopping at the first failure), with `npx pointswitch`
 * and `npx pointswitch-sim` mapped to this checkout's sources through tsx, as `npm run pointswitch` does.
 */
export function pasted(t: T, block: string, env: NodeJS.ProcessEnv): Promise<CliRun> {
  const bin = mkdtempSync(path.join(os.tmpdir(), 'pointswitch-sim-npx-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const tsx = path.resolve('node_modules/.bin/tsx');
  const commands = { pointswitch: 'src/cli/main.ts', 'pointswitch-sim': 'simulators/cli.ts' };
  writeFileSync(path.join(bin, 'npx'), `#!/bin/sh\ncase "$1" in\n${Object.entries(commands)
    .map(([name, file]) => `  ${name}) shift; exec "${tsx}" "${path.resolve(file)}" "$@";;\n`).join('')}esac\nexit 97\n`, { mode: 0o755 });
  return run('bash', ['-euo', 'pipefail', '-c', block], { env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
}

function run(command: string, args: string[], o: { stdin?: string; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...o.env };
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(o.stdin ?? '');
  });
}
