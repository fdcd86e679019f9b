// The cache client. Redis is never the authority: every call here may return null ("unknown") and callers
// fall back to Postgres. Short command timeouts, no offline queue and a circuit breaker keep a dead Redis cheap;
// ioredis reconnects in the background and the cache fills again by read-through.
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { CircuitBreaker } from './breaker.js';

/**
 * The socket path of a `unix:` Redis URL (`unix:///run/redis.sock`), else null (`redis:`, `rediss:`). ioredis
 * takes a socket as a path, not as a URL. A Unix socket skips the TCP stack: the switch's own redis-server is
 * reached that way (see redis-server.ts).
 */
export function unixSocketPath(url: string): string | null {
  if (!url.startsWith('unix:')) return null;
  const u = new URL(url);
  return decodeURIComponent(u.pathname);
}

export interface CacheOptions {
  redisUrl?: string | null;
  prefix?: string;
  commandTimeoutMs?: number;
  log?: Logger;
}

/**
 * Hash writes that never let an older version replace a newer one, for one key or many in one call (after a
 * batch commit: one script run, not one per card). ARGV, per key in turn: version, ttlMs, mode ('full', or
 * 'partial': only update an entry that exists), n, then n field/value pairs.
 * Keys of several hash slots: fine on one Redis server; a Redis Cluster would need one call per slot.
 */
const setIfNewerLua = `
local o = 1
for i = 1, #KEYS do
  local version, ttl, mode, nf = ARGV[o], ARGV[o + 1], ARGV[o + 2], tonumber(ARGV[o + 3])
  local cur = redis.call('HGET', KEYS[i], 'v')
  if not (cur and tonumber(cur) >= tonumber(version)) and not (mode == 'partial' and not cur) then
    redis.call('HSET', KEYS[i], 'v', version, unpack(ARGV, o + 4, o + 3 + 2 * nf))
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  o = o + 4 + 2 * nf
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
  /** Connected once, and the connection since lost (for the log's 'lost' and 'back' lines). */
  private wasReady = false;
  private lost = false;
  private closed = false;
  /** A call failed on a connection that stayed up (a stalled Redis), until one succeeds again. */
  private unanswered = false;

  constructor(o: CacheOptions) {
    this.prefix = o.prefix ?? '';
    this.log = o.log ?? silentLogger;
    if (!o.redisUrl) {
      this.redis = null;
      return;
    }
    const options = {
      commandTimeout: o.commandTimeoutMs ?? 50,
      connectTimeout: 500,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 250,
      lazyConnect: false,
    };
    const socket = unixSocketPath(o.redisUrl);
    this.redis = socket === null ? new Redis(o.redisUrl, options) : new Redis({ ...options, path: socket });
    this.redis.defineCommand('setIfNewer', { lua: setIfNewerLua });
    // Errors come back on every call (and the breaker counts them); the log says once when Redis goes and comes back.
    this.redis.on('error', () => {});
    this.redis.on('close', () => {
      if (!this.wasReady || this.lost || this.closed) return;
      this.lost = true;
      this.log.warn('cache: lost the connection to Redis; every cache read goes to Postgres until it is back');
    });
    this.redis.on('ready', () => {
      if (this.lost) {
        const missed = this.dirtyOverflow ? 'more than ' + this.dirtyMax : String(this.dirty.size);
        this.log.warn({ missedWrites: missed }, 'cache: Redis is back; dropping the entries this process could not update meanwhile, then reading through it again');
      }
      this.wasReady = true;
      this.lost = false;
      void this.cleanDirty();
    });
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
    await this.setManyIfNewer([{ key, version, ttlMs, fields, mode }]);
  }

  /** Several such writes in one round trip and one script run. */
  async setManyIfNewer(items: Array<{ key: string; version: number; ttlMs: number; fields: Fields; mode: 'full' | 'partial' }>): Promise<void> {
    if (items.length === 0) return;
    const argv: string[] = [];
    for (const it of items) {
      const pairs = Object.entries(it.fields);
      argv.push(String(it.version), String(it.ttlMs), it.mode, String(pairs.length), ...pairs.flat());
    }
    const ok = await this.call(async (r) => {
      await (r as unknown as { setIfNewer(n: number, ...a: string[]): Promise<number> })
        .setIfNewer(items.length, ...items.map((it) => it.key), ...argv);
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
    this.closed = true;   // the 'close' that follows is ours, not an outage
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
        // exec() resolves even when commands fail or time out (each result carries its error): a key stays dirty
        // until its DEL has succeeded, or a stale entry could outlive the outage.
        const results = await p.exec();
        const failed = results ? results.find(([err]) => err) : [new Error('pipeline not run')];
        if (failed) throw failed[0];
        for (const k of chunk) this.dirty.delete(k);
      }
      this.breaker.success();
      this.answered();
    } catch (err) {
      this.unanswering(err, 'cleaning entries missed during an outage failed; will retry');
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
      this.answered();
      return v;
    } catch (err) {
      this.breaker.failure();
      // One timeout is a hiccup (a write that fails marks its key, and the clean-up that follows tells); the
      // breaker opening is an outage.
      if (this.breaker.isOpen()) this.unanswering(err, 'calls failed several times in a row');
      else this.log.debug({ err: (err as Error).message }, 'cache: redis call failed');
      return fallback;
    }
  }

  /**
   * Redis fails on a connection that is up (a stalled or overloaded Redis sends no 'close'): the breaker opened, or
   * a clean-up failed. Warned once until a call succeeds again, then at debug level, so a stall does not write a
   * line per call.
   */
  private unanswering(err: unknown, what: string): void {
    const message = (err as Error).message;
    if (this.unanswered || this.lost) {
      this.log.debug({ err: message }, `cache: ${what}`);
      return;
    }
    this.unanswered = true;
    this.log.warn({ err: message }, `cache: Redis calls are failing (${what}); reads go to Postgres until one succeeds`);
  }

  private answered(): void {
    if (!this.unanswered) return;
    this.unanswered = false;
    this.log.warn('cache: Redis calls succeed again');
  }
}
