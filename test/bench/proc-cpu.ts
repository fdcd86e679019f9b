// CPU time of a process tree by program (Linux /proc), so a benchmark can say where the machine's time went:
// the switch, its PostgreSQL and redis-server, and the load generator. Elsewhere it reports nothing.
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100; // USER_HZ on Linux

interface Proc { pid: number; ppid: number; name: string; ticks: number }

function readProcs(): Proc[] {
  const out: Proc[] = [];
  let entries: string[];
  try { entries = readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      // utime + stime, plus cutime + cstime: the time of its children that exited (Postgres backends end)
      out.push({ pid: Number(e), ppid: Number(f[1]), name, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch { /* gone */ }
  }
  return out;
}

/** CPU seconds used so far by `root` and its descendants, grouped by program name (postgres, redis-server, node). */
export function treeCpuSeconds(root: number): Map<string, number> {
  const procs = readProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const byName = new Map<string, number>();
  const self = procs.find((p) => p.pid === root);
  const stack = self ? [self] : [];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const name = p.name.startsWith('postgres') ? 'postgres' : p.name.startsWith('redis') ? 'redis' : p.pid === root ? 'switch' : p.name;
    byName.set(name, (byName.get(name) ?? 0) + p.ticks / ticksPerSecond);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return byName;
}

/** Percent of one core per program between two readings over `seconds`. */
export function cpuPercent(before: Map<string, number>, after: Map<string, number>, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) out[k] = Math.round(((v - (before.get(k) ?? 0)) / seconds) * 100);
  return out;
}

/** CPU seconds of this process's children that have exited and been waited for (a spawnSync'd pgbench). */
export function exitedChildrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}
