// The packages the switch runs with (`npm audit --omit=dev`) have no known vulnerability rated high or critical.
// Skipped, saying why, when the registry cannot be asked (an offline machine, or a mirror without the audit
// endpoint, cannot know).
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
// Skipped only when the registry could not be asked: no network, or a registry (a mirror) that does not serve the
// audit endpoint. Any other failure to produce a report (a broken lockfile, npm itself) fails the test below.
const networkCodes = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH'];
const why = `${report?.error?.summary || report?.message || r.stderr}`;
const registryDown = networkCodes.includes(report?.error?.code ?? '') || networkCodes.some((c) => why.includes(c))
  || /security\/advisories|audit endpoint returned an error/.test(`${why}\n${r.stderr}`);
const unreachable = !counts && registryDown
  ? `npm audit could not ask the registry (${report?.error?.code ?? `exit ${r.code}`}: ${why.split('\n').find((l) => l.trim())?.slice(0, 200)})`
  : false;

t.test('npm audit --omit=dev: no high or critical vulnerability in the runtime dependencies', { skip: unreachable }, async (t) => {
  t.ok(counts, `npm audit gave a report (exit ${r.code}: ${why.split('\n').find((l) => l.trim())?.slice(0, 200) ?? ''})`);
  const bad = Object.entries(report?.vulnerabilities ?? {}).filter(([, v]) => v.severity === 'high' || v.severity === 'critical').map(([name, v]) => `${name} (${v.severity})`);
  t.same(bad, [], `high: ${counts?.high ?? 0}, critical: ${counts?.critical ?? 0}; all severities: ${JSON.stringify(counts)}`);
});
