// Admin API keys. A key is `psk_<prefix>_<secret>`: the prefix (10 base32 characters) is not secret and finds the
// key's row; the secret is 32 random bytes. Only the SHA-256 of the whole key is stored, and it is compared in
// constant time. A verified key is remembered for a few seconds, so checking one costs a hash and a map lookup,
// not a query; a key revoked through this process is forgotten at once, through another within `cacheTtlMs`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from '../db/pool.js';

export const roles = ['admin', 'operator', 'billing', 'clearing', 'auditor'] as const;
export type Role = (typeof roles)[number];

/** Who called: the key's id, name and role (never the key). */
export interface Principal { keyId: number; name: string; role: Role; prefix: string }

export interface KeyInfo extends Principal {
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  replacedBy: number | null;
}

const keyPattern = /^psk_([a-z2-7]{10})_([A-Za-z0-9_-]{43})$/;
const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** How long a verified key is trusted without asking Postgres again (revocation reaches other processes by then). */
const cacheTtlMs = 5_000;
/** last_used_at is written at most this often per key (a write per request would cost more than the check). */
const touchEveryMs = 60_000;

type Row = {
  key_id: string; prefix: string; secret_sha256: Buffer; name: string; role: Role; created_at: Date;
  expires_at: Date | null; revoked_at: Date | null; last_used_at: Date | null; replaced_by: string | null;
};

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

function newPrefix(): string {
  const bytes = randomBytes(10);
  let s = '';
  for (const b of bytes) s += base32[b & 31];
  return s;
}

function toInfo(r: Row): KeyInfo {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    keyId: Number(r.key_id), name: r.name, role: r.role, prefix: r.prefix, createdAt: r.created_at.toISOString(),
    expiresAt: iso(r.expires_at), revokedAt: iso(r.revoked_at), lastUsedAt: iso(r.last_used_at),
    replacedBy: r.replaced_by === null ? null : Number(r.replaced_by),
  };
}

function usable(r: Row, now: number): boolean {
  return r.revoked_at === null && (r.expires_at === null || r.expires_at.getTime() > now);
}

export class ApiKeys {
  private readonly cache = new Map<string, { row: Row | null; until: number }>();
  private readonly touched = new Map<number, number>();

  constructor(private readonly pool: Pool, private readonly onError: (err: unknown) => void = () => {}) {}

  /** A new key: returned once, here, and never again. */
  async create(o: { role: Role; name: string; expiresAt?: Date | null }): Promise<{ key: string; info: KeyInfo }> {
    for (let attempt = 0; ; attempt++) {
      const prefix = newPrefix();
      const key = `psk_${prefix}_${randomBytes(32).toString('base64url')}`;
      const { rows } = await this.pool.query<Row>(
        `INSERT INTO api_keys (prefix, secret_sha256, name, role, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (prefix) DO NOTHING RETURNING *`,
        [prefix, sha256(key), o.name, o.role, o.expiresAt ?? null]);
      if (rows[0]) return { key, info: toInfo(rows[0]) };
      if (attempt >= 3) throw new Error('could not draw an unused key prefix');
    }
  }

  /** The caller behind a presented key, or null when it is malformed, unknown, wrong, revoked or expired. */
  async verify(presented: string): Promise<Principal | null> {
    const m = keyPattern.exec(presented);
    if (!m) return null;
    const prefix = m[1]!;
    const now = Date.now();
    let hit = this.cache.get(prefix);
    if (!hit || hit.until <= now) {
      const { rows } = await this.pool.query<Row>('SELECT * FROM api_keys WHERE prefix = $1', [prefix]);
      hit = { row: rows[0] ?? null, until: now + cacheTtlMs };
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(prefix, hit);
    }
    const row = hit.row;
    // Hash even when the prefix is unknown, so an unknown prefix costs the same as a wrong secret.
    const given = sha256(presented);
    if (!row || !timingSafeEqual(given, row.secret_sha256) || !usable(row, now)) return null;
    const keyId = Number(row.key_id);
    this.touch(keyId, now);
    return { keyId, name: row.name, role: row.role, prefix: row.prefix };
  }

  async list(): Promise<KeyInfo[]> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM api_keys ORDER BY key_id');
    return rows.map(toInfo);
  }

  async get(keyId: number): Promise<KeyInfo | null> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM api_keys WHERE key_id = $1', [keyId]);
    return rows[0] ? toInfo(rows[0]) : null;
  }

  /** Stops a key at once; null when there is no such key. Revoking a revoked key changes nothing. */
  async revoke(keyId: number): Promise<KeyInfo | null> {
    const { rows } = await this.pool.query<Row>(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING *', [keyId]);
    if (rows[0]) this.cache.delete(rows[0].prefix);
    return rows[0] ? toInfo(rows[0]) : null;
  }

  /**
   * A new key of the same name and role; the old one keeps working for `graceSeconds` (0: stops now), then stops.
   * Null when the key does not exist or no longer works.
   */
  async rotate(keyId: number, graceSeconds: number): Promise<{ key: string; info: KeyInfo; old: KeyInfo } | null> {
    const old = await this.get(keyId);
    if (!old || old.revokedAt !== null || (old.expiresAt !== null && Date.parse(old.expiresAt) <= Date.now())) return null;
    const made = await this.create({ role: old.role, name: old.name });
    const { rows } = await this.pool.query<Row>(
      `UPDATE api_keys SET replaced_by = $2,
              expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
       WHERE key_id = $1 RETURNING *`, [keyId, made.info.keyId, graceSeconds]);
    this.cache.delete(old.prefix);
    return { ...made, old: toInfo(rows[0]!) };
  }

  private touch(keyId: number, now: number): void {
    const last = this.touched.get(keyId) ?? 0;
    if (now - last < touchEveryMs) return;
    if (this.touched.size >= 10_000) this.touched.clear();
    this.touched.set(keyId, now);
    this.pool.query('UPDATE api_keys SET last_used_at = now() WHERE key_id = $1', [keyId]).catch(this.onError);
  }
}
