// The points ledger: Postgres is the record (SQL functions in migrations/ decide every movement), Redis a cache
// in front of reads and of debits that cannot succeed. Business outcomes are values (Outcome), never exceptions.
import pLimit, { type LimitFunction } from 'p-limit';
import { Cache } from '../cache/redis.js';
import { cacheKeys } from '../cache/keys.js';
import { createPool, type Pool } from '../db/pool.js';
import { silentLogger, type Logger } from '../log.js';
import { Batcher } from './batcher.js';
import { businessDateOf, cardDecline } from './card-rules.js';
import { responseCodeFor, responseCodeTable, type Decline } from './decline.js';
import { Kek } from './kek.js';
import { pointsFor } from './points.js';
import type {
  Approval, CardState, CardStatus, LedgerOptions, MerchantInfo, Outcome, PurchaseRequest, RefundRequest,
  ReversalRequest, SettlementTotals, TerminalInfo, TxnKey, UploadRequest, VoidRequest,
} from './types.js';

export * from './types.js';
export { responseCodeFor, type Decline } from './decline.js';
export { pointsFor, settlementFenPerPoint } from './points.js';
export { businessDateOf } from './card-rules.js';
export { Kek, devKekHex } from './kek.js';

const referenceTtlMs = 60_000;
/** Terminal numbers remembered as found, at most (more than any terminal estate; past it the set starts again). */
const knownTerminalsMax = 1_000_000;
/** Per-process memo of the terminal->merchant binding and merchant rate used by debits (never keys). */
const memoTtlMs = 1000;

class Memo<V> {
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

/**
 * Cards this process has seen approved, with the balance left: a purchase of at most that many points skips
 * the Redis pre-check (it would only find the card able to pay) and goes straight to Postgres. The entry only
 * ever skips a check, never decides: if the card was frozen or spent elsewhere meanwhile, Postgres declines it
 * (stored) and the entry is dropped, so a stale entry costs at most one stored decline per card and process,
 * however old it is. Hence the long life (10 minutes, against the card cache's 30 s): a card seen again within
 * it pays no Redis round trip, where the pre-check found the card cached in under one case in eight at the
 * bench's peak (the cache's card entries live 30 s). Bounded in size.
 */
const goodCardsTtlMs = 600_000;

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
      // In place when the card is known: a new entry per purchase in this long-lived map outlived the young
      // generation and was promoted, only to be garbage at the card's next purchase (old-generation garbage that
      // only a major collection frees; the sampling heap profiler counted it among what the hot path promotes).
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

/** A purchase as sent to SQL (one element of the batch arrays). */
interface DebitItem { key: TxnKey; merchantId: string; cardNo: string; amountFen: number; pvv: string | null }

/** What the SQL functions return: the stored response, plus the card's new version/balance for the cache. */
export type SqlOutcome = {
  ok: boolean; retry?: boolean; decline?: Decline; replayed?: boolean; rrn?: string; authCode?: string; points?: number; amountFen?: number;
  balancePoints?: number; reversed?: boolean; card?: { version: number; balance: number };
};

/** A row of ps_purchase_set (bigints as strings, as pg gives them). */
export type BatchRow = {
  answer: SqlOutcome | null; rrn: string | null; auth_code: string | null; points: string | null;
  card_version: string | null; card_balance: string | null;
};

/**
 * One debit's outcome from its row of ps_purchase_set. An approval comes as columns (answer NULL; migration
 * 1763801100000) and is made here into the answer Postgres stores for it (ps_answer, which a replay returns):
 * {ok, rrn, authCode, points, amountFen, balancePoints}; anything else comes as its answer. The card's new
 * version and balance come beside it, for the cache (migration 1763800700000).
 */
export function batchOutcome(r: BatchRow, amountFen: number): SqlOutcome {
  const out: SqlOutcome = r.answer ?? {
    ok: true, rrn: r.rrn as string, authCode: r.auth_code as string, points: Number(r.points), amountFen,
    balancePoints: Number(r.card_balance),
  };
  if (r.card_version !== null) out.card = { version: Number(r.card_version), balance: Number(r.card_balance) };
  return out;
}

export class Ledger {
  private readonly batcher: Batcher<DebitItem, SqlOutcome>;
  private readonly terminalMemo = new Memo<{ merchantId: string; status: string } | null>(memoTtlMs);
  private readonly merchantMemo = new Memo<MerchantInfo | null>(memoTtlMs);
  private readonly goodCards = new GoodCards(goodCardsTtlMs);
  /**
   * Reads of terminal numbers never found here that reach Postgres (Redis misses): at most `lookupsInFlightMax`
   * at once. A terminal's number is whatever the client wrote, so a flood of unknown numbers is a flood of such
   * reads; with no bound they took all of the pool's connections and the debit batches queued behind them (good
   * terminals' p99 about 500 ms under 2,000 refusals a second). The rest wait here, holding no connection. A
   * number once found (`knownTerminals`) reads without waiting, so a real terminal whose cache entry expired
   * does not queue behind a flood; merchant reads come after a terminal's MAC and are not bounded either.
   */
  private readonly lookups: LimitFunction;
  private readonly knownTerminals = new Set<string>();
  /** Purchase pre-checks: skipped (card just approved here), asked of Redis, declined from Redis. */
  readonly precheck = { skipped: 0, redis: 0, declined: 0 };
  private keyConflicts = 0;
  /** Batches sent straight to ps_purchase_set_keyed (a retransmission seen lately). */
  private keyedBatches = 0;
  /** Until then (performance.now() ms) batches check their keys first: see LedgerOptions.keyedAfterConflictMs. */
  private keyedUntil = 0;

