// A real switch for the simulator tests: its own migrated database with the demo seed (and load terminals and
// cards when asked), the shared Redis under its own prefix, the app from src/app.ts on free loopback ports.
// Also a TCP proxy that can swallow answers, to make "the answer never arrived" happen without timing tricks.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

export async function startSwitch(t: T, o: { loadTerminals?: number; loadCards?: number; config?: Partial<Config> } = {}): Promise<{ port: number; app: RunningApp; databaseUrl: string; adminUrl: string; adminKey: string }> {
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
  const { key: adminKey } = await new ApiKeys(app.ledger.pool).create({ role: 'auditor', name: 'simulator tests' });
  return { port: app.posPort, app, databaseUrl: env.databaseUrl, adminUrl: `http://127.0.0.1:${app.adminPort}`, adminKey };
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
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...o.env };
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('simulators/cli.ts'), ...args], {
      env, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(o.stdin ?? '');
  });
}
