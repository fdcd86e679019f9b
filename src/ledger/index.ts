// The points ledger: Postgres is the record (its SQL functions, one a file in src/ledger/sql/, decide every
// movement), Redis a cache in front of reads and of debits that cannot succeed. Business outcomes are values
// (Outcome), never exceptions. This file only wires the modules that each own one concern and keeps the
// public API in one place:
//   reference.ts      terminals and merchants read through (cache, then Postgres), the debit memo
//   terminal-keys.ts  terminal working-key custody: sign-on, sign-off, keys proven, the KEK on cached keys
//   card-cache.ts     card state read through, written back after commit, the Redis pre-check
//   money.ts          balance, purchase, void, refund, reverse, credit: judged and answered as values
//   debits.ts         their SQL: purchases batched (batcher.ts), the single calls
//   batch-close.ts    the terminal's batch close and upload
import { Cache } from '../cache/redis.js';
import { defaultConfig } from '../config/index.js';
import { createPool, type Pool } from '../db/pool.js';
import { silentLogger, type Logger } from '../log.js';
import { AccrualBook } from './accruals.js';
import { BatchClose } from './batch-close.js';
import { CardCache } from './card-cache.js';
import { responseCodeTable } from './decline.js';
import { Debits } from './debits.js';
import { Kek, kekFromConfig } from './kek.js';
import { Money } from './money.js';
import { Reference } from './reference.js';
import { terminalCodec, TerminalKeys, type WorkingKeys } from './terminal-keys.js';
import type {
  Approval, CardState, CardStatus, CreditRequest, LedgerOptions, MerchantInfo, Outcome, PurchaseRequest, RefundRequest,
  ReversalRequest, BatchTotals, TerminalInfo, UploadRequest, VoidRequest,
} from './types.js';

export * from './types.js';
export { responseCodeFor, type Decline } from './decline.js';
export { pointsFor, pointValueFen } from './points.js';
export { businessDateOf } from './card-rules.js';
export { Kek, devKekHex } from './kek.js';
export type { SqlOutcome } from './outcomes.js';
export { batchOutcome, type BatchRow } from './debits.js';
export { nextBatch } from './batch-close.js';

/**
 * Ledger settings the config schema does not have (the switch never needed to set them; tests and the bench
 * do, through LedgerOptions): their one home. Every other default is the schema's (src/config).
 */
export const ledgerOnlyDefaults = {
  /** How long a cached card entry lives (ms); entries are rewritten after every commit that changes the card. */
  cardCacheTtlMs: 30_000,
  /** Reads of never-found terminal numbers at Postgres at once (keep below poolSize - batchInflightMax). */
  lookupsInFlightMax: 4,
  /** A Redis command slower than this counts as failed (ms): Postgres answers instead. */
  redisCommandTimeoutMs: 50,
  writePath: 'batched' as const,
};

/** How long open() waits for Redis before running on Postgres alone until it answers (ms). */
const redisReadyWaitMs = 1000;
/** Connections of the working-key pool: sign-ons are rare next to debits, and must not take the debits' pool. */
const keysPoolSize = 2;

export type LedgerSettings = ReturnType<typeof ledgerSettings>;

/** The options given, else the config schema's defaults, else ledgerOnlyDefaults. */
export function ledgerSettings(o: Omit<LedgerOptions, 'databaseUrl'>) {
  const d = defaultConfig();
  return {
    batchDebitsMax: o.batchDebitsMax ?? d.batchDebitsMax,
    batchWaitMs: o.batchWaitMs ?? d.batchWaitMs,
    batchInflightMax: o.batchInflightMax ?? d.batchInflightMax,
    keyedAfterConflictMs: o.keyedAfterConflictMs ?? d.keyedAfterConflictMs,
    poolSize: o.poolSize ?? d.poolSize,
    writePath: o.writePath ?? ledgerOnlyDefaults.writePath,
    cardCacheTtlMs: o.cardCacheTtlMs ?? ledgerOnlyDefaults.cardCacheTtlMs,
    lookupsInFlightMax: o.lookupsInFlightMax ?? ledgerOnlyDefaults.lookupsInFlightMax,
    redisCommandTimeoutMs: o.redisCommandTimeoutMs ?? ledgerOnlyDefaults.redisCommandTimeoutMs,
  };
}

