// Stops a server the switch started when the switch dies, however it dies. Linux can signal a child when its
// parent dies (prctl PR_SET_PDEATHSIG), but Node cannot ask for it, and neither PostgreSQL nor redis-server
// notices its parent going. What every platform does do is close a dead process's pipes: so a tiny `sh`, in a
// session of its own (a Ctrl-C or a signal to the switch's process group does not reach it), blocks reading a
// pipe from the switch. A line on it means the switch stopped the server itself: it exits. End of file means the
// switch is gone: it sends the server its clean-shutdown signal, if the pid is still the server it was given
// (same start time), and exits. A shell and not a second Node: it costs about a megabyte, not forty.
// When the watchdog itself is killed too (the OOM killer taking the lot), the next start's owner check
// (src/process/owner.ts) stops the orphan.
import { spawn } from 'node:child_process';
import type { ProcessId } from './owner.js';
import { processId } from './owner.js';

const script = [
  'pid=$1 started=$2 sig=$3',
  'if read -r _; then exit 0; fi',
  'if [ -n "$started" ]; then',
  '  read -r stat < "/proc/$pid/stat" || exit 0',
  '  set -- ${stat##*") "}',
  '  shift 19 || exit 0',
  '  [ "$1" = "$started" ] || exit 0',
  'fi',
  'kill -s "$sig" "$pid" 2>/dev/null',
  'exit 0',
].join('\n');

export interface Watchdog {
  /** The watchdog's process, for the owner file; null when it could not be started. */
  readonly id: ProcessId | null;
  /** The server was stopped by its owner: the watchdog exits without a signal. */
  release(): void;
}

/** Watches `server` for this process: when this process ends without release(), `signal` goes to the server. */
export function watchOver(server: ProcessId, signal: NodeJS.Signals, onError: (err: Error) => void = () => {}): Watchdog {
  const child = spawn('sh', ['-c', script, 'pointswitch-watchdog', String(server.pid), server.startedAt ?? '', signal.replace(/^SIG/, '')], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.on('error', onError);
  child.stdin?.on('error', () => {});   // it exited first: nothing left to tell it
  // Neither the watchdog nor its pipe keeps this process alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const id = child.pid !== undefined ? processId(child.pid) ?? { pid: child.pid, startedAt: null } : null;
  return {
    id,
    release() {
      if (child.stdin?.writable) child.stdin.end('stop\n');
    },
  };
}
