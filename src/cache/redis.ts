// The cache client. Redis is never the authority: every call here may return null ("unknown") and callers
// fall back to Postgres. Short command timeouts, no offline queue and a circuit breaker keep a dead Redis cheap;
// ioredis reconnects in the background and the cache fills again by read-through.
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { CircuitBreaker } from './breaker.js';

export interface CacheOptions {
  redisUrl?: string | null;
  prefix?: string;
  commandTimeoutMs?: number;
  log?: Logger;
}

/** Hash write that never lets an older version replace a newer one. ARGV: version, ttlMs, mode ('full'|'partial'), field, value, … */
const setIfNewerLua = `
local cur = redis.call('HGET', KEYS[1], 'v')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
if ARGV[3] == 'partial' and not cur then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * The same for many keys in one call (after a batch commit: one script run instead of one per card).
 * ARGV: ttlMs, mode, n (field names), name1…namen, then per key: version, value1…valuen.
 * Keys of several hash slots: fine on one Redis server; a Redis Cluster would need one call per slot.
 */
const setManyIfNewerLua = `
local ttl, mode, nf = ARGV[1], ARGV[2], tonumber(ARGV[3])
local per = 1 + nf
for i = 1, #KEYS do
  local o = 3 + nf + (i - 1) * per
  local cur = redis.call('HGET', KEYS[i], 'v')
  if not (cur and tonumber(cur) >= tonumber(ARGV[o + 1])) and not (mode == 'partial' and not cur) then
    local args = {'v', ARGV[o + 1]}
    for j = 1, nf do args[#args + 1] = ARGV[3 + j]; args[#args + 1] = ARGV[o + 1 + j] end
    redis.call('HSET', KEYS[i], unpack(args))
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return #KEYS`;

type Fields = Record<string, string>;

export class Cache {
  readonly prefix: string;
  private readonly redis: Redis | null;
  private readonly breaker = new CircuitBreaker(3, 1000);
  private readonly log: Logger;
  /** Keys whose post-commit write failed: deleted when Redis answers again, so no stale entry outlives an outage. */
  private readonly dirty = new Set<string>();
  private readonly dirtyMax = 10_000;
  private dirtyOverflow = false;
  private cleaning = false;

  constructor(o: CacheOptions) {
    this.prefix = o.prefix ?? '';
    this.log = o.log ?? silentLogger;
    if (!o.redisUrl) {
      this.redis = null;
      return;
    }
    this.redis = new Redis(o.redisUrl, {
      commandTimeout: o.commandTimeoutMs ?? 50,
      connectTimeout: 500,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 250,
      lazyConnect: false,
    });
    this.redis.defineCommand('setIfNewer', { numberOfKeys: 1, lua: setIfNewerLua });
    this.redis.defineCommand('setManyIfNewer', { lua: setManyIfNewerLua });
    this.redis.on('error', () => {});
    this.redis.on('ready', () => { void this.cleanDirty(); });
  }

  /** Waits up to `timeoutMs` for the first connection (start-up); never fails: without Redis the ledger runs on Postgres. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const r = this.redis;
    if (!r) return false;
    if (r.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => { clearTimeout(timer); r.off('ready', onReady); resolve(ok); };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      r.once('ready', onReady);
    });
  }

  get enabled(): boolean {
    return this.redis !== null;
  }

  /** Redis is connected and the breaker closed. */
  get available(): boolean {
    return this.redis !== null && this.redis.status === 'ready' && this.breaker.allow();
  }

  /** Reads answered by Redis: an entry found (hit) or not (miss). Reads Redis could not answer count as neither. */
  readonly reads = { hits: 0, misses: 0 };

  async getHash(key: string): Promise<Fields | null> {
    return this.call(async (r) => {
      const h = await r.hgetall(key);
      const found = h && Object.keys(h).length > 0 ? h : null;
      if (found) this.reads.hits++;
      else this.reads.misses++;
      return found;
    }, null);
  }

  /** Writes fields if `version` is newer than the cached one. partial: only update an entry that exists. */
  async setIfNewer(key: string, version: number, ttlMs: number, fields: Fields, mode: 'full' | 'partial' = 'full'): Promise<void> {
    const args = [String(version), String(ttlMs), mode, ...Object.entries(fields).flat()];
    const ok = await this.call(async (r) => {
      await (r as unknown as { setIfNewer(key: string, ...a: string[]): Promise<number> }).setIfNewer(key, ...args);
      return true;
    }, false);
    if (!ok) this.markDirty(key);
  }

  /** Several writes in one round trip (after a batch commit): one script run when they share ttl, mode and field names. */
  async setManyIfNewer(items: Array<{ key: string; version: number; ttlMs: number; fields: Fields; mode: 'full' | 'partial' }>): Promise<void> {
    if (items.length === 0) return;
    const first = items[0]!;
    const names = Object.keys(first.fields);
    const uniform = items.every((it) => it.ttlMs === first.ttlMs && it.mode === first.mode
      && Object.keys(it.fields).length === names.length && names.every((n) => it.fields[n] !== undefined));
    const ok = await this.call(async (r) => {
      if (uniform) {
        const argv = [String(first.ttlMs), first.mode, String(names.length), ...names];
        for (const it of items) argv.push(String(it.version), ...names.map((n) => it.fields[n] as string));
        await (r as unknown as { setManyIfNewer(n: number, ...a: string[]): Promise<number> })
          .setManyIfNewer(items.length, ...items.map((it) => it.key), ...argv);
        return true;
      }
      const p = r.pipeline();
      for (const it of items) {
        (p as unknown as { setIfNewer(key: string, ...a: string[]): void })
          .setIfNewer(it.key, String(it.version), String(it.ttlMs), it.mode, ...Object.entries(it.fields).flat());
      }
      const res = await p.exec();
      if (res?.some(([err]) => err)) throw new Error('pipeline write failed');
      return true;
    }, false);
    if (!ok) for (const it of items) this.markDirty(it.key);
  }

  async del(key: string): Promise<void> {
    const ok = await this.call(async (r) => { await r.del(key); return true; }, false);
    if (!ok) this.markDirty(key);
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    this.redis.disconnect();
  }

  private markDirty(key: string): void {
    if (!this.redis) return;
    if (this.dirty.size >= this.dirtyMax) this.dirtyOverflow = true;
    else this.dirty.add(key);
  }

  /** After Redis returns, forget whatever this process failed to write while it was away. */
  private async cleanDirty(): Promise<void> {
    const r = this.redis;
    if (!r || this.cleaning) return;
    this.cleaning = true;
    try {
      if (this.dirtyOverflow) {
        this.log.warn('cache: too many missed writes during an outage; dropping every cached entry under the prefix');
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
          if (keys.length) await r.del(...keys);
          cursor = next;
        } while (cursor !== '0');
        this.dirtyOverflow = false;
      }
      const keys = [...this.dirty];
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        // Cluster-safe: one key per DEL (keys are in different slots).
        const p = r.pipeline();
        for (const k of chunk) p.del(k);
        await p.exec();
        for (const k of chunk) this.dirty.delete(k);
      }
      this.breaker.success();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cache: cleaning entries missed during an outage failed; will retry');
    } finally {
      this.cleaning = false;
    }
  }

  private async call<T>(fn: (r: Redis) => Promise<T>, fallback: T): Promise<T> {
    const r = this.redis;
    if (!r || r.status !== 'ready' || !this.breaker.allow() || this.dirty.size > 0 || this.dirtyOverflow) {
      if (r && r.status === 'ready' && (this.dirty.size > 0 || this.dirtyOverflow)) void this.cleanDirty();
      return fallback;
    }
    try {
      const v = await fn(r);
      this.breaker.success();
      return v;
    } catch (err) {
      this.breaker.failure();
      this.log.debug({ err: (err as Error).message }, 'cache: redis call failed');
      return fallback;
    }
  }
}
