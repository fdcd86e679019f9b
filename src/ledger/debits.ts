// Every movement of points as SQL. Purchases go through the batcher: concurrent debits of distinct cards share
// one set-based statement and one commit; a batch that meets an existing key runs again through the function
// that checks each key first, and batches keep doing so while retransmissions keep coming. Void, refund,
// reverse and credit are one call each. After every commit the touched cards' balances go to the card cache.
import type { Pool } from '../db/pool.js';
import type { Logger } from '../log.js';
import { Batcher, type BatchObservation } from './batcher.js';
import type { CardCache } from './card-cache.js';
import { asDecline, type Decline, type UnknownKindLog } from './decline.js';
import type { SqlOutcome } from './outcomes.js';
import type { CreditRequest, RefundRequest, ReversalRequest, TxnKey, VoidRequest } from './types.js';

/** A purchase as sent to SQL (one element of the batch arrays). */
export interface DebitItem { key: TxnKey; merchantId: string; cardNo: string; amountFen: number; pvv: string | null }

/** A row of ps_purchase_set (bigints as strings, as pg gives them). */
export type BatchRow = {
  answer: SqlOutcome | null; rrn: string | null; auth_code: string | null; points: string | null;
  card_version: string | null; card_balance: string | null;
};

export interface DebitsOptions {
  batchDebitsMax: number;
  batchWaitMs: number;
  batchInflightMax: number;
  /** 'batched': debits share commits through the batcher. 'plain': one transaction per debit (the baseline). */
  writePath: 'batched' | 'plain';
  /** After a batch met an existing key, how long batches check their keys first (ms; 0: never). */
  keyedAfterConflictMs: number;
  log: Logger;
  onBatch?: ((b: BatchObservation) => void) | undefined;
}

type BatchFunction = 'ps_purchase_set' | 'ps_purchase_set_keyed';
/** A batch's rows, and whether they came from the keyed function (which says when a key was met). */
type KeyedRows = { rows: BatchRow[]; keyed: boolean };

export class Debits {
  private readonly batcher: Batcher<DebitItem, SqlOutcome>;
  private keyConflicts = 0;
  /** Batches sent straight to ps_purchase_set_keyed (a retransmission seen lately). */
  private keyedBatches = 0;
  /** Until then (performance.now() ms) batches check their keys first. */
  private keyedUntil = 0;

  constructor(private readonly pool: Pool, private readonly cards: Pick<CardCache, 'written'>, private readonly o: DebitsOptions) {
    this.batcher = new Batcher<DebitItem, SqlOutcome>({
      batchDebitsMax: o.batchDebitsMax,
      batchWaitMs: o.batchWaitMs,
      inflightMax: o.batchInflightMax,
      run: (items) => this.batch(items),
      runOne: (item) => this.one(item),
      // One debit of a card per batch: the set statement judges each debit against the card's balance as it
      // was before the statement (see batchArrays).
      groupOf: (item) => item.cardNo,
      // The message and SQLSTATE only: a constraint error's detail can quote a row, card number included.
      onFallback: (err, size) => {
        const e = err as { message?: unknown; code?: unknown };
        o.log.warn({ err: String(e?.message ?? err), code: e?.code, size }, 'ledger: a debit batch failed; running its debits one at a time');
      },
      ...(o.onBatch ? { observe: o.onBatch } : {}),
    });
  }

  /**
   * Batches sent, debits in them, batches re-run item by item, batches run again for a key conflict, and batches
   * sent straight to the keyed function because a retransmission was seen lately.
   */
  get stats(): { batches: number; items: number; fallbacks: number; keyConflicts: number; keyedBatches: number } {
    return { ...this.batcher.stats, keyConflicts: this.keyConflicts, keyedBatches: this.keyedBatches };
  }

  /** One purchase, committed: in a batch (or alone on the plain path), and alone again if its batch said retry. */
  async debit(item: DebitItem): Promise<SqlOutcome> {
    const out = this.o.writePath === 'batched' ? await this.batcher.submit(item) : await this.one(item);
    // Its key was taken by another transaction while the batch ran: alone, it replays that one's answer.
    return out.retry ? this.one(item) : out;
  }

