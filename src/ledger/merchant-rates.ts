// A merchant's rates over time: its points rate (points per yuan, what members pay) and its fee rate (basis points,
// what the acquirer keeps at clearing), each change effective from a business date on. The history is
// merchant_rates; the merchant's own columns hold the rates in force today, which the debit path reads. A change
// dated today or earlier moves them at once; one dated ahead is moved onto them when its date comes (applyDueRates,
// run by every switch once a minute, so a dated change takes effect within a minute of its business date's start).
import { inTransaction, type Pool, type PoolClient } from '../db/pool.js';

export interface MerchantRate { effectiveFrom: string | null; pointsPerYuan: number; feeRateBp: number }
export interface RateChange { effectiveFrom: string; pointsPerYuan?: number | undefined; feeRateBp?: number | undefined }

type RateRow = { effective_from: string; points_per_yuan: number; fee_rate_bp: number };

/** The first history row of a merchant stands for "since always": the rates it had before any change was recorded. */
const always = '-infinity';

/** The rate in force on `date` (YYYY-MM-DD) from the history, or null when the merchant has none. */
async function inForce(c: PoolClient | Pool, merchantId: string, date: string): Promise<RateRow | null> {
  const { rows } = await c.query<RateRow>(
    `SELECT effective_from::text, points_per_yuan, fee_rate_bp FROM merchant_rates
     WHERE merchant_id = $1 AND effective_from <= $2::date ORDER BY effective_from DESC LIMIT 1`, [merchantId, date]);
  return rows[0] ?? null;
}

/** What a rate change came to: the history after it, or why nothing was recorded. */
export type RateChangeOutcome =
  | { kind: 'changed'; history: MerchantRate[] }
  | { kind: 'no-merchant' }
  /** A closed clearing period's fees never change: the change is dated on or before the watermark. */
  | { kind: 'closed-period'; closedThrough: string };

/**
 * Records a change of a merchant's rates from `effectiveFrom` on (a rate not given keeps the one in force then),
 * and moves the merchant's columns when the change is in force `today`. A change dated into a closed clearing
 * period is refused; the watermark is read FOR SHARE, so a close waits for this change (and the change for a close).
 */
export async function changeRates(pool: Pool, merchantId: string, change: RateChange, today: string): Promise<RateChangeOutcome> {
  const outcome = await inTransaction(pool, async (c): Promise<RateChangeOutcome | null> => {
    const { rows: m } = await c.query<{ points_per_yuan: number; fee_rate_bp: number }>(
      'SELECT points_per_yuan, fee_rate_bp FROM merchants WHERE merchant_id = $1 FOR UPDATE', [merchantId]);
    if (!m[0]) return { kind: 'no-merchant' };
    const { rows: [w] } = await c.query<{ closed_through: string }>('SELECT closed_through::text FROM clearing_watermark FOR SHARE');
    if (w && w.closed_through !== '-infinity' && change.effectiveFrom <= w.closed_through) return { kind: 'closed-period', closedThrough: w.closed_through };
    // The rates it had before any recorded change have been in force since always.
    await c.query(
      `INSERT INTO merchant_rates (merchant_id, effective_from, points_per_yuan, fee_rate_bp)
       SELECT $1, $2::date, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM merchant_rates WHERE merchant_id = $1)`,
      [merchantId, always, m[0].points_per_yuan, m[0].fee_rate_bp]);
    const then = (await inForce(c, merchantId, change.effectiveFrom))!;
    await c.query(
      `INSERT INTO merchant_rates (merchant_id, effective_from, points_per_yuan, fee_rate_bp) VALUES ($1, $2, $3, $4)
       ON CONFLICT (merchant_id, effective_from) DO UPDATE SET points_per_yuan = EXCLUDED.points_per_yuan,
         fee_rate_bp = EXCLUDED.fee_rate_bp, recorded_at = now()`,
      [merchantId, change.effectiveFrom, change.pointsPerYuan ?? then.points_per_yuan, change.feeRateBp ?? then.fee_rate_bp]);
    const now = (await inForce(c, merchantId, today))!;
    await c.query(
      `UPDATE merchants SET points_per_yuan = $2, fee_rate_bp = $3, version = version + 1
       WHERE merchant_id = $1 AND (points_per_yuan, fee_rate_bp) IS DISTINCT FROM ($2, $3)`,
      [merchantId, now.points_per_yuan, now.fee_rate_bp]);
    return null;
  });
  return outcome ?? { kind: 'changed', history: await rateHistory(pool, merchantId) };
}

/** A merchant's rate changes, oldest first (effectiveFrom null: since always). */
export async function rateHistory(pool: Pool, merchantId: string): Promise<MerchantRate[]> {
  const { rows } = await pool.query<RateRow>(
    'SELECT effective_from::text, points_per_yuan, fee_rate_bp FROM merchant_rates WHERE merchant_id = $1 ORDER BY effective_from', [merchantId]);
  return rows.map((r) => ({ effectiveFrom: r.effective_from === always ? null : r.effective_from, pointsPerYuan: r.points_per_yuan, feeRateBp: r.fee_rate_bp }));
}

/** Moves onto the merchants' columns every change whose date has come; returns the merchants changed. */
export async function applyDueRates(pool: Pool, today: string): Promise<string[]> {
  const { rows } = await pool.query<{ merchant_id: string }>(
    `UPDATE merchants m SET points_per_yuan = r.points_per_yuan, fee_rate_bp = r.fee_rate_bp, version = m.version + 1
     FROM (SELECT DISTINCT ON (merchant_id) merchant_id, points_per_yuan, fee_rate_bp FROM merchant_rates
           WHERE effective_from <= $1::date ORDER BY merchant_id, effective_from DESC) r
     WHERE m.merchant_id = r.merchant_id AND (m.points_per_yuan, m.fee_rate_bp) IS DISTINCT FROM (r.points_per_yuan, r.fee_rate_bp)
     RETURNING m.merchant_id`, [today]);
  return rows.map((r) => r.merchant_id);
}