  private constructor(
    readonly pool: Pool,
    private readonly keysPool: Pool,
    private readonly cache: Cache,
    private readonly kek: Kek,
    private readonly o: Required<Pick<LedgerOptions, 'batchDebitsMax' | 'batchWaitMs' | 'batchInflightMax' | 'writePath' | 'cardCacheTtlMs' | 'keyedAfterConflictMs' | 'lookupsInFlightMax'>>,
    private readonly log: Logger,
    onBatch?: LedgerOptions['onBatch'],
  ) {
    this.lookups = pLimit(o.lookupsInFlightMax);
    this.batcher = new Batcher<DebitItem, SqlOutcome>({
      batchDebitsMax: o.batchDebitsMax,
      batchWaitMs: o.batchWaitMs,
      inflightMax: o.batchInflightMax,
      run: (items) => this.debitBatch(items),
      runOne: (item) => this.debitOne(item),
      groupOf: (item) => item.cardNo,
      // The message and SQLSTATE only: a constraint error's detail can quote a row, card number included.
      onFallback: (err, size) => {
        const e = err as { message?: unknown; code?: unknown };
        this.log.warn({ err: String(e?.message ?? err), code: e?.code, size }, 'ledger: a debit batch failed; running its debits one at a time');
      },
      ...(onBatch ? { observe: onBatch } : {}),
    });
  }

  static async open(o: LedgerOptions): Promise<Ledger> {
    const log = o.log ?? silentLogger;
    const kek = o.kek ?? new Kek(o.kekHex ?? process.env.POINTSWITCH_KEK ?? null);
    if (kek.isDev) log.warn('ledger: POINTSWITCH_KEK is unset; using the development key-encryption key');
    const pool = createPool(o.databaseUrl, { poolSize: o.poolSize ?? 16, applicationName: 'pointswitch-ledger' });
    // Working-key writes (sign-on, sign-off, keys proven) commit without waiting for the WAL flush: a crash can
    // lose the last ones, and the terminal then signs on again (its MAC fails: A0); no money rides on them. So a
    // flood of sign-ons adds no flushes to the debits' commits (200 a second with a flush each took the good
    // terminals' p99 to about 1 s for seconds on this disk).
    const keysPool = createPool(o.databaseUrl, { poolSize: 2, applicationName: 'pointswitch-keys', serverOptions: '-c synchronous_commit=off' });
    // The one decline->code mapping, copied where SQL can read it, so stored rows carry the code the switch sends.
    const table = responseCodeTable();
    await pool.query(
      `INSERT INTO response_codes (kind, code) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (kind) DO UPDATE SET code = EXCLUDED.code WHERE response_codes.code <> EXCLUDED.code`,
      [table.map((r) => r.kind), table.map((r) => r.code)],
    );
    const cache = new Cache({ redisUrl: o.redisUrl ?? null, prefix: o.redisPrefix ?? '', commandTimeoutMs: o.redisCommandTimeoutMs ?? 50, log });
    if (cache.enabled && !(await cache.waitReady(1000))) log.warn('ledger: Redis is not answering; running on Postgres alone until it does');
    return new Ledger(pool, keysPool, cache, kek, {
      batchDebitsMax: o.batchDebitsMax ?? 64,
      batchWaitMs: o.batchWaitMs ?? 1,
      batchInflightMax: o.batchInflightMax ?? 4,
      writePath: o.writePath ?? 'batched',
      cardCacheTtlMs: o.cardCacheTtlMs ?? 30_000,
      keyedAfterConflictMs: o.keyedAfterConflictMs ?? 1000,
      lookupsInFlightMax: o.lookupsInFlightMax ?? 4,
    }, log, o.onBatch);
  }

  async close(): Promise<void> {
    await this.cache.close();
    await Promise.all([this.pool.end(), this.keysPool.end()]);
  }