  /**
   * Stores a purchase's decline made before it was tried (the pre-check) under its key: null when stored (the
   * caller answers its decline), else the answer already stored under the key, replayed (ps_purchase_declined).
   */
  async storeDecline(key: TxnKey, cardNo: string, amountFen: number, merchantId: string, pointsPerYuan: number, decline: Decline): Promise<SqlOutcome | null> {
    const { rows } = await this.pool.query('SELECT ps_purchase_declined($1, $2, $3, $4, $5, $6, $7, $8, $9) AS r',
      [key.terminalId, key.batchNo, key.trace, key.businessDate, merchantId, cardNo, amountFen, pointsPerYuan, JSON.stringify({ ok: false, decline })]);
    const r = rows[0]?.r as SqlOutcome | null | undefined;
    return r ? checked(r, this.o.log) : null;
  }

  void(r: VoidRequest): Promise<SqlOutcome> {
    const k = r.key;
    return this.call('SELECT ps_void($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS r',
      [k.terminalId, k.batchNo, k.trace, k.businessDate, r.merchantId, r.cardNo, r.amountFen,
        r.original.batchNo, r.original.trace, r.original.rrn ?? null], r.cardNo);
  }

  refund(r: RefundRequest): Promise<SqlOutcome> {
    const k = r.key;
    return this.call('SELECT ps_refund($1, $2, $3, $4, $5, $6, $7, $8, $9) AS r',
      [k.terminalId, k.batchNo, k.trace, k.businessDate, r.merchantId, r.cardNo, r.amountFen,
        r.original.rrn, r.original.date ?? null], r.cardNo);
  }

  reverse(r: ReversalRequest): Promise<SqlOutcome> {
    const k = r.original;
    return this.call('SELECT ps_reverse($1, $2, $3, $4, $5, $6, $7) AS r',
      [k.terminalId, k.batchNo, k.trace, k.businessDate, r.kind, r.cardNo, r.amountFen], r.cardNo);
  }

  credit(r: CreditRequest): Promise<SqlOutcome> {
    return this.call('SELECT ps_credit($1, $2, $3, $4) AS r', [r.idempotencyKey, r.cardNo, r.points, r.reason ?? null], r.cardNo);
  }

  /**
   * One batch as one set-based statement. An item whose key was stored before the statement began gets its
   * stored answer (a replay); one whose key a concurrent transaction claimed meanwhile comes back {retry: true},
   * and debit() then runs it alone, so a failure there is that caller's, never a re-run of a batch that committed.
   */
  private async batch(items: DebitItem[]): Promise<SqlOutcome[]> {
    if (items.length === 1) return [await this.one(items[0] as DebitItem)];
    const values = batchArrays(items);
    const { rows, keyed } = performance.now() < this.keyedUntil ? await this.keyedCall(values) : await this.plainThenKeyed(values);
    if (rows.length !== items.length) throw new Error(`ps_purchase_set returned ${rows.length} rows for ${items.length} debits`);
    const outs = rows.map((r, n) => batchOutcome(r, (items[n] as DebitItem).amountFen, this.o.log));
    // A retransmission met here (replayed, or claimed meanwhile and so retried alone) keeps the window open.
    if (keyed && this.o.keyedAfterConflictMs > 0 && outs.some(metExistingKey)) {
      this.keyedUntil = performance.now() + this.o.keyedAfterConflictMs;
    }
    // Not awaited: the write is on the socket before this returns (so this process never reads an older
    // balance after it), versioned (a late write never replaces a newer one), and never rejects.
    void this.cards.written(items.map((i, n) => ({ cardNo: i.cardNo, out: outs[n] })));
    return outs;   // the batcher checks there is one per item
  }

  /**
   * Retransmissions came lately (a terminal retrying after lost answers, or one replaying old traces): one that
   * meets the plain insert fails a whole statement of other terminals' debits, and under a stream of them every
   * batch would run twice. So batches check their keys first while they keep coming.
   */
  private async keyedCall(values: unknown[][]): Promise<KeyedRows> {
    this.keyedBatches++;
    return { rows: await this.batchCall('ps_purchase_set_keyed', values), keyed: true };
  }

