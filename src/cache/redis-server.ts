// Starts a `redis-server` from PATH, used when REDIS_URL is unset. Redis is an accelerator, never a requirement:
// findRedisServer() returns null when there is none and the caller runs on Postgres alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../net/free-port.js';
import { ownServer, stopIfOrphaned, type ServerSignals } from '../process/servers.js';

export interface RedisServerHandle {
  /** TCP on 127.0.0.1 (for tools and tests). */
  url: string;
  /**
   * The same server on a Unix socket in its data directory (`unix:///…/redis.sock`, mode 0700), which the switch
   * uses: it skips the TCP stack on every batch's cache write, which raises the switch's peak rate. Null when the
   * path is too long for a socket address.
   */
  socketUrl: string | null;
  binary: string;
  stop(): Promise<void>;
}

export function findRedisServer(): string | null {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin']);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'redis-server');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * A redis-server left by a switch that is gone (killed with SIGKILL) would not stop the next one from starting (a
 * new port; the socket file is replaced), but would run for ever: it is stopped. It keeps nothing (no RDB, no
 * AOF), so SIGKILL after SIGTERM loses nothing.
 */
const orphanSignals: ServerSignals = { signal: 'SIGTERM', thenSignal: 'SIGKILL', graceMs: 5000 };

export interface RedisServerOptions {
  dataDir: string;
  port?: number;
  binary?: string;
  /** What an operator should hear of (an orphaned server stopped); default stderr. */
  onNotice?: (line: string) => void;
}

export async function startRedisServer(options: RedisServerOptions): Promise<RedisServerHandle> {
  const binary = options.binary ?? findRedisServer();
  if (!binary) throw new Error('redis-server was not found on PATH');
  const port = options.port && options.port > 0 ? options.port : await freePort();
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const ownerFile = path.join(dataDir, 'redis-server.owner');
  await stopIfOrphaned(ownerFile, `redis-server of ${dataDir}`, orphanSignals, options.onNotice);
  // A Unix socket's path must fit sockaddr_un (108 bytes with its NUL on Linux, 104 on macOS): else TCP only.
  const socket = path.join(dataDir, 'redis.sock');
  const withSocket = Buffer.byteLength(socket) < 100;
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dataDir, '--protected-mode', 'yes',
      ...(withSocket ? ['--unixsocket', socket, '--unixsocketperm', '700'] : [])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, 10_000, () => child.exitCode !== null, () => stderr);
  // Redis opens its listeners one after the other at start: the socket may appear just after the port answers.
  for (let i = 0; withSocket && !existsSync(socket) && i < 100 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
  const stop = ownServer(ownerFile, child.pid, orphanSignals, () => {}, async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    socketUrl: withSocket && existsSync(socket) ? `unix://${socket}` : null,   // else TCP: slower, not wrong
    binary,
    stop,
  };
}

async function waitForPort(port: number, timeoutMs: number, dead: () => boolean, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`redis-server exited: ${why()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`);
}
