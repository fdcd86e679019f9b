// The servers a fault run breaks: a PostgreSQL and a redis-server of its own (never the test run's shared ones:
// the faults kill them), and switch processes on them (`pointswitch start` with DATABASE_URL, REDIS_URL and the
// tests' key-encryption key), each on fixed ports so that a restarted one is where the terminals dial. Every
// switch's stdout and stderr go to a log file of its own in the run's log directory (the security tests scan them).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startRedisServer, type RedisServerHandle } from '../../src/cache/redis-server.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle, type EmbeddedPostgresOptions } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { freePort } from '../../src/net/free-port.js';
import { waitHealthy } from '../bench/switch-process.js';
import { spawnCli } from '../ledger/run-cli.js';
import { testKekHex } from '../support/kek.js';

/** `node` arguments that run the CLI from the sources (test/bench/switch-process.ts `entry` gives the build's). */
export const sourceMain = ['--import', 'tsx', path.resolve('src/cli/main.ts')];

export interface SwitchOptions {
  /** `node` arguments that run the CLI. */
  main: string[];
  /** A started message must be complete within this (the stalled-connection fault waits for it). */
  frameTimeoutMs: number;
  logLevel: string;
}

/** One `pointswitch start` on fixed ports: started, killed and started again where it was. */
export class SwitchProcess {
  child: ChildProcess | null = null;
  starts = 0;
  constructor(readonly name: string, readonly posPort: number, readonly adminPort: number, private readonly stack: Stack) {}

  get pid(): number | null { return this.child?.pid ?? null; }
  get running(): boolean { return this.child !== null && this.child.exitCode === null && this.child.signalCode === null; }

  async start(): Promise<void> {
    this.starts++;
    const fd = openSync(path.join(this.stack.logDir, `${this.name}.log`), 'a');
    const o = this.stack.switchOptions;
    const child = spawn(process.execPath, [...o.main, 'start', '--pos-port', String(this.posPort), '--admin-port', String(this.adminPort),
      '--pos-host', '127.0.0.1', '--admin-host', '127.0.0.1', '--log-level', o.logLevel, '--frame-timeout-ms', String(o.frameTimeoutMs)],
    { env: this.stack.env(), stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    await waitHealthy(this.adminPort, child);
  }

  /** SIGKILL: nothing of it runs, nothing is flushed. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }
}

/** Every process whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

export class Stack {
  pg!: EmbeddedPostgresHandle;
  redis!: RedisServerHandle;
  pgPort = 0;
  redisPort = 0;
  readonly switches: SwitchProcess[] = [];

  private constructor(readonly dir: string, readonly logDir: string, readonly switchOptions: SwitchOptions) {}

  static async create(dir: string, logDir: string, switchOptions: SwitchOptions): Promise<Stack> {
    mkdirSync(logDir, { recursive: true });
    const s = new Stack(dir, logDir, switchOptions);
    s.pgPort = await freePort();
    s.redisPort = await freePort();
    await s.startPostgres();
    await s.startRedis();
    await migrate(s.pg.url, { quiet: true });
    return s;
  }

  get databaseUrl(): string { return this.pg.url; }
  get redisUrl(): string { return `redis://127.0.0.1:${this.redisPort}`; }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, DATABASE_URL: this.databaseUrl, REDIS_URL: this.redisUrl, POINTSWITCH_KEK: testKekHex };
  }

  private pgOptions(): EmbeddedPostgresOptions {
    // Durability on: a machine that goes down must lose nothing committed.
    return { dataDir: path.join(this.dir, 'pg'), port: this.pgPort, persistent: true, settings: { max_connections: '200' } };
  }

  async startPostgres(): Promise<void> {
    // A postmaster killed with SIGKILL may leave backends attached to its shared memory for a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        this.pg = await startEmbeddedPostgres(this.pgOptions());
        return;
      } catch (err) {
        if (attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  async stopPostgres(): Promise<void> { await this.pg.stop(); }

  /** SIGKILL to the postmaster and every backend: a power cut, as far as PostgreSQL can tell. */
  killPostgres(): void {
    const pid = Number(readFileSync(path.join(this.dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const backends = childrenOf(pid);
    for (const p of [pid, ...backends]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  }

  async startRedis(): Promise<void> {
    this.redis = await startRedisServer({ dataDir: path.join(this.dir, 'redis'), port: this.redisPort });
  }

  async stopRedis(): Promise<void> { await this.redis.stop(); }

  async addSwitch(name: string): Promise<SwitchProcess> {
    const sw = new SwitchProcess(name, await freePort(), await freePort(), this);
    this.switches.push(sw);
    await sw.start();
    return sw;
  }

  /** `pointswitch <args>` on this stack's database (seed, audit, apikey). */
  async cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const run = spawnCli(args, { DATABASE_URL: this.databaseUrl, REDIS_URL: this.redisUrl, POINTSWITCH_KEK: testKekHex });
    const { code } = await run.exited;
    return { code: code ?? 1, ...run.output() };
  }

  async close(): Promise<void> {
    for (const s of this.switches) await s.stop().catch(() => {});
    await this.redis?.stop().catch(() => {});
    await this.pg?.stop().catch(() => {});
  }
}