  /**
   * The plain insert; on a key that exists already (a retransmission, an original after its reversal) or that a
   * concurrent transaction took, it failed the whole statement and kept nothing: the same batch again through
   * the function that checks each key first (a stored key answers its stored answer, a key claimed meanwhile
   * comes back retry).
   */
  private async plainThenKeyed(values: unknown[][]): Promise<KeyedRows> {
    try {
      return { rows: await this.batchCall('ps_purchase_set', values), keyed: false };
    } catch (err) {
      if (!isKeyConflict(err)) throw err;
      this.keyConflicts++;
      return { rows: await this.batchCall('ps_purchase_set_keyed', values), keyed: true };
    }
  }

  /** One call of a batch debit function (named: each connection parses and plans it once, not once per batch). */
  private async batchCall(fn: BatchFunction, values: unknown[][]): Promise<BatchRow[]> {
    const { rows } = await this.pool.query<BatchRow>({
      name: fn,
      text: `SELECT answer, rrn, auth_code, points, card_version, card_balance FROM ${fn}($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::text[], $7::bigint[], $8::text[])`,
      values,
    });
    return rows;
  }

  /** The plain path: one debit, one transaction (also the fallback when a batch fails). */
  private one(i: DebitItem): Promise<SqlOutcome> {
    return this.call('SELECT ps_purchase($1, $2, $3, $4, $5, $6, $7, $8) AS r',
      [i.key.terminalId, i.key.batchNo, i.key.trace, i.key.businessDate, i.merchantId, i.cardNo, i.amountFen, i.pvv], i.cardNo);
  }

  /** One ledger function that answers one SqlOutcome for one card, whose new balance then goes to the cache. */
  private async call(sql: string, params: unknown[], cardNo: string): Promise<SqlOutcome> {
    const { rows } = await this.pool.query(sql, params);
    const out = checked(rows[0].r as SqlOutcome, this.o.log);
    await this.cards.written([{ cardNo, out }]);
    return out;
  }
}

/**
 * The batch's columns, one array each, for ps_purchase_set: built in one pass, so every array is as long as the
 * batch. Asserts the batch holds distinct cards, which the batcher's groupOf guarantees: the set statement
 * judges every debit against the card's balance as it was before the statement and updates each card once, so a
 * card twice would have two debits approved against one balance and only one taken from it.
 */
export function batchArrays(items: readonly DebitItem[]): unknown[][] {
  const terminals: string[] = [], batches: string[] = [], traces: string[] = [], dates: string[] = [];
  const merchants: string[] = [], cards: string[] = [], amounts: number[] = [], pvvs: Array<string | null> = [];
  const seen = new Set<string>();
  for (let n = 0; n < items.length; n++) {
    const i = items[n] as DebitItem;
    // The positions only: the message is logged, and a card number must not be.
    if (seen.has(i.cardNo)) throw new Error(`debit batch invariant broken: distinct cards (item ${n} debits a card already in the batch)`);
    seen.add(i.cardNo);
    terminals.push(i.key.terminalId); batches.push(i.key.batchNo); traces.push(i.key.trace); dates.push(i.key.businessDate);
    merchants.push(i.merchantId); cards.push(i.cardNo); amounts.push(i.amountFen); pvvs.push(i.pvv);
  }
  return [terminals, batches, traces, dates, merchants, cards, amounts, pvvs];
}

/**
 * One debit's outcome from its row of ps_purchase_set. An approval comes as columns (answer NULL, so the
 * statement builds no JSON on the hot path) and is made here into the answer Postgres stores for it (ps_answer,
 * which a replay returns): {ok, rrn, authCode, points, amountFen, balancePoints}; anything else comes as its
 * answer. The card's new version and balance come beside it, for the cache.
 */
export function batchOutcome(r: BatchRow, amountFen: number, log?: UnknownKindLog): SqlOutcome {
  const out: SqlOutcome = r.answer ? checked(r.answer, log) : {
    ok: true, rrn: r.rrn as string, authCode: r.auth_code as string, points: Number(r.points), amountFen,
    balancePoints: Number(r.card_balance),
  };
  if (r.card_version !== null) out.card = { version: Number(r.card_version), balance: Number(r.card_balance) };
  return out;
}

/** An answer from SQL with its decline's kind checked: a kind TypeScript does not know is a logged, counted system error. */
function checked(out: SqlOutcome, log?: UnknownKindLog): SqlOutcome {
  if (out.decline !== undefined) out.decline = asDecline(out.decline, log);
  return out;
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
