// Reference data read through: terminals and merchants from the Redis cache, else Postgres (and then cached),
// and a per-process memo of what a debit needs of them. A terminal's working keys stay encrypted in the cache;
// the codec it is given (terminal-keys.ts) writes and reads them.
import pLimit, { type LimitFunction } from 'p-limit';
import type { Cache } from '../cache/redis.js';
import { cacheKeys } from '../cache/keys.js';
import type { Pool } from '../db/pool.js';
import type { Decline } from './decline.js';
import type { MerchantInfo, TerminalInfo } from './types.js';

/** How long a cached terminal or merchant entry lives; every change made through the ledger rewrites it. */
const referenceTtlMs = 60_000;
/** Terminal numbers remembered as found, at most (more than any terminal estate; past it the set starts again). */
const knownTerminalsMax = 1_000_000;
/**
 * Per-process memo of the terminal->merchant binding and merchant rate used by debits (never keys): a debit
 * then reads neither from Redis, and a change through the admin API (which drops the cached entries) reaches
 * every process's debits within this long.
 */
const memoTtlMs = 1000;

/** A terminal row as the cache holds it, and back (the keys in it stay encrypted until read). */
export interface TerminalCodec {
  fields(row: Record<string, unknown>): Record<string, string>;
  info(terminalId: string, fields: Record<string, string>): TerminalInfo;
}

/** What a debit needs of its terminal. */
export type Binding = { merchantId: string; status: string };

export class Memo<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(private readonly ttlMs: number, private readonly max = 100_000) {}
  /** A fresh value without a promise (the hot path), else the loaded one. */
  get(k: string, load: () => Promise<V>): V | Promise<V> {
    const hit = this.m.get(k);
    if (hit && hit.until > Date.now()) return hit.v;
    return this.load(k, load);
  }
  private async load(k: string, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const v = await load();
    if (this.m.size >= this.max) this.m.clear();
    this.m.set(k, { v, until: now + this.ttlMs });
    return v;
  }
  forget(k: string): void { this.m.delete(k); }
}

export class Reference {
  private readonly terminalMemo = new Memo<Binding | null>(memoTtlMs);
  private readonly merchantMemo = new Memo<MerchantInfo | null>(memoTtlMs);
  /**
   * Reads of terminal numbers never found here that reach Postgres (Redis misses), `lookupsInFlightMax` at once.
   * A terminal's number is whatever the client wrote, so a flood of unknown numbers is a flood of such reads;
   * unbounded, they took every pool connection and the debit batches queued behind them. The rest wait here,
   * holding no connection. A number once found (`knownTerminals`) reads without waiting, so a real terminal
   * whose cache entry expired does not queue behind a flood; merchant reads come after a terminal's MAC and are
   * not bounded either.
   */
  private readonly lookups: LimitFunction;
  private readonly knownTerminals = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly cache: Cache,
    private readonly codec: TerminalCodec,
    lookupsInFlightMax: number,
  ) {
    this.lookups = pLimit(lookupsInFlightMax);
  }

  /** Reads of terminal numbers never found here waiting for their turn at Postgres now. */
  get lookupsWaiting(): number {
    return this.lookups.pendingCount;
  }

  async terminal(terminalId: string): Promise<TerminalInfo | null> {
    const key = cacheKeys.terminal(this.cache.prefix, terminalId);
    const h = await this.cache.getHash(key);
    if (h && h.m) return this.codec.info(terminalId, h);
    const read = () => this.pool.query('SELECT * FROM terminals WHERE terminal_id = $1', [terminalId]);
    const { rows } = await (this.knownTerminals.has(terminalId) ? read() : this.lookups(read));
    const row = rows[0];
    if (!row) return null;
    if (this.knownTerminals.size >= knownTerminalsMax) this.knownTerminals.clear();
    this.knownTerminals.add(terminalId);
    const fields = this.codec.fields(row);
    await this.cache.setIfNewer(key, row.version, referenceTtlMs, fields);
    return this.codec.info(terminalId, fields);
  }

  async merchant(merchantId: string): Promise<MerchantInfo | null> {
    const key = cacheKeys.merchant(this.cache.prefix, merchantId);
    const h = await this.cache.getHash(key);
    if (h && h.n !== undefined) return merchantFromFields(merchantId, h);
    const { rows } = await this.pool.query('SELECT * FROM merchants WHERE merchant_id = $1', [merchantId]);
    const row = rows[0];
    if (!row) return null;
    const fields = { n: row.name, s: row.status, r: String(row.points_per_yuan), f: String(row.fee_rate_bp) };
    await this.cache.setIfNewer(key, row.version, referenceTtlMs, fields);
    return merchantFromFields(merchantId, fields);
  }

  /** The terminal's merchant and status, from the memo (no keys are decrypted for it). */
  binding(terminalId: string): Binding | null | Promise<Binding | null> {
    return this.terminalMemo.get(terminalId, async () => {
      const info = await this.terminal(terminalId);
      return info ? { merchantId: info.merchantId, status: info.status } : null;
    });
  }

  /** Why this terminal may not move points for this merchant, or null; without a promise when the memo is fresh. */
  checkTerminal(terminalId: string, merchantId: string): Decline | null | Promise<Decline | null> {
    const judge = (t: Binding | null): Decline | null =>
      !t || t.status !== 'active' ? { kind: 'terminal-not-permitted' } : t.merchantId !== merchantId ? { kind: 'invalid-merchant' } : null;
    const b = this.binding(terminalId);
    return b instanceof Promise ? b.then(judge) : judge(b);
  }

  /** The merchant as a debit needs it, from the memo; without a promise when the memo is fresh. */
  merchantForDebit(merchantId: string): MerchantInfo | null | Promise<MerchantInfo | null> {
    return this.merchantMemo.get(merchantId, () => this.merchant(merchantId));
  }

  /** After the ledger changed a terminal row (keys, batch): the cache gets the new row, the memo forgets the old. */
  async terminalChanged(row: Record<string, unknown>): Promise<void> {
    this.terminalMemo.forget(String(row.terminal_id));
    await this.cache.setIfNewer(cacheKeys.terminal(this.cache.prefix, String(row.terminal_id)), Number(row.version),
      referenceTtlMs, this.codec.fields(row));
  }

  /** After a terminal row changed outside the ledger (admin API): drop its cached copies. */
  async forgetTerminal(terminalId: string): Promise<void> {
    this.terminalMemo.forget(terminalId);
    await this.cache.del(cacheKeys.terminal(this.cache.prefix, terminalId));
  }

  /** After a merchant row changed outside the ledger (admin API): drop its cached copies. */
  async forgetMerchant(merchantId: string): Promise<void> {
    this.merchantMemo.forget(merchantId);
    await this.cache.del(cacheKeys.merchant(this.cache.prefix, merchantId));
  }
}

function merchantFromFields(merchantId: string, h: Record<string, string>): MerchantInfo {
  return { merchantId, name: h.n ?? '', status: (h.s ?? 'closed') as MerchantInfo['status'], pointsPerYuan: Number(h.r), feeRateBp: Number(h.f) };
}
