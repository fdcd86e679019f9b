// The ledger's public types: the contract the switch and the admin API code against.
import type { Logger } from '../log.js';
import type { Decline } from './decline.js';
import type { Kek } from './kek.js';

export interface LedgerOptions {
  databaseUrl: string;
  /** null/undefined: Postgres alone. */
  redisUrl?: string | null;
  /** Every Redis key starts with it (tests). */
  redisPrefix?: string;
  /** Key-encryption key for master/working keys and PIN verification at rest (default: dev key, with a warning). */
  kekHex?: string | undefined;
  /** The key-encryption key already made from the settings (wins over kekHex). */
  kek?: Kek;
  // Unset settings take the config schema's defaults (src/config), or ledgerOnlyDefaults for those it lacks.
  batchDebitsMax?: number;
  batchWaitMs?: number;
  /** Batches in flight at once (each holds a pool connection while it runs). */
  batchInflightMax?: number;
  poolSize?: number;
  /**
   * Reads of terminal numbers never found by this process that go to Postgres (Redis misses) at once, at most
   * (keep below poolSize - batchInflightMax). A flood of unknown terminal numbers then cannot take the
   * pool from the debits. A number once found reads without waiting.
   */
  lookupsInFlightMax?: number;
  /** 'batched': debits share commits through the batcher. 'plain': one transaction per debit (the baseline). */
  writePath?: 'batched' | 'plain';
  /**
   * After a batch met an existing key (a retransmission), batches go straight to the function that checks each
   * key first for this long (ms), instead of failing on the plain insert and running again; each batch that still
   * finds one extends it. 0: never (every conflict costs the failed statement).
   */
  keyedAfterConflictMs?: number;
  /** How long a cached card entry lives (ms); entries are rewritten after every commit that changes the card. */
  cardCacheTtlMs?: number;
  redisCommandTimeoutMs?: number;
  log?: Logger;
  /** Told of every debit batch (size, queue wait, run time): metrics. */
  onBatch?: (b: { size: number; queuedMs: number; runMs: number }) => void;
}

export interface TxnKey { terminalId: string; batchNo: string; trace: string; businessDate: string /* YYYY-MM-DD */ }
export interface PurchaseRequest { key: TxnKey; merchantId: string; cardNo: string; amountFen: number; pin?: string | null; cardExpiry?: string | null /* YYMM */ }
export interface VoidRequest { key: TxnKey; merchantId: string; cardNo: string; amountFen: number; original: { rrn?: string; batchNo: string; trace: string } }
export interface RefundRequest { key: TxnKey; merchantId: string; cardNo: string; amountFen: number; original: { rrn: string; batchNo?: string; trace?: string; date?: string /* MMDD */ } }
export interface ReversalRequest { original: TxnKey; kind: 'purchase' | 'void' | 'refund'; cardNo: string; amountFen: number; reasonCode?: string }
/** Points credited outside a terminal (the admin API's opening balance), once per idempotency key. */
export interface CreditRequest { cardNo: string; points: number; idempotencyKey: string; reason?: string }
export interface UploadRequest { key: TxnKey; cardNo: string; amountFen: number; kind?: string; rrn?: string; authCode?: string; detail?: Record<string, unknown> }
export interface Approval { rrn: string; authCode: string; points: number; amountFen: number; balancePoints: number; replayed: boolean }
export interface BatchTotals { debitFen: number; debitCount: number; creditFen: number; creditCount: number }
export interface TerminalInfo {
  terminalId: string; merchantId: string; status: 'active' | 'suspended' | 'closed'; tmk: Buffer /* clear */;
  macAlgorithm: 'ecb' | 'x919'; signedOn: boolean; batchNo: string; keys: { pik: Buffer; mak: Buffer; tdk: Buffer } | null;
  /** Names the current keys (their stored MAK, encrypted) for Ledger.keysProven; null without keys. */
  keysId: string | null;
  /** Whether a MAC has verified under the current keys since the sign-on that issued them. */
  keysProven: boolean;
  /** Until then, the keys a MAC last verified under (before that sign-on), still accepted; else null. */
  provenKeys: { pik: Buffer; mak: Buffer; tdk: Buffer } | null;
}
export interface MerchantInfo { merchantId: string; name: string; status: 'active' | 'suspended' | 'closed'; pointsPerYuan: number; feeRateBp: number }
export type Outcome<T> = ({ ok: true } & T) | { ok: false; decline: Decline };

export type CardStatus = 'active' | 'frozen' | 'lost' | 'expired' | 'closed';
export interface CardState { cardNo: string; status: CardStatus; expiry: string; enrolled: boolean; pinVerification: string | null; balancePoints: number; version: number }
