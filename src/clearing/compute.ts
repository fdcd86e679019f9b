// The clearing of one period as set-based SQL in the caller's transaction (REPEATABLE READ: every statement sees
// the same ledger). Results go into the clearing_* tables under the run's id; then the control totals are checked
// against the ledger and the authorisations, and a mismatch throws before anything is committed or written.
// Memory does not grow with the number of transactions: the database aggregates, this process holds counters.
import type { PoolClient } from '../db/pool.js';
import type { Period } from './periods.js';
import { PeriodError } from './periods.js';

/** What a run's numbers depend on besides the ledger. A closed period keeps the ones it was closed with. */
export interface ClearingParams { timeZone: string; graceDays: number; terminalFeeFen: number }

export interface Totals {
  merchants: number; purchaseCount: number; purchasePoints: number; voidCount: number; voidPoints: number;
  refundCount: number; refundPoints: number; reversalCount: number; reversalPoints: number; netPoints: number;
  grossFen: number; feeFen: number; netPayableFen: number; terminals: number; terminalDays: number;
  terminalFeeFen: number; issuerOwesFen: number; acquirerRevenueFen: number;
  /** Σ fee / Σ gross in percent, two decimals, rounded half-up; 0.00 when there is no gross. */
  averageFeeRate: string;
  averageFeeAboveLimit: boolean;
}

export interface ControlTotals {
  /** −Σ member points of the merchant side of the ledger dated in the period */
  ledgerNetPoints: number;
  /** the same × 2 fen */
  ledgerValueFen: number;
  grossFen: number;
  netPayablePlusFeeFen: number;
  ledgerRows: number;
  authorisations: { purchases: number; voids: number; refunds: number };
}

export type Step = 'rates' | 'ledger' | 'checks' | 'terminals' | 'files';
export const steps: readonly Step[] = ['rates', 'ledger', 'checks', 'terminals', 'files'];

/** Fen a point is worth to the merchant it was spent at: 50 points = 1 yuan. */
export const fenPerPoint = 2;

/**
 * A fee of `grossFen` at `bp` basis points, rounded half-up to the fen: half a fen or more goes up. A negative
 * gross (more given back than redeemed) gives the same fee negated, so a purchase and its refund cancel exactly.
 */
export function feeFen(grossFen: number, bp: number): number {
  const x = BigInt(grossFen) * BigInt(bp);
  const abs = x < 0n ? -x : x;
  const rounded = (abs + 5000n) / 10000n;
  return Number(x < 0n ? -rounded : rounded);
}

/** A monthly fee for `days` of `daysInPeriod`, rounded half-up to the fen. */
export function proRataFen(monthlyFen: number, days: number, daysInPeriod: number): number {
  return Number((BigInt(monthlyFen) * BigInt(days) * 2n + BigInt(daysInPeriod)) / (2n * BigInt(daysInPeriod)));
}

/**
 * Σ fee / Σ gross as a percent with two decimals (half-up), and whether it is above 1 %. A negative gross (more
 * given back than redeemed) gives the rate of the fee returned; no gross gives 0.00.
 */
export function averageFeeRate(feeFenTotal: number, grossFenTotal: number): { rate: string; aboveLimit: boolean } {
  if (grossFenTotal === 0) return { rate: '0.00', aboveLimit: false };
  let fee = BigInt(feeFenTotal);
  let gross = BigInt(grossFenTotal);
  if (gross < 0n) { fee = -fee; gross = -gross; }
  const neg = fee < 0n;
  const bp = ((neg ? -fee : fee) * 20000n + gross) / (2n * gross);
  return { rate: `${neg ? '-' : ''}${bp / 100n}.${String(bp % 100n).padStart(2, '0')}`, aboveLimit: fee * 100n > gross };
}

// The fee expression in SQL, the same rule as feeFen (test/clearing/rules.test.ts holds them equal).
export const feeSql = (gross: string, bp: string) => `(sign(${gross} * ${bp}) * div(abs(${gross} * ${bp}) + 5000, 10000))::bigint`;

interface Mismatch { what: string; merchant: string | null; expected: number | null; found: number | null }

export class ControlTotalError extends PeriodError {
  constructor(readonly period: string, readonly mismatches: Mismatch[]) {
    super(`clearing ${period} stopped: ${mismatches.length} control total${mismatches.length === 1 ? '' : 's'} disagree, nothing was written\n`
      + mismatches.slice(0, 20).map((m) => `  ${m.merchant ? `merchant ${m.merchant}: ` : ''}${m.what}: ledger ${m.expected ?? 'none'}, clearing ${m.found ?? 'none'}`
        + (m.expected !== null && m.found !== null ? ` (difference ${m.found - m.expected})` : '')).join('\n')
      + (mismatches.length > 20 ? `\n  … and ${mismatches.length - 20} more` : ''), 'mismatch');
    this.name = 'ControlTotalError';
  }
}

