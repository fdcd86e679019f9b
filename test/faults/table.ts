// The fault suite's table: one row per fault, and the checks that failed under it.
import type { Counts } from './fleet.js';
import type { Check } from './reconcile.js';

export interface Row extends Counts {
  fault: string;
  /** From the fault until every terminal had an approval again; null: not within the bound. */
  recoveredMs: number | null;
  checks: Check[];
}

/** The last column: `yes (7/7)` or `NO: the names of the checks that failed`. */
export function held(r: Row): string {
  const failed = r.checks.filter((c) => !c.ok);
  return failed.length === 0 ? `yes (${r.checks.length}/${r.checks.length})` : `NO: ${failed.map((c) => c.name).join('; ')}`;
}

/** Whether every check of every fault held: the suite's exit code. */
export function allHeld(rows: Row[]): boolean {
  return rows.every((r) => r.checks.every((c) => c.ok));
}

export function formatTable(rows: Row[]): string {
  const head = ['fault', 'requests', 'approvals', 'reversals', 'recovery s', 'invariants held'];
  const cells = rows.map((r) => [r.fault, String(r.requests), String(r.approvals), String(r.reversals),
    r.recoveredMs === null ? '-' : (r.recoveredMs / 1000).toFixed(2), held(r)]);
  const total = rows.reduce((s, r) => ({ requests: s.requests + r.requests, approvals: s.approvals + r.approvals, reversals: s.reversals + r.reversals }), { requests: 0, approvals: 0, reversals: 0 });
  cells.push(['total', String(total.requests), String(total.approvals), String(total.reversals), '', allHeld(rows) ? `yes: ${rows.length} faults survived` : 'NO']);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => (i === 0 || i === c.length - 1 ? x.padEnd(width[i]!) : x.padStart(width[i]!))).join(' | ')} |`;
  const out = [line(head), `|${width.map((w, i) => (i === 0 || i === width.length - 1 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.map(line)];
  for (const r of rows) for (const c of r.checks) if (!c.ok) out.push(`  ${r.fault}: FAILED ${c.name}: ${c.detail}`);
  const otherwise = rows.reduce((n, r) => n + r.retransmissionsAnsweredOtherwise, 0);
  if (otherwise > 0) {
    out.push(`  note: ${otherwise} retransmissions were answered with another code than their first copy (a purchase declined without a`
      + ' stored answer, from the Redis pre-check, is judged again when it is sent again); each terminal went by the answer to its last copy');
  }
  return out.join('\n');
}
