// The audit trail: one row for every change made through the admin API or the CLI, saying who (the key's id and
// name, or the CLI user), what, and the record before and after. Card numbers are masked before anything is
// written; secrets (keys, PINs, master keys) are never passed in.
import { userInfo } from 'node:os';
import { maskPan } from '../../protocol/mask.js';
import type { Pool } from '../db/pool.js';
import type { Principal } from './keys.js';

export type Actor = Principal | { cli: string };

export interface AuditEntry {
  action: string;
  /** What changed, e.g. a merchant id or a masked card number. */
  subject?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface AuditRecord {
  auditId: number; at: string; keyId: number | null; actor: string; action: string; subject: string | null;
  before: unknown; after: unknown;
}

/** The CLI's actor: the operating-system user running the command. */
export function cliActor(): Actor {
  let user = 'unknown';
  try { user = userInfo().username; } catch { /* no passwd entry (a container): keep 'unknown' */ }
  return { cli: user };
}

const cardFields = new Set(['cardNo', 'card_no', 'pan']);

/** A copy of a JSON-like value with every card number masked (by field name, and any 12-19 digit string). */
export function maskCards(v: unknown, field = ''): unknown {
  if (typeof v === 'string') return cardFields.has(field) || /^\d{12,19}$/.test(v) ? maskPan(v) : v;
  if (Array.isArray(v)) return v.map((x) => maskCards(x, field));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskCards(x, k)]));
  return v;
}

export async function recordAudit(db: Pick<Pool, 'query'>, actor: Actor, e: AuditEntry): Promise<void> {
  const who = 'cli' in actor ? { keyId: null, name: `cli:${actor.cli}` } : { keyId: actor.keyId, name: `key:${actor.name}` };
  const json = (x: unknown) => (x === undefined || x === null ? null : JSON.stringify(maskCards(x)));
  await db.query(
    'INSERT INTO audit_log (key_id, actor, action, subject, before, after) VALUES ($1, $2, $3, $4, $5, $6)',
    [who.keyId, who.name, e.action, e.subject === undefined || e.subject === null ? null : String(maskCards(e.subject)), json(e.before), json(e.after)]);
}

export interface AuditQuery {
  action?: string; keyId?: number; subject?: string; from?: string; to?: string; before?: number; limit: number;
}

/** Newest first; `before` is the cursor (an auditId) of the next page. */
export async function readAudit(db: Pick<Pool, 'query'>, q: AuditQuery): Promise<AuditRecord[]> {
  const { rows } = await db.query<{
    audit_id: string; at: Date; key_id: string | null; actor: string; action: string; subject: string | null; before: unknown; after: unknown;
  }>(
    `SELECT * FROM audit_log
     WHERE ($1::text IS NULL OR action = $1) AND ($2::bigint IS NULL OR key_id = $2) AND ($3::text IS NULL OR subject = $3)
       AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5) AND ($6::bigint IS NULL OR audit_id < $6)
     ORDER BY audit_id DESC LIMIT $7`,
    [q.action ?? null, q.keyId ?? null, q.subject === undefined ? null : String(maskCards(q.subject)), q.from ?? null, q.to ?? null,
      q.before ?? null, q.limit]);
  return rows.map((r) => ({
    auditId: Number(r.audit_id), at: r.at.toISOString(), keyId: r.key_id === null ? null : Number(r.key_id), actor: r.actor,
    action: r.action, subject: r.subject, before: r.before, after: r.after,
  }));
}
