// Who owns a server the switch started (the embedded PostgreSQL, a redis-server). Both outlive a switch killed with
// SIGKILL: nothing runs in a process that is killed, and Node cannot ask Linux to signal a child when its parent
// dies (prctl PR_SET_PDEATHSIG). So the switch writes an owner file beside the server's data, naming itself and
// the server each by pid and start time, and the next start on the same data asks the kernel whether both are
// still the processes the file names: a pid alone may have been given to another process since.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/** A process as the kernel knows it: its pid, and its start time where the platform says (Linux: /proc). */
export interface ProcessId {
  pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat); null where there is no /proc. */
  startedAt: string | null;
}

export interface OwnerRecord {
  /** The process that started the server and stops it when it stops. */
  owner: ProcessId;
  server: ProcessId;
  /** The watchdog that stops the server when the owner dies (src/process/watchdog.ts), if one was started. */
  watchdog?: ProcessId;
}

/** `pid` as it runs now, or null when no such process runs (a zombie, dead but not yet reaped, does not). */
export function processId(pid: number): ProcessId | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (process.platform !== 'linux') return liveWithoutProc(pid);
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so the fields are read after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return { pid, startedAt: fields[19] ?? null };
}

/** Without /proc: whether a signal could reach the pid; its start time is unknown. */
function liveWithoutProc(pid: number): ProcessId | null {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return { pid, startedAt: null };
}

/** Whether the process `id` names still runs: the same pid, started at the same time. */
export function stillRunning(id: ProcessId): boolean {
  const now = processId(id.pid);
  return now !== null && (id.startedAt === null || now.startedAt === id.startedAt);
}

export function readOwner(file: string): OwnerRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as OwnerRecord;
    return Number.isInteger(r?.owner?.pid) && Number.isInteger(r?.server?.pid) ? r : null;
  } catch {
    return null;
  }
}

/** Written whole or not at all (a crash while writing must not leave half a record for the next start to read). */
export function writeOwner(file: string, record: OwnerRecord): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function removeOwner(file: string): void {
  rmSync(file, { force: true });
}

/**
 * The server named in `file` when it still runs and its owner does not: an orphan, safe to stop. Null when there
 * is no such server, or its owner still runs (never disturbed), or the file names another server than `serverPid`
 * (the pid a running server on these data reports, when it reports one).
 */
export function orphanIn(file: string, serverPid?: number): OwnerRecord | null {
  const record = readOwner(file);
  if (!record || (serverPid !== undefined && record.server.pid !== serverPid)) return null;
  return stillRunning(record.server) && !stillRunning(record.owner) ? record : null;
}

/**
 * Stops an orphaned server: `signal` (its clean shutdown), then, if it has not ended within `graceMs`, `thenSignal`
 * (its quickest one) and another `graceMs`. Throws when it still runs after that.
 */
export async function stopOrphan(server: ProcessId, o: { signal: NodeJS.Signals; thenSignal: NodeJS.Signals; graceMs: number }): Promise<void> {
  for (const signal of [o.signal, o.thenSignal]) {
    if (!stillRunning(server)) return;
    try {
      process.kill(server.pid, signal);
    } catch {
      return;   // gone between the look and the signal
    }
    for (const until = Date.now() + o.graceMs; stillRunning(server) && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
  }
  if (stillRunning(server)) throw new Error(`pid ${server.pid} did not stop after ${o.signal} and ${o.thenSignal}`);
}

/** This process, for the owner file. */
export function thisProcess(): ProcessId {
  return processId(process.pid) ?? { pid: process.pid, startedAt: null };
}