const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/**
 * Computes `period` into the clearing tables under `runId`. `namesFrom`: a run whose merchant names are kept (a
 * closed period's closing run: a re-run shows the names it was closed with).
 */
export async function computePeriod(c: PoolClient, runId: number, p: Period, params: ClearingParams,
  o: { namesFrom?: number | null; onStep?: (s: Step) => void; /** last day terminals are counted to (a provisional run: today) */ daysThrough?: string } = {}): Promise<{ totals: Totals; control: ControlTotals }> {
  const step = o.onStep ?? (() => {});
  const range = [p.first, p.last];
  await c.query("SET LOCAL work_mem = '256MB'");

  step('rates');
  // The fee rate in force on each date of the period, for merchants whose rates have a history (merchant_rates):
  // one interval per rate row, clipped to the period. A merchant without history has had its rate all along. A
  // subquery, not a temporary table, so the scan below may run in parallel.
  const rates = `
    SELECT merchant_id, fee_rate_bp, first_date, last_date FROM (
      SELECT merchant_id, fee_rate_bp, greatest(effective_from, $1::date) AS first_date,
             least(coalesce(lead(effective_from) OVER (PARTITION BY merchant_id ORDER BY effective_from) - 1, $2::date), $2::date) AS last_date
      FROM merchant_rates) r
    WHERE first_date <= last_date`;

  step('ledger');
  // One line per merchant and fee rate: the merchant side of the ledger dated in the period, by kind. Grouped
  // first by merchant, rate interval and kind with plain aggregates (one pass, parallel), then pivoted; the fee is
  // rounded once a line.
  await c.query(`
    CREATE TEMP TABLE cl_lines ON COMMIT DROP AS
    WITH g AS (
      SELECT t.merchant_id, r.fee_rate_bp AS history_bp, t.kind, count(*) AS n, sum(t.member_points) AS points,
             min(t.business_date) AS first_date, max(t.business_date) AS last_date
      FROM ledger_txns t
      LEFT JOIN (${rates}) r ON r.merchant_id = t.merchant_id AND t.business_date BETWEEN r.first_date AND r.last_date
      WHERE t.counter_kind = 'merchant' AND t.business_date BETWEEN $1 AND $2
      GROUP BY 1, 2, 3
    )
    SELECT l.*, l.net_points * ${fenPerPoint} AS gross_fen, ${feeSql(`(l.net_points * ${fenPerPoint})`, 'l.fee_rate_bp')} AS fee_fen
    FROM (
      SELECT g.merchant_id, coalesce(g.history_bp, m.fee_rate_bp) AS fee_rate_bp, min(g.first_date) AS first_date, max(g.last_date) AS last_date,
             coalesce(sum(g.n) FILTER (WHERE g.kind = 'purchase'), 0)::bigint AS purchase_count,
             coalesce(-sum(g.points) FILTER (WHERE g.kind = 'purchase'), 0)::bigint AS purchase_points,
             coalesce(sum(g.n) FILTER (WHERE g.kind = 'void'), 0)::bigint AS void_count,
             coalesce(sum(g.points) FILTER (WHERE g.kind = 'void'), 0)::bigint AS void_points,
             coalesce(sum(g.n) FILTER (WHERE g.kind = 'refund'), 0)::bigint AS refund_count,
             coalesce(sum(g.points) FILTER (WHERE g.kind = 'refund'), 0)::bigint AS refund_points,
             coalesce(sum(g.n) FILTER (WHERE g.kind = 'reversal'), 0)::bigint AS reversal_count,
             coalesce(sum(g.points) FILTER (WHERE g.kind = 'reversal'), 0)::bigint AS reversal_points,
             (-sum(g.points))::bigint AS net_points
      FROM g JOIN merchants m ON m.merchant_id = g.merchant_id
      GROUP BY 1, 2) l`, range);
  await c.query(`
    INSERT INTO clearing_fee_lines (run_id, merchant_id, fee_rate_bp, first_date, last_date, net_points, gross_fen, fee_fen)
    SELECT $1, merchant_id, fee_rate_bp, first_date, last_date, net_points, gross_fen, fee_fen FROM cl_lines`, [runId]);
  await c.query(`
    INSERT INTO clearing_merchants (run_id, merchant_id, merchant_name, purchase_count, purchase_points, void_count, void_points,
      refund_count, refund_points, reversal_count, reversal_points, net_points, gross_fen, fee_rates_bp, fee_fen, net_payable_fen)
    SELECT $1, l.merchant_id, coalesce(k.merchant_name, m.name), sum(l.purchase_count), sum(l.purchase_points), sum(l.void_count),
           sum(l.void_points), sum(l.refund_count), sum(l.refund_points), sum(l.reversal_count), sum(l.reversal_points), sum(l.net_points),
           sum(l.gross_fen), string_agg(l.fee_rate_bp::text, ';' ORDER BY l.first_date, l.fee_rate_bp), sum(l.fee_fen), sum(l.gross_fen) - sum(l.fee_fen)
    FROM cl_lines l
    JOIN merchants m ON m.merchant_id = l.merchant_id
    LEFT JOIN clearing_merchants k ON k.run_id = $2 AND k.merchant_id = l.merchant_id
    GROUP BY l.merchant_id, m.name, k.merchant_name`, [runId, o.namesFrom ?? null]);

  step('checks');
  const mismatches: Mismatch[] = [];
  // The ledger's own view, grouped two ways in one scan: per merchant (the change of its side over the period)
  // and per business date (the daily series; their sum is the period's total).
  await c.query(`
    CREATE TEMP TABLE cl_ledger ON COMMIT DROP AS
    SELECT merchant_id, business_date, -sum(member_points) AS net_points, count(*) AS rows
    FROM ledger_txns WHERE counter_kind = 'merchant' AND business_date BETWEEN $1 AND $2
    GROUP BY GROUPING SETS ((merchant_id), (business_date))`, range);
  const perMerchant = await c.query<{ merchant_id: string; ledger: string | null; cleared: string | null }>(`
    SELECT coalesce(l.merchant_id, k.merchant_id) AS merchant_id, l.net_points AS ledger, k.net_points AS cleared
    FROM (SELECT merchant_id, net_points FROM cl_ledger WHERE merchant_id IS NOT NULL) l
    FULL JOIN (SELECT merchant_id, net_points FROM clearing_merchants WHERE run_id = $1) k ON k.merchant_id = l.merchant_id
    WHERE l.net_points IS DISTINCT FROM k.net_points
    ORDER BY 1 LIMIT 100`, [runId]);
  for (const r of perMerchant.rows) {
    mismatches.push({ what: 'net points (the change of its side of the ledger)', merchant: r.merchant_id, expected: r.ledger === null ? null : n(r.ledger), found: r.cleared === null ? null : n(r.cleared) });
  }
  // Counts and points against the authorisations: approved purchases dated in the period, approved voids and
  // refunds booked in it (cleared_on when a closed period moved them), reversed or not later.
  await c.query(`
    CREATE TEMP TABLE cl_auth ON COMMIT DROP AS
    WITH a AS (
      SELECT merchant_id, kind, points FROM authorisations
      WHERE business_date BETWEEN $1 AND $2 AND cleared_on IS NULL
        AND ((kind = 'purchase' AND state NOT IN ('declined', 'reversal_marker'))
             OR (kind IN ('void', 'refund') AND state IN ('approved', 'reversed')))
      UNION ALL
      SELECT merchant_id, kind, points FROM authorisations
      WHERE cleared_on BETWEEN $1 AND $2 AND kind IN ('void', 'refund') AND state IN ('approved', 'reversed')
    )
    SELECT merchant_id,
           count(*) FILTER (WHERE kind = 'purchase') AS purchase_count, coalesce(sum(points) FILTER (WHERE kind = 'purchase'), 0) AS purchase_points,
           count(*) FILTER (WHERE kind = 'void') AS void_count, coalesce(sum(points) FILTER (WHERE kind = 'void'), 0) AS void_points,
           count(*) FILTER (WHERE kind = 'refund') AS refund_count, coalesce(sum(points) FILTER (WHERE kind = 'refund'), 0) AS refund_points
    FROM a GROUP BY merchant_id`, range);
  const byAuth = await c.query(`
    SELECT coalesce(p.merchant_id, k.merchant_id) AS merchant_id, to_jsonb(p) AS auth, to_jsonb(k) AS cleared
    FROM cl_auth p
    FULL JOIN (SELECT merchant_id, purchase_count, purchase_points, void_count, void_points, refund_count, refund_points
               FROM clearing_merchants WHERE run_id = $1) k ON k.merchant_id = p.merchant_id
    WHERE (p.purchase_count, p.purchase_points, p.void_count, p.void_points, p.refund_count, p.refund_points)
          IS DISTINCT FROM (k.purchase_count, k.purchase_points, k.void_count, k.void_points, k.refund_count, k.refund_points)
    ORDER BY 1 LIMIT 100`, [runId]);
  const { rows: [authTotals] } = await c.query(
    'SELECT coalesce(sum(purchase_count), 0) AS purchases, coalesce(sum(void_count), 0) AS voids, coalesce(sum(refund_count), 0) AS refunds FROM cl_auth');
  const fields = ['purchase_count', 'purchase_points', 'void_count', 'void_points', 'refund_count', 'refund_points'] as const;
  for (const r of byAuth.rows as { merchant_id: string; auth: Record<string, number> | null; cleared: Record<string, number> | null }[]) {
    // a merchant with no activity on one side and only reversals on the other is not a difference
    const zero = (x: Record<string, number> | null) => !x || fields.every((f) => n(x[f]) === 0);
    if (zero(r.auth) && zero(r.cleared)) continue;
    for (const f of fields) {
      const a = n(r.auth?.[f]);
      const k = n(r.cleared?.[f]);
      if (a !== k) mismatches.push({ what: `${f.replace('_', ' ')} (authorisations)`, merchant: r.merchant_id, expected: a, found: k });
    }
  }
  // Each reversal row must undo an authorisation now in state 'reversed', of the same merchant, by its points.
  const reversals = await c.query<{ merchant_id: string; txn_id: number; member_points: number; expected: number | null }>(`
    SELECT t.merchant_id, t.txn_id, t.member_points,
           CASE WHEN a.kind = 'purchase' THEN a.points - a.refunded_points ELSE -a.points END AS expected
    FROM ledger_txns t LEFT JOIN authorisations a ON a.auth_id = t.auth_id
    WHERE t.counter_kind = 'merchant' AND t.kind = 'reversal' AND t.business_date BETWEEN $1 AND $2
      AND (a.auth_id IS NULL OR a.state <> 'reversed' OR a.merchant_id IS DISTINCT FROM t.merchant_id
           OR t.member_points IS DISTINCT FROM CASE WHEN a.kind = 'purchase' THEN a.points - a.refunded_points ELSE -a.points END)
    LIMIT 100`, range);
  for (const r of reversals.rows) {
    mismatches.push({ what: `reversal txn ${r.txn_id} points (its reversed authorisation)`, merchant: r.merchant_id, expected: r.expected, found: r.member_points });
  }
  const { rows: [sums] } = await c.query(`
    SELECT (SELECT coalesce(sum(net_points), 0) FROM cl_ledger WHERE business_date IS NOT NULL) AS ledger_net,
           (SELECT coalesce(sum(rows), 0) FROM cl_ledger WHERE business_date IS NOT NULL) AS ledger_rows,
           coalesce(sum(net_points), 0) AS net, coalesce(sum(gross_fen), 0) AS gross, coalesce(sum(fee_fen), 0) AS fee,
           coalesce(sum(net_payable_fen), 0) AS payable,
           count(*) FILTER (WHERE gross_fen <> net_points * ${fenPerPoint} OR net_payable_fen <> gross_fen - fee_fen
                                  OR net_points <> purchase_points - void_points - refund_points - reversal_points) AS bad_rows
    FROM clearing_merchants WHERE run_id = $1`, [runId]);
  const ledgerNet = n(sums.ledger_net);
  const gross = n(sums.gross);
  if (gross !== ledgerNet * fenPerPoint) mismatches.push({ what: `Σ gross fen against the ledger's net points × ${fenPerPoint}`, merchant: null, expected: ledgerNet * fenPerPoint, found: gross });
  if (gross !== n(sums.payable) + n(sums.fee)) mismatches.push({ what: 'Σ gross fen against Σ net payable + Σ fee', merchant: null, expected: gross, found: n(sums.payable) + n(sums.fee) });
  if (n(sums.bad_rows) > 0) mismatches.push({ what: 'merchant rows whose own sums disagree', merchant: null, expected: 0, found: n(sums.bad_rows) });
  if (mismatches.length > 0) throw new ControlTotalError(p.period, mismatches);

  await c.query(`
    INSERT INTO clearing_days (run_id, business_date, net_points)
    SELECT $1, business_date, net_points FROM cl_ledger WHERE business_date IS NOT NULL`, [runId]);

  step('terminals');
  // Days each terminal was enabled (status active at any moment of the day, in the clearing time zone), from its
  // status history (none: its current status since it was created); spans are clipped to the period and their
  // union counted (a provisional run counts the days so far). The fee: monthly fee × days ÷ days in the period,
  // half-up to the fen.
  await c.query(`
    INSERT INTO clearing_terminals (run_id, terminal_id, merchant_id, days_enabled, fee_fen)
    WITH spans AS (
      SELECT h.terminal_id, h.status, h.effective_at AS from_at,
             lead(h.effective_at) OVER (PARTITION BY h.terminal_id ORDER BY h.effective_at) AS to_at
      FROM terminal_status_history h
      UNION ALL
      SELECT t.terminal_id, t.status, t.created_at, NULL FROM terminals t
      WHERE NOT EXISTS (SELECT 1 FROM terminal_status_history h WHERE h.terminal_id = t.terminal_id)
    ), days AS (
      SELECT terminal_id, greatest((from_at AT TIME ZONE $3)::date, $1::date) AS a,
             least(CASE WHEN to_at IS NULL THEN $2::date ELSE ((to_at - interval '1 microsecond') AT TIME ZONE $3)::date END, $2::date) AS b
      FROM spans WHERE status = 'active'
    ), ordered AS (
      SELECT terminal_id, a, b, max(b) OVER (PARTITION BY terminal_id ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
      FROM days WHERE a <= b
    ), per AS (
      SELECT terminal_id, sum(greatest(0, b - greatest(a, coalesce(before + 1, a)) + 1))::int AS days_enabled FROM ordered GROUP BY 1
    )
    SELECT $4, p.terminal_id, t.merchant_id, p.days_enabled, div($5::bigint * p.days_enabled * 2 + $6::int, 2 * $6::int)::bigint
    FROM per p JOIN terminals t ON t.terminal_id = p.terminal_id
    WHERE p.days_enabled > 0`, [p.first, o.daysThrough && o.daysThrough < p.last ? o.daysThrough : p.last, params.timeZone, runId, params.terminalFeeFen, p.days]);

  const { rows: [m] } = await c.query(`
    SELECT count(*) AS merchants, coalesce(sum(purchase_count), 0) AS pc, coalesce(sum(purchase_points), 0) AS pp,
           coalesce(sum(void_count), 0) AS vc, coalesce(sum(void_points), 0) AS vp, coalesce(sum(refund_count), 0) AS rc,
           coalesce(sum(refund_points), 0) AS rp, coalesce(sum(reversal_count), 0) AS xc, coalesce(sum(reversal_points), 0) AS xp,
           coalesce(sum(net_points), 0) AS net, coalesce(sum(gross_fen), 0) AS gross, coalesce(sum(fee_fen), 0) AS fee,
           coalesce(sum(net_payable_fen), 0) AS payable
    FROM clearing_merchants WHERE run_id = $1`, [runId]);
  const { rows: [t] } = await c.query(
    'SELECT count(*) AS terminals, coalesce(sum(days_enabled), 0) AS days, coalesce(sum(fee_fen), 0) AS fee FROM clearing_terminals WHERE run_id = $1', [runId]);
  const avg = averageFeeRate(n(m.fee), n(m.gross));
  const totals: Totals = {
    merchants: n(m.merchants), purchaseCount: n(m.pc), purchasePoints: n(m.pp), voidCount: n(m.vc), voidPoints: n(m.vp),
    refundCount: n(m.rc), refundPoints: n(m.rp), reversalCount: n(m.xc), reversalPoints: n(m.xp), netPoints: n(m.net),
    grossFen: n(m.gross), feeFen: n(m.fee), netPayableFen: n(m.payable), terminals: n(t.terminals), terminalDays: n(t.days),
    terminalFeeFen: n(t.fee), issuerOwesFen: n(m.gross) + n(t.fee), acquirerRevenueFen: n(m.fee) + n(t.fee),
    averageFeeRate: avg.rate, averageFeeAboveLimit: avg.aboveLimit,
  };
  const control: ControlTotals = {
    ledgerNetPoints: ledgerNet, ledgerValueFen: ledgerNet * fenPerPoint, grossFen: gross, netPayablePlusFeeFen: n(sums.payable) + n(sums.fee),
    ledgerRows: n(sums.ledger_rows),
    authorisations: { purchases: n(authTotals.purchases), voids: n(authTotals.voids), refunds: n(authTotals.refunds) },
  };
  return { totals, control };
}
