// A server this process starts (the embedded PostgreSQL, a redis-server) is owned while it runs: named in an owner
// file beside its data (owner.ts) and watched (watchdog.ts), so that it ends when this process ends, however it
// ends, and so that a server left by an owner that is gone is recognised and stopped by the next start.
import { orphanIn, processId, removeOwner, stopOrphan, thisProcess, writeOwner } from './owner.js';
import { watchOver } from './watchdog.js';

export interface ServerSignals {
  /** Its clean shutdown: what the watchdog sends, and the first thing an orphan gets. */
  signal: NodeJS.Signals;
  /** Its quickest shutdown, when the clean one takes longer than graceMs. */
  thenSignal: NodeJS.Signals;
  graceMs: number;
}

/**
 * Stops the server named in `ownerFile` when its owner is gone. `serverPid`: the pid the server on these data
 * reports, when it reports one (a server the file does not name is never touched). Returns whether it stopped one.
 */
export async function stopIfOrphaned(ownerFile: string, what: string, signals: ServerSignals,
  notice: (line: string) => void = (line) => process.stderr.write(`pointswitch: ${line}\n`), serverPid?: number): Promise<boolean> {
  const orphan = orphanIn(ownerFile, serverPid);
  if (!orphan) return false;
  notice(`stopping the ${what} (pid ${orphan.server.pid}) left running by pid ${orphan.owner.pid}, which is gone`);
  await stopOrphan(orphan.server, signals);
  removeOwner(ownerFile);
  return true;
}

/**
 * Names `pid` as this process's server in `ownerFile` and watches it. Returns the server's stop wrapped: the
 * watchdog is told first (so it does not signal a pid that may be reused), the owner file removed last.
 */
export function ownServer(ownerFile: string, pid: number | undefined, signals: ServerSignals, onError: (err: Error) => void,
  stop: () => Promise<void>): () => Promise<void> {
  const server = pid !== undefined ? processId(pid) : null;
  if (!server) return stop;
  const watchdog = watchOver(server, signals.signal, onError);
  writeOwner(ownerFile, { owner: thisProcess(), server, ...(watchdog.id ? { watchdog: watchdog.id } : {}) });
  return async () => {
    watchdog.release();
    await stop();
    removeOwner(ownerFile);
  };
}
