// The POS port of a `pointswitch start` child, from its listening line: polled with a bound, as a slow start
// (an embedded PostgreSQL recovering after a kill) takes as long as it takes within it.
import type { RunningCli } from '../ledger/run-cli.js';

export async function posPortOf(run: RunningCli, timeoutMs = 30_000): Promise<number> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const m = /POS on 127\.0\.0\.1:(\d+)/.exec(run.output().stdout);
    if (m) return Number(m[1]);
    if (run.child.exitCode !== null || run.child.signalCode !== null) break;
  }
  throw new Error(`no listening line: ${JSON.stringify(run.output())}`);
}
