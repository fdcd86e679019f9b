// Card state read through (Redis, else Postgres, and then cached), written back to the cache after every commit
// that moves a balance, and the pre-check that declines from the cache a debit that cannot succeed. The cache
// only ever answers reads and saves Postgres a doomed write: Postgres decides every debit.
import type { Cache } from '../cache/redis.js';
import { cacheKeys } from '../cache/keys.js';
import type { Pool } from '../db/pool.js';
import { cardDecline } from './card-rules.js';
import type { Decline } from './decline.js';
import type { SqlOutcome } from './outcomes.js';
import type { CardState, CardStatus } from './types.js';

/**
 * How long this process remembers a card it saw approved. The entry only ever skips a check, never decides, so a
 * stale one costs at most one stored decline per card and process, however old it is: hence a life far longer
 * than the card cache's, so that a card seen again within it pays no Redis round trip at all.
 */
const goodCardsTtlMs = 600_000;

/**
 * Cards this process has seen approved, with the balance left: a purchase of at most that many points skips
 * the Redis pre-check (it would only find the card able to pay) and goes straight to Postgres. If the card was
 * frozen or spent elsewhere meanwhile, Postgres declines it (stored) and the entry is dropped. Bounded in size.
 */
class GoodCards {
  private readonly m = new Map<string, { balance: number; until: number }>();
  constructor(private readonly ttlMs: number, private readonly max = 200_000) {}
  covers(cardNo: string, points: number, now: number): boolean {
    const e = this.m.get(cardNo);
    return e !== undefined && e.until > now && e.balance >= points;
  }
  saw(cardNo: string, out: { ok: boolean; balancePoints?: number } | undefined, now: number): void {
    if (!out) return;
    if (out.ok && typeof out.balancePoints === 'number') {
      // In place when the card is known: a new entry per purchase in this long-lived map outlives the young
      // generation and is promoted, only to be garbage at the card's next purchase (old-generation garbage
      // that only a major collection frees).
      const e = this.m.get(cardNo);
      if (e) {
        e.balance = out.balancePoints;
        e.until = now + this.ttlMs;
        return;
      }
      if (this.m.size >= this.max) this.m.clear();
      this.m.set(cardNo, { balance: out.balancePoints, until: now + this.ttlMs });
    } else {
      this.m.delete(cardNo);
    }
  }
  forget(cardNo: string): void { this.m.delete(cardNo); }
}

export class CardCache {
  /** Purchase pre-checks: skipped (card just approved here), asked of Redis, declined from Redis. */
  readonly precheck = { skipped: 0, redis: 0, declined: 0 };
  private readonly goodCards = new GoodCards(goodCardsTtlMs);

  /** `ttlMs`: how long a cached card entry lives; every commit that changes the card rewrites it. */
  constructor(private readonly pool: Pool, private readonly cache: Cache, private readonly ttlMs: number) {}

  /** Card state, from the cache when present, else Postgres (and then cached). */
  async card(cardNo: string): Promise<CardState | null> {
    const h = await this.cache.getHash(cacheKeys.card(this.cache.prefix, cardNo));
    if (h && h.s !== undefined && h.b !== undefined) return cardFromFields(cardNo, h);
    const { rows } = await this.pool.query('SELECT * FROM cards WHERE card_no = $1', [cardNo]);
    if (!rows[0]) return null;
    const card = cardRowToState(rows[0]);
    await this.cacheCard(card);
    return card;
  }

  /** Freezes, unfreezes, marks lost…: Postgres first, then the cache with the new version. */
  async setStatus(cardNo: string, status: CardStatus): Promise<boolean> {
    return this.change(cardNo, 'status', status);
  }

  /** Sets (or, with null, removes) the card's PIN verification value: Postgres first, then the cache. */
  async setPinVerification(cardNo: string, pvv: string | null): Promise<boolean> {
    return this.change(cardNo, 'pin_verification', pvv);
  }

  private async change(cardNo: string, column: 'status' | 'pin_verification', value: string | null): Promise<boolean> {
    const { rows } = await this.pool.query(
      `UPDATE cards SET ${column} = $2, version = version + 1 WHERE card_no = $1 RETURNING *`, [cardNo, value]);
    if (!rows[0]) return false;
    this.goodCards.forget(cardNo);
    await this.cacheCard(cardRowToState(rows[0]));
    return true;
  }

  /**
   * The reason a debit of `points` cannot succeed, judged from the cache, or null (unknown: let Postgres decide).
   * Null without a promise when this process just saw the card pay at least as much.
   */
  cannotPay(cardNo: string, businessDate: string, points: number): null | Promise<Decline | null> {
    if (this.goodCards.covers(cardNo, points, Date.now())) {
      this.precheck.skipped++;
      return null;
    }
    return this.judgeCached(cardNo, businessDate, points);
  }

  /** After a debit's answer: whether the card is worth a pre-check next time. */
  saw(cardNo: string, out: SqlOutcome): void {
    this.goodCards.saw(cardNo, out, Date.now());
  }

  /** After commit: each touched card's new balance, newest version per card, one round trip. */
  async written(results: Array<{ cardNo: string; out: SqlOutcome | undefined }>): Promise<void> {
    if (!this.cache.enabled) return;
    const newest = new Map<string, { version: number; balance: number }>();
    for (const { cardNo, out } of results) {
      const c = out?.card;
      if (!c) continue;
      const seen = newest.get(cardNo);
      if (!seen || seen.version < c.version) newest.set(cardNo, c);
    }
    await this.cache.setManyIfNewer([...newest].map(([cardNo, c]) => ({
      key: cacheKeys.card(this.cache.prefix, cardNo), version: c.version, ttlMs: this.ttlMs,
      fields: { b: String(c.balance) }, mode: 'partial' as const,
    })));
  }

  private async judgeCached(cardNo: string, businessDate: string, points: number): Promise<Decline | null> {
    if (!this.cache.available) return null;
    this.precheck.redis++;
    const h = await this.cache.getHash(cacheKeys.card(this.cache.prefix, cardNo));
    if (!h || h.s === undefined || h.b === undefined) return null;
    const card = cardFromFields(cardNo, h);
    // PIN is left to Postgres (a wrong PIN is stored, so its retry answers the same).
    const d: Decline | null = cardDecline({ ...card, pinVerification: null }, businessDate, null)
      ?? (card.balancePoints < points ? { kind: 'insufficient-points', balancePoints: card.balancePoints } : null);
    if (d) this.precheck.declined++;
    return d;
  }

  private async cacheCard(card: CardState): Promise<void> {
    await this.cache.setIfNewer(cacheKeys.card(this.cache.prefix, card.cardNo), card.version, this.ttlMs, {
      s: card.status, e: card.expiry, n: card.enrolled ? '1' : '0', p: card.pinVerification ?? '', b: String(card.balancePoints),
    });
  }
}

function cardFromFields(cardNo: string, h: Record<string, string>): CardState {
  return {
    cardNo, status: h.s as CardStatus, expiry: h.e ?? '0000', enrolled: h.n === '1', pinVerification: h.p ? h.p : null,
    balancePoints: Number(h.b), version: Number(h.v),
  };
}

function cardRowToState(row: Record<string, unknown>): CardState {
  return {
    cardNo: String(row.card_no), status: row.status as CardStatus, expiry: String(row.expiry), enrolled: Boolean(row.enrolled),
    pinVerification: (row.pin_verification as string | null) ?? null, balancePoints: Number(row.balance), version: Number(row.version),
  };
}
