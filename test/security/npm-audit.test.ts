// The packages the switch runs with (`npm audit --omit=dev`) have no known vulnerability rated high or critical.
// Skipped, saying why, when the registry cannot be reached (an offline machine cannot know).
import { spawnSync } from 'node:child_process';
import t from 'tap';

interface AuditJson { metadata?: { vulnerabilities?: Record<string, number> }; vulnerabilities?: Record<string, { severity: string; via: unknown[] }>; error?: { code?: string; summary?: string }; message?: string }

function npmAudit(): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

const r = npmAudit();
let report: AuditJson | null = null;
try { report = JSON.parse(r.stdout) as AuditJson; } catch { /* below */ }
const counts = report?.metadata?.vulnerabilities;
const unreachable = !counts
  ? `npm audit could not reach the registry or answer (${report?.error?.code ?? `exit ${r.code}`}: ${(report?.error?.summary || report?.message || r.stderr).split('\n').find((l) => l.trim())?.slice(0, 200)})`
  : false;

t.test('npm audit --omit=dev: no high or critical vulnerability in the runtime dependencies', { skip: unreachable }, async (t) => {
  const bad = Object.entries(report?.vulnerabilities ?? {}).filter(([, v]) => v.severity === 'high' || v.severity === 'critical').map(([name, v]) => `${name} (${v.severity})`);
  t.same(bad, [], `high: ${counts?.high ?? 0}, critical: ${counts?.critical ?? 0}; all severities: ${JSON.stringify(counts)}`);
});