export class Ledger {
  private readonly reference: Reference;
  private readonly keys: TerminalKeys;
  private readonly cards: CardCache;
  private readonly debits: Debits;
  private readonly money: Money;
  private readonly batchClose: BatchClose;
  /** The accrual feed's book: lines credited a chunk at a time, each card's new balance written to the cache. */
  readonly accruals: AccrualBook;

  private constructor(
    readonly pool: Pool,
    private readonly keysPool: Pool,
    private readonly cache: Cache,
    private readonly kek: Kek,
    s: LedgerSettings,
    log: Logger,
    onBatch: LedgerOptions['onBatch'],
  ) {
    this.reference = new Reference(pool, cache, terminalCodec(kek), s.lookupsInFlightMax);
    this.keys = new TerminalKeys(keysPool, kek, this.reference);
    this.cards = new CardCache(pool, cache, s.cardCacheTtlMs);
    this.debits = new Debits(pool, this.cards, { ...s, log, onBatch });
    this.money = new Money(this.reference, this.cards, this.debits, kek, log);
    this.batchClose = new BatchClose(pool, this.reference, log);
    this.accruals = new AccrualBook(pool, (cards) =>
      this.cards.written(cards.map((c) => ({ cardNo: c.cardNo, out: { ok: true, card: { version: c.version, balance: c.balance } } }))));
  }

  static async open(o: LedgerOptions): Promise<Ledger> {
    const s = ledgerSettings(o);
    const log = o.log ?? silentLogger;
    // A KEK handed over was built (and warned about) by its maker: kekFromConfig.
    const kek = o.kek ?? kekFromConfig({ kekHex: o.kekHex }, (w) => log.warn(w));
    const pool = createPool(o.databaseUrl, { poolSize: s.poolSize, applicationName: 'pointswitch-ledger' });
    // Working-key writes (sign-on, sign-off, keys proven) commit without waiting for the WAL flush: a crash can
    // lose the last ones, and the terminal then signs on again (its MAC fails: A0); no money rides on them. So a
    // flood of sign-ons adds no flushes to the debits' commits, which would otherwise wait behind them.
    const keysPool = createPool(o.databaseUrl, { poolSize: keysPoolSize, applicationName: 'pointswitch-keys', serverOptions: '-c synchronous_commit=off' });
    await publishResponseCodes(pool);
    const cache = new Cache({ redisUrl: o.redisUrl ?? null, prefix: o.redisPrefix ?? '', commandTimeoutMs: s.redisCommandTimeoutMs, log });
    if (cache.enabled && !(await cache.waitReady(redisReadyWaitMs))) log.warn('ledger: Redis is not answering; running on Postgres alone until it does');
    return new Ledger(pool, keysPool, cache, kek, s, log, o.onBatch);
  }

  async close(): Promise<void> {
    await this.cache.close();
    await Promise.all([this.pool.end(), this.keysPool.end()]);
  }

  // ---------------------------------------------------------------- stats (tests, health, metrics)

  /** Whether Redis answers now. */
  get cacheAvailable(): boolean { return this.cache.available; }

  /** Whether this ledger was given a Redis at all (false: Postgres alone, by choice). */
  get cacheEnabled(): boolean { return this.cache.enabled; }

  /** Redis reads of card, terminal and merchant entries since start: found, or not (then Postgres). */
  get cacheReads(): { hits: number; misses: number } {
    return { hits: this.cache.reads.hits, misses: this.cache.reads.misses };
  }

  /** Purchase pre-checks: skipped (card just approved here), asked of Redis, declined from Redis. */
  get precheck(): { skipped: number; redis: number; declined: number } { return this.cards.precheck; }

  /**
   * Batches sent, debits in them, batches re-run item by item, batches run again for a key conflict, and batches
   * sent straight to the keyed function because a retransmission was seen lately.
   */
  get batchStats(): { batches: number; items: number; fallbacks: number; keyConflicts: number; keyedBatches: number } {
    return this.debits.stats;
  }

