// The switch as the benches run it: built, on a seeded temporary data directory, as a child process on the
// embedded default (embedded PostgreSQL with durability on, redis-server from PATH).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/net/free-port.js';

export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // The embedded default: no external Postgres or Redis.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return env;
}

/** `node` arguments that run the CLI: the build when it builds, else the sources through tsx. */
export function entry(log: (s: string) => void): string[] {
  log('npm run build');
  const b = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  if (b.status === 0 && existsSync('dist/src/cli/main.js')) return [path.resolve('dist/src/cli/main.js')];
  log('build failed: running the switch through tsx instead');
  return ['--import', 'tsx', path.resolve('src/cli/main.ts')];
}

export function run(args: string[]): void {
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: childEnv() });
  if (r.status !== 0) throw new Error(`${args.slice(-6).join(' ')} exited ${r.status}`);
}

export async function waitHealthy(adminPort: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the switch exited (${child.exitCode}) before it was ready`);
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/health`);
      if (r.ok && ((await r.json()) as { ready?: boolean }).ready !== false) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the switch did not become ready within 120 s');
}

/** The embedded PostgreSQL's port, from its postmaster.pid (line 4). */
export function embeddedPgUrl(dataDir: string): string {
  const pid = readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
  return `postgres://pointswitch:pointswitch@127.0.0.1:${Number(pid[3])}/pointswitch`;
}

export interface RunningSwitch { child: ChildProcess; posPort: number; adminPort: number; stop(): Promise<void> }

/** Starts `start` on `dataDir` with its log written to `logFile`, and waits until it is ready. */
export async function startSwitchProcess(main: string[], dataDir: string, logLevel: string, logFile: string): Promise<RunningSwitch> {
  const posPort = await freePort();
  const adminPort = await freePort();
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...main, 'start', '--data-dir', dataDir, '--pos-port', String(posPort), '--admin-port', String(adminPort), '--pos-host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', logLevel],
    { env: childEnv(), stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  await waitHealthy(adminPort, child);
  return {
    child, posPort, adminPort,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