  /** The cache client (tests and health checks). */
  get cacheAvailable(): boolean {
    return this.cache.available;
  }

  /** Whether this ledger was given a Redis at all (false: Postgres alone, by choice). */
  get cacheEnabled(): boolean {
    return this.cache.enabled;
  }

  /**
   * Batches sent, debits in them, batches re-run item by item, batches run again for a key conflict, and batches
   * sent straight to the keyed function because a retransmission was seen lately.
   */
  get batchStats(): { batches: number; items: number; fallbacks: number; keyConflicts: number; keyedBatches: number } {
    return { ...this.batcher.stats, keyConflicts: this.keyConflicts, keyedBatches: this.keyedBatches };
  }

  /** Reads of terminal numbers never found here waiting for their turn at Postgres (lookupsInFlightMax) now. */
  get lookupsWaiting(): number {
    return this.lookups.pendingCount;
  }

  /** Redis reads of card, terminal and merchant entries since start: found, or not (then Postgres). */
  get cacheReads(): { hits: number; misses: number } {
    return { hits: this.cache.reads.hits, misses: this.cache.reads.misses };
  }

  // ---------------------------------------------------------------- reference data

  async terminal(terminalId: string): Promise<TerminalInfo | null> {
    const key = cacheKeys.terminal(this.cache.prefix, terminalId);
    const h = await this.cache.getHash(key);
    if (h && h.m) return this.terminalFromFields(terminalId, h);
    const read = () => this.pool.query('SELECT * FROM terminals WHERE terminal_id = $1', [terminalId]);
    const { rows } = await (this.knownTerminals.has(terminalId) ? read() : this.lookups(read));
    const row = rows[0];
    if (!row) return null;
    if (this.knownTerminals.size >= knownTerminalsMax) this.knownTerminals.clear();
    this.knownTerminals.add(terminalId);
    const fields = terminalFields(row);
    await this.cache.setIfNewer(key, row.version, referenceTtlMs, fields);
    return this.terminalFromFields(terminalId, fields);
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

  /**
   * Sign-on: the terminal's working keys from now on, and its batch. `fresh` become its keys, unless keys issued by
   * an earlier sign-on are still unproven (no MAC has verified under them) and of the same length: those are
   * returned again instead. A sign-on carries no MAC, so the switch cannot tell the terminal's from anyone
   * else's; this way a foreign sign-on after the terminal's own gets the terminal's keys (which only the holder
   * of its master key can read) rather than replacing them, and one before it hands the terminal keys it can use.
   * The keys a MAC last verified under stay usable until one verifies under the new ones (migration
   * 1763801500000). Concurrent sign-ons: one writes, the others return what it wrote.
   */
  async signOn(terminalId: string, fresh: { pik: Buffer; mak: Buffer; tdk: Buffer }): Promise<{ batchNo: string; keys: { pik: Buffer; mak: Buffer; tdk: Buffer } }> {
    for (let attempt = 0; ; attempt++) {
      const { rows: found } = await this.keysPool.query('SELECT * FROM terminals WHERE terminal_id = $1', [terminalId]);
      const now = found[0];
      if (!now) throw new Error(`terminal ${terminalId} is not known`);
      if (now.signed_on && !now.keys_proven && now.pik_enc && now.mak_enc && now.tdk_enc) {
        const issued = { pik: this.kek.decrypt(now.pik_enc), mak: this.kek.decrypt(now.mak_enc), tdk: this.kek.decrypt(now.tdk_enc) };
        if (issued.mak.length === fresh.mak.length && issued.pik.length === fresh.pik.length) return { batchNo: now.batch_no, keys: issued };
      }
      const { rows } = await this.keysPool.query(
        `UPDATE terminals SET
                prev_pik_enc = CASE WHEN keys_proven AND mak_enc IS NOT NULL THEN pik_enc ELSE prev_pik_enc END,
                prev_mak_enc = CASE WHEN keys_proven AND mak_enc IS NOT NULL THEN mak_enc ELSE prev_mak_enc END,
                prev_tdk_enc = CASE WHEN keys_proven AND mak_enc IS NOT NULL THEN tdk_enc ELSE prev_tdk_enc END,
                pik_enc = $3, mak_enc = $4, tdk_enc = $5, keys_proven = false, signed_on = true, signed_on_at = now(),
                version = version + 1
         WHERE terminal_id = $1 AND version = $2 RETURNING *`,
        [terminalId, now.version, this.kek.encrypt(fresh.pik), this.kek.encrypt(fresh.mak), this.kek.encrypt(fresh.tdk)],
      );
      const row = rows[0];
      if (row) {
        await this.cacheTerminal(row);
        return { batchNo: row.batch_no, keys: fresh };
      }
      // Changed meanwhile (another sign-on, a settlement): read it again.
      if (attempt >= 5) throw new Error(`terminal ${terminalId} kept changing during its sign-on`);
    }
  }

  async signOff(terminalId: string): Promise<void> {
    const { rows } = await this.keysPool.query(
      `UPDATE terminals SET pik_enc = NULL, mak_enc = NULL, tdk_enc = NULL, prev_pik_enc = NULL, prev_mak_enc = NULL,
              prev_tdk_enc = NULL, keys_proven = true, signed_on = false, version = version + 1
       WHERE terminal_id = $1 RETURNING *`, [terminalId]);
    if (rows[0]) await this.cacheTerminal(rows[0]);
  }

  /**
   * A MAC verified under the terminal's current keys (`keysId`, as TerminalInfo gave it): they are proven, and the
   * keys kept from before its sign-on are dropped. A no-op if they are proven already or changed meanwhile (the
   * switch's TerminalCache.proven asks once a second at most).
   */
  async keysProven(terminalId: string, keysId: string): Promise<void> {
    const { rows } = await this.keysPool.query(
      `UPDATE terminals SET keys_proven = true, prev_pik_enc = NULL, prev_mak_enc = NULL, prev_tdk_enc = NULL,
              version = version + 1
       WHERE terminal_id = $1 AND NOT keys_proven AND mak_enc = decode($2, 'hex') RETURNING *`, [terminalId, keysId]);
    if (rows[0]) await this.cacheTerminal(rows[0]);
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

  // ---------------------------------------------------------------- cards

  /** Card state, from the cache when present, else Postgres (and then cached). */
  async card(cardNo: string): Promise<CardState | null> {
    const key = cacheKeys.card(this.cache.prefix, cardNo);
    const h = await this.cache.getHash(key);
    if (h && h.s !== undefined && h.b !== undefined) return cardFromFields(cardNo, h);
    return this.cardFromDb(cardNo);
  }

  /** Freezes, unfreezes, marks lost…: Postgres first, then the cache with the new version. */
  async setCardStatus(cardNo: string, status: CardStatus): Promise<boolean> {
    const { rows } = await this.pool.query(
      'UPDATE cards SET status = $2, version = version + 1 WHERE card_no = $1 RETURNING *', [cardNo, status]);
    if (!rows[0]) return false;
    this.goodCards.forget(cardNo);
    await this.cacheCard(cardRowToState(rows[0]));
    return true;
  }

  // ---------------------------------------------------------------- money

  async balance(r: { cardNo: string; terminalId: string; pin?: string | null }): Promise<Outcome<{ balancePoints: number }>> {
    try {
      const t = await this.terminalBinding(r.terminalId);
      if (!t || t.status !== 'active') return decline({ kind: 'terminal-not-permitted' });
      const card = await this.card(r.cardNo);
      const d = cardDecline(card, businessDateOf(), this.pvv(r.cardNo, r.pin));
      if (d || !card) return decline(d ?? { kind: 'unknown-card' });
      return { ok: true, balancePoints: card.balancePoints };
    } catch (err) {
      return this.systemError('balance', err);
    }
  }

  async purchase(r: PurchaseRequest): Promise<Outcome<Approval>> {
    try {
      if (!Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) return decline({ kind: 'invalid-amount' });
      const c = this.checkTerminal(r.key.terminalId, r.merchantId);
      const refused = c instanceof Promise ? await c : c;
      if (refused) return decline(refused);
      const m = this.merchantMemo.get(r.merchantId, () => this.merchant(r.merchantId));
      const merchant = m instanceof Promise ? await m : m;
      if (!merchant || merchant.status !== 'active') return decline({ kind: 'invalid-merchant' });
      const points = pointsFor(r.amountFen, merchant.pointsPerYuan);
      const pvv = this.pvv(r.cardNo, r.pin);
      // A purchase that obviously cannot succeed is declined without a Postgres write. Only a read of the key
      // first: a retry of an approved purchase must get its stored approval, not a decline from a newer balance.
      let hopeless: Decline | null = null;
      if (this.goodCards.covers(r.cardNo, points, Date.now())) this.precheck.skipped++;
      else hopeless = await this.hopeless(r.cardNo, r.key.businessDate, points);
      if (hopeless) {
        this.precheck.declined++;
        const stored = await this.storedAnswer(r.key, 'purchase', r.cardNo, r.amountFen, r.merchantId);
        return toApproval(stored ?? { ok: false, decline: hopeless });
      }
      const item: DebitItem = { key: r.key, merchantId: r.merchantId, cardNo: r.cardNo, amountFen: r.amountFen, pvv };
      let out = this.o.writePath === 'batched' ? await this.batcher.submit(item) : await this.debitOne(item);
      // Its key was taken by another transaction while the batch ran: alone, it replays that one's answer.
      if (out.retry) out = await this.debitOne(item);
      this.goodCards.saw(r.cardNo, out, Date.now());
      return toApproval(out);
    } catch (err) {
      return this.systemError('purchase', err);
    }
  }

  async void(r: VoidRequest): Promise<Outcome<Approval>> {
    try {
      const refused = await this.checkTerminal(r.key.terminalId, r.merchantId);
      if (refused) return decline(refused);
      const k = r.key;
      const out = await this.callOne<SqlOutcome>('SELECT ps_void($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS r',
        [k.terminalId, k.batchNo, k.trace, k.businessDate, r.merchantId, r.cardNo, r.amountFen,
          r.original.batchNo, r.original.trace, r.original.rrn ?? null], r.cardNo);
      return toApproval(out);
    } catch (err) {
      return this.systemError('void', err);
    }
  }

  async refund(r: RefundRequest): Promise<Outcome<Approval>> {
    try {
      if (!Number.isSafeInteger(r.amountFen) || r.amountFen <= 0) return decline({ kind: 'invalid-amount' });
      const refused = await this.checkTerminal(r.key.terminalId, r.merchantId);
      if (refused) return decline(refused);
      const k = r.key;
      const out = await this.callOne<SqlOutcome>('SELECT ps_refund($1, $2, $3, $4, $5, $6, $7, $8, $9) AS r',
        [k.terminalId, k.batchNo, k.trace, k.businessDate, r.merchantId, r.cardNo, r.amountFen,
          r.original.rrn, r.original.date ?? null], r.cardNo);
      return toApproval(out);
    } catch (err) {
      return this.systemError('refund', err);
    }
  }

  /** Undoes a purchase, void or refund by the original's key, exactly once, before or after it arrives. */
  async reverse(r: ReversalRequest): Promise<Outcome<{ reversed: boolean }>> {
    try {
      const k = r.original;
      const out = await this.callOne<SqlOutcome>('SELECT ps_reverse($1, $2, $3, $4, $5, $6, $7) AS r',
        [k.terminalId, k.batchNo, k.trace, k.businessDate, r.kind, r.cardNo, r.amountFen], r.cardNo);
      if (!out.ok) return decline(out.decline ?? { kind: 'system-error', detail: 'reversal' });
      return { ok: true, reversed: out.reversed === true };
    } catch (err) {
      return this.systemError('reverse', err);
    }
  }

  async credit(r: { cardNo: string; points: number; idempotencyKey: string; reason?: string }): Promise<Outcome<{ balancePoints: number; replayed: boolean }>> {
    try {
      if (!Number.isSafeInteger(r.points) || r.points <= 0) return decline({ kind: 'invalid-amount' });
      const out = await this.callOne<SqlOutcome>('SELECT ps_credit($1, $2, $3, $4) AS r',
        [r.idempotencyKey, r.cardNo, r.points, r.reason ?? null], r.cardNo);
      if (!out.ok) return decline(out.decline ?? { kind: 'system-error', detail: 'credit' });
      return { ok: true, balancePoints: out.balancePoints ?? 0, replayed: out.replayed === true };
    } catch (err) {
      return this.systemError('credit', err);
    }
  }

  /** Settlement: the switch's totals of a terminal batch beside the terminal's; the batch is closed and the next opened. */
  async settle(r: { terminalId: string; batchNo: string; terminal: SettlementTotals }): Promise<{ balanced: boolean; switchTotals: SettlementTotals; nextBatchNo: string }> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const t = await c.query('SELECT batch_no FROM terminals WHERE terminal_id = $1 FOR UPDATE', [r.terminalId]);
      if (!t.rows[0]) throw new Error(`terminal ${r.terminalId} is not known`);
      const { rows } = await c.query(
        `SELECT coalesce(sum(amount_fen) FILTER (WHERE kind = 'purchase'), 0)::bigint AS debit_fen,
                count(*) FILTER (WHERE kind = 'purchase')::int AS debit_count,
                coalesce(sum(amount_fen) FILTER (WHERE kind = 'refund'), 0)::bigint AS credit_fen,
                count(*) FILTER (WHERE kind = 'refund')::int AS credit_count
         FROM authorisations
         WHERE terminal_id = $1 AND batch_no = $2 AND settlement_id IS NULL
           AND ((kind = 'purchase' AND state IN ('approved', 'partially_refunded', 'refunded'))
             OR (kind = 'refund' AND state = 'approved'))`, [r.terminalId, r.batchNo]);
      const row = rows[0];
      const switchTotals: SettlementTotals = {
        debitFen: row.debit_fen, debitCount: row.debit_count, creditFen: row.credit_fen, creditCount: row.credit_count,
      };
      const balanced = switchTotals.debitFen === r.terminal.debitFen && switchTotals.debitCount === r.terminal.debitCount
        && switchTotals.creditFen === r.terminal.creditFen && switchTotals.creditCount === r.terminal.creditCount;
      const s = await c.query(
        `INSERT INTO settlements (terminal_id, batch_no, debit_fen, debit_count, credit_fen, credit_count, terminal_totals, balanced)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING settlement_id`,
        [r.terminalId, r.batchNo, switchTotals.debitFen, switchTotals.debitCount, switchTotals.creditFen,
          switchTotals.creditCount, JSON.stringify(r.terminal), balanced]);
      await c.query(
        'UPDATE authorisations SET settlement_id = $3 WHERE terminal_id = $1 AND batch_no = $2 AND settlement_id IS NULL',
        [r.terminalId, r.batchNo, s.rows[0].settlement_id]);
      const nextBatchNo = nextBatch(r.batchNo);
      const u = await c.query(
        `UPDATE terminals SET batch_no = $2, version = version + 1 WHERE terminal_id = $1 AND batch_no = $3 RETURNING *`,
        [r.terminalId, nextBatchNo, r.batchNo]);
      await c.query('COMMIT');
      if (u.rows[0]) await this.cacheTerminal(u.rows[0]);
      return { balanced, switchTotals, nextBatchNo };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  /** Batch upload (offline / end-of-batch detail): recorded once per key. */
  async upload(r: UploadRequest): Promise<Outcome<{}>> {
    try {
      const k = r.key;
      await this.pool.query(
        `INSERT INTO batch_uploads (terminal_id, batch_no, trace, business_date, card_no, amount_fen, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [k.terminalId, k.batchNo, k.trace, k.businessDate, r.cardNo, r.amountFen,
          JSON.stringify({ kind: r.kind ?? null, rrn: r.rrn ?? null, authCode: r.authCode ?? null, ...r.detail })]);
      return { ok: true };
    } catch (err) {
      return this.systemError('upload', err);
    }
  }

  // ---------------------------------------------------------------- internals

  private pvv(cardNo: string, pin: string | null | undefined): string | null {
    return pin ? this.kek.pinVerification(cardNo, pin) : null;
  }

  /** The terminal's merchant and status, from the per-process memo (no keys are decrypted for it). */
  private terminalBinding(terminalId: string): { merchantId: string; status: string } | null | Promise<{ merchantId: string; status: string } | null> {
    return this.terminalMemo.get(terminalId, async () => {
      const info = await this.terminal(terminalId);
      return info ? { merchantId: info.merchantId, status: info.status } : null;
    });
  }

  /** Why this terminal may not debit for this merchant, or null; without a promise when the memo is fresh. */
  private checkTerminal(terminalId: string, merchantId: string): Decline | null | Promise<Decline | null> {
    const judge = (t: { merchantId: string; status: string } | null): Decline | null =>
      !t || t.status !== 'active' ? { kind: 'terminal-not-permitted' } : t.merchantId !== merchantId ? { kind: 'invalid-merchant' } : null;
    const b = this.terminalBinding(terminalId);
    return b instanceof Promise ? b.then(judge) : judge(b);
  }

  /** From the cache only: the reason a debit of `points` cannot succeed, or null (unknown: let Postgres decide). */
  private async hopeless(cardNo: string, businessDate: string, points: number): Promise<Decline | null> {
    if (!this.cache.available) return null;
    this.precheck.redis++;
    const h = await this.cache.getHash(cacheKeys.card(this.cache.prefix, cardNo));
    if (!h || h.s === undefined || h.b === undefined) return null;
    const card = cardFromFields(cardNo, h);
    // PIN is left to Postgres (a wrong PIN is stored, so its retry answers the same).
    const d = cardDecline({ ...card, pinVerification: null }, businessDate, null);
    if (d) return d;
    if (card.balancePoints < points) return { kind: 'insufficient-points', balancePoints: card.balancePoints };
    return null;
  }

  /** The stored answer under a key, if any (read only). */
  private async storedAnswer(key: TxnKey, kind: string, cardNo: string, amountFen: number, merchantId: string | null): Promise<SqlOutcome | null> {
    const { rows } = await this.pool.query(
      `SELECT ps_replay(a, $5, $6, $7, $8) AS r FROM authorisations a
       WHERE terminal_id = $1 AND batch_no = $2 AND trace = $3 AND business_date = $4`,
      [key.terminalId, key.batchNo, key.trace, key.businessDate, kind, cardNo, amountFen, merchantId]);
    return rows[0] ? rows[0].r as SqlOutcome : null;
  }

  /**
   * One batch (distinct cards: see the batcher's groupOf) as one set-based statement. An item whose key was
   * stored before the statement began gets its stored answer (a replay); one whose key a concurrent transaction
   * claimed meanwhile comes back {retry: true}, and purchase() then runs it alone, so a failure there is that
   * caller's, never a re-run of a batch that committed.
   */
  private async debitBatch(items: DebitItem[]): Promise<SqlOutcome[]> {
    if (items.length === 1) return [await this.debitOne(items[0] as DebitItem)];
    const values = [items.map((i) => i.key.terminalId), items.map((i) => i.key.batchNo), items.map((i) => i.key.trace),
      items.map((i) => i.key.businessDate), items.map((i) => i.merchantId), items.map((i) => i.cardNo),
      items.map((i) => i.amountFen), items.map((i) => i.pvv)];
    let rows: BatchRow[];
    let keyed = performance.now() < this.keyedUntil;
    if (keyed) {
      // Retransmissions came lately (a terminal retrying after lost answers, or one replaying old traces): one
      // that meets the plain insert fails a whole statement of other terminals' debits, and under a stream of
      // them every batch would run twice. Check the keys first while they keep coming.
      this.keyedBatches++;
      rows = await this.batchCall('ps_purchase_set_keyed', values);
    } else {
      try {
        rows = await this.batchCall('ps_purchase_set', values);
      } catch (err) {
        // A key that exists already (a retransmission, an original after its reversal) or that a concurrent
        // transaction took: the plain insert failed the whole statement and kept nothing (migration 1763801200000).
        // The same batch again, through the function that checks each key first: a stored key is answered with
        // its stored answer (migration 1763801400000), a key claimed meanwhile comes back retry.
        if (!isKeyConflict(err)) throw err;
        this.keyConflicts++;
        keyed = true;
        rows = await this.batchCall('ps_purchase_set_keyed', values);
      }
    }
    if (rows.length !== items.length) throw new Error(`ps_purchase_set returned ${rows.length} rows for ${items.length} debits`);
    const outs = rows.map((r, n) => batchOutcome(r, (items[n] as DebitItem).amountFen));
    // A retransmission met here (replayed, or claimed meanwhile and so retried alone) keeps the window open.
    if (keyed && this.o.keyedAfterConflictMs > 0 && outs.some(metExistingKey)) this.keyedUntil = performance.now() + this.o.keyedAfterConflictMs;
    // Not awaited: the write is on the socket before this returns (so this process never reads an older
    // balance after it), versioned (a late write never replaces a newer one), and never rejects.
    void this.cacheBalances(items.map((i, n) => ({ cardNo: i.cardNo, out: outs[n] })));
    return outs;   // the batcher checks there is one per item
  }

  /** One call of a batch debit function (named: each connection parses and plans it once, not once per batch). */
  private async batchCall(fn: 'ps_purchase_set' | 'ps_purchase_set_keyed', values: unknown[][]): Promise<BatchRow[]> {
    const { rows } = await this.pool.query<BatchRow>({
      name: fn,
      text: `SELECT answer, rrn, auth_code, points, card_version, card_balance FROM ${fn}($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::text[], $7::bigint[], $8::text[])`,
      values,
    });
    return rows;
  }

  /** The plain path: one debit, one transaction (also the fallback when a batch fails). */
  private async debitOne(i: DebitItem): Promise<SqlOutcome> {
    return this.callOne<SqlOutcome>('SELECT ps_purchase($1, $2, $3, $4, $5, $6, $7, $8) AS r',
      [i.key.terminalId, i.key.batchNo, i.key.trace, i.key.businessDate, i.merchantId, i.cardNo, i.amountFen, i.pvv], i.cardNo);
  }

  private async callOne<T extends SqlOutcome>(sql: string, params: unknown[], cardNo: string): Promise<T> {
    const { rows } = await this.pool.query(sql, params);
    const out = rows[0].r as T;
    await this.cacheBalances([{ cardNo, out }]);
    return out;
  }

  /** After commit: each touched card's new balance, newest version per card, one round trip. */
  private async cacheBalances(results: Array<{ cardNo: string; out: SqlOutcome | undefined }>): Promise<void> {
    if (!this.cache.enabled) return;
    const newest = new Map<string, { version: number; balance: number }>();
    for (const { cardNo, out } of results) {
      const c = out?.card;
      if (!c) continue;
      const seen = newest.get(cardNo);
      if (!seen || seen.version < c.version) newest.set(cardNo, c);
    }
    await this.cache.setManyIfNewer([...newest].map(([cardNo, c]) => ({
      key: cacheKeys.card(this.cache.prefix, cardNo), version: c.version, ttlMs: this.o.cardCacheTtlMs,
      fields: { b: String(c.balance) }, mode: 'partial' as const,
    })));
  }

  private async cardFromDb(cardNo: string): Promise<CardState | null> {
    const { rows } = await this.pool.query('SELECT * FROM cards WHERE card_no = $1', [cardNo]);
    if (!rows[0]) return null;
    const card = cardRowToState(rows[0]);
    await this.cacheCard(card);
    return card;
  }

  private async cacheCard(card: CardState): Promise<void> {
    await this.cache.setIfNewer(cacheKeys.card(this.cache.prefix, card.cardNo), card.version, this.o.cardCacheTtlMs, {
      s: card.status, e: card.expiry, n: card.enrolled ? '1' : '0', p: card.pinVerification ?? '', b: String(card.balancePoints),
    });
  }

  private async cacheTerminal(row: Record<string, unknown>): Promise<void> {
    this.terminalMemo.forget(String(row.terminal_id));
    await this.cache.setIfNewer(cacheKeys.terminal(this.cache.prefix, String(row.terminal_id)), Number(row.version),
      referenceTtlMs, terminalFields(row));
  }

  private terminalFromFields(terminalId: string, h: Record<string, string>): TerminalInfo {
    const dec = (hex: string | undefined) => (hex ? this.kek.decrypt(Buffer.from(hex, 'hex')) : null);
    const pik = dec(h.pik), mak = dec(h.mak), tdk = dec(h.tdk);
    const ppik = dec(h.ppik), pmak = dec(h.pmak), ptdk = dec(h.ptdk);
    return {
      terminalId,
      merchantId: h.m ?? '',
      status: (h.s ?? 'closed') as TerminalInfo['status'],
      tmk: dec(h.k) ?? Buffer.alloc(0),
      macAlgorithm: (h.a ?? 'ecb') as TerminalInfo['macAlgorithm'],
      signedOn: h.o === '1',
      batchNo: h.b ?? '000001',
      keys: pik && mak && tdk ? { pik, mak, tdk } : null,
      keysId: h.mak || null,
      keysProven: h.p !== '0',
      provenKeys: ppik && pmak && ptdk ? { pik: ppik, mak: pmak, tdk: ptdk } : null,
    };
  }

  private systemError(op: string, err: unknown): { ok: false; decline: Decline } {
    const detail = err instanceof Error ? err.message : String(err);
    this.log.error({ op, err: detail }, 'ledger: system error');
    return decline({ kind: 'system-error', detail });
  }
}

function decline(d: Decline): { ok: false; decline: Decline } {
  return { ok: false, decline: d };
}

function toApproval(out: SqlOutcome): Outcome<Approval> {
  if (!out.ok) return decline(out.decline ?? { kind: 'system-error', detail: 'no decline reason' });
  return {
    ok: true, rrn: out.rrn ?? '', authCode: out.authCode ?? '', points: out.points ?? 0, amountFen: out.amountFen ?? 0,
    balancePoints: out.balancePoints ?? 0, replayed: out.replayed === true,
  };
}

/** Batch numbers run 000001…999999 and wrap to 000001. */
export function nextBatch(batchNo: string): string {
  const n = Number(batchNo);
  return String(n >= 999999 ? 1 : n + 1).padStart(6, '0');
}

function terminalFields(row: Record<string, unknown>): Record<string, string> {
  const hex = (b: unknown) => (b instanceof Buffer ? b.toString('hex') : '');
  return {
    m: String(row.merchant_id), s: String(row.status), k: hex(row.tmk_enc), a: String(row.mac_algorithm),
    o: row.signed_on ? '1' : '0', b: String(row.batch_no), pik: hex(row.pik_enc), mak: hex(row.mak_enc), tdk: hex(row.tdk_enc),
    p: row.keys_proven === false ? '0' : '1', ppik: hex(row.prev_pik_enc), pmak: hex(row.prev_mak_enc), ptdk: hex(row.prev_tdk_enc),
  };
}

function merchantFromFields(merchantId: string, h: Record<string, string>): MerchantInfo {
  return { merchantId, name: h.n ?? '', status: (h.s ?? 'closed') as MerchantInfo['status'], pointsPerYuan: Number(h.r), feeRateBp: Number(h.f) };
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

/** The keyed batch debit met a key that was there: replayed, a key reused for another debit, or claimed meanwhile. */
function metExistingKey(o: SqlOutcome): boolean {
  return o.retry === true || o.replayed === true || (o.decline !== undefined && (o.decline.kind === 'duplicate' || o.decline.kind === 'reversed-before-arrival'));
}

/** A unique violation of the idempotency key (authorisations_key): the batch's plain insert met an existing key. */
function isKeyConflict(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e !== null && typeof e === 'object' && e.code === '23505' && e.constraint === 'authorisations_key';
}