  /** Reads of terminal numbers never found here waiting for their turn at Postgres (lookupsInFlightMax) now. */
  get lookupsWaiting(): number { return this.reference.lookupsWaiting; }

  // ---------------------------------------------------------------- reference data and terminal keys

  terminal(terminalId: string): Promise<TerminalInfo | null> { return this.reference.terminal(terminalId); }
  merchant(merchantId: string): Promise<MerchantInfo | null> { return this.reference.merchant(merchantId); }
  /** After a terminal row changed outside the ledger (admin API): drop its cached copies. */
  forgetTerminal(terminalId: string): Promise<void> { return this.reference.forgetTerminal(terminalId); }
  /** After a merchant row changed outside the ledger (admin API): drop its cached copies. */
  forgetMerchant(merchantId: string): Promise<void> { return this.reference.forgetMerchant(merchantId); }

  /** Sign-on: the terminal's working keys from now on, and its batch (see TerminalKeys.signOn). */
  signOn(terminalId: string, fresh: WorkingKeys): Promise<{ batchNo: string; keys: WorkingKeys }> { return this.keys.signOn(terminalId, fresh); }
  signOff(terminalId: string): Promise<void> { return this.keys.signOff(terminalId); }
  /** A MAC verified under the terminal's current keys (`keysId`, from TerminalInfo): they are proven. */
  keysProven(terminalId: string, keysId: string): Promise<void> { return this.keys.keysProven(terminalId, keysId); }

  // ---------------------------------------------------------------- cards and money

  /** Card state, from the cache when present, else Postgres (and then cached). */
  card(cardNo: string): Promise<CardState | null> { return this.cards.card(cardNo); }
  /** Freezes, unfreezes, marks lost…: Postgres first, then the cache with the new version. */
  setCardStatus(cardNo: string, status: CardStatus): Promise<boolean> { return this.cards.setStatus(cardNo, status); }
  /** Sets the card's PIN (kept as its verification value, never the PIN), or removes it with null. */
  setCardPin(cardNo: string, pin: string | null): Promise<boolean> {
    return this.cards.setPinVerification(cardNo, pin === null ? null : this.kek.pinVerification(cardNo, pin));
  }

  balance(r: { cardNo: string; terminalId: string; pin?: string | null }): Promise<Outcome<{ balancePoints: number }>> { return this.money.balance(r); }
  purchase(r: PurchaseRequest): Promise<Outcome<Approval>> { return this.money.purchase(r); }
  void(r: VoidRequest): Promise<Outcome<Approval>> { return this.money.void(r); }
  refund(r: RefundRequest): Promise<Outcome<Approval>> { return this.money.refund(r); }
  /** Undoes a purchase, void or refund by the original's key, exactly once, before or after it arrives. */
  reverse(r: ReversalRequest): Promise<Outcome<{ reversed: boolean }>> { return this.money.reverse(r); }
  credit(r: CreditRequest): Promise<Outcome<{ balancePoints: number; replayed: boolean }>> { return this.money.credit(r); }

  // ---------------------------------------------------------------- the terminal's batch

  /** Batch close (0500): the switch's totals of a terminal batch beside the terminal's; the batch is closed and the next opened. */
  closeBatch(r: { terminalId: string; batchNo: string; terminal: BatchTotals }): Promise<{ balanced: boolean; switchTotals: BatchTotals; nextBatchNo: string }> {
    return this.batchClose.close(r);
  }
  /** Batch upload (offline / end-of-batch detail): recorded once per key. */
  upload(r: UploadRequest): Promise<Outcome<{}>> { return this.batchClose.upload(r); }
}

/** The one decline->code mapping, copied where SQL can read it, so stored rows carry the code the switch sends. */
async function publishResponseCodes(pool: Pool): Promise<void> {
  const table = responseCodeTable();
  await pool.query(
    `INSERT INTO response_codes (kind, code) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (kind) DO UPDATE SET code = EXCLUDED.code WHERE response_codes.code <> EXCLUDED.code`,
    [table.map((r) => r.kind), table.map((r) => r.code)],
  );
}
