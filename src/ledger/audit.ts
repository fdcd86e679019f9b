// The ledger's invariants, recomputed from the entries (`pointswitch audit`, and asserted in tests):
// each txn's entries sum to zero · each card's member entries sum to its balance · no balance below zero ·
// every approved debit has exactly one entry set · voids, refunds and reversals link to their originals and
// never move more than them.
import type { Pool } from '../db/pool.js';

export interface AuditProblem { check: string; subject: string; expected: string; actual: string }
export interface AuditReport { ok: boolean; problems: AuditProblem[]; counts: Record<string, number> }

const problemsMax = 1000;

const checks: Array<{ check: string; sql: string }> = [
  {
    check: 'txn entries sum to zero',
    sql: `SELECT 'txn ' || t.txn_id AS subject, '0 (>= 2 entries)' AS expected,
                 coalesce(sum(e.points), 0) || ' (' || count(e.entry_id) || ' entries)' AS actual
          FROM ledger_txns t LEFT JOIN ledger_entries e USING (txn_id)
          GROUP BY t.txn_id HAVING coalesce(sum(e.points), 0) <> 0 OR count(e.entry_id) < 2`,
  },
  {
    check: 'entries belong to a txn of the same card',
    sql: `SELECT 'entry ' || e.entry_id AS subject, 'txn ' || e.txn_id || ' of the same card' AS expected,
                 CASE WHEN t.txn_id IS NULL THEN 'no such txn' ELSE 'card differs' END AS actual
          FROM ledger_entries e LEFT JOIN ledger_txns t USING (txn_id) WHERE t.txn_id IS NULL OR e.card_no <> t.card_no`,
  },
  {
    check: 'member balance = sum of member entries',
    sql: `SELECT 'card ' || coalesce(c.card_no, m.card_no) AS subject, coalesce(m.points, 0)::text AS expected,
                 coalesce(c.balance::text, 'no card row') AS actual
          FROM cards c
          FULL JOIN (SELECT card_no, sum(points) AS points FROM ledger_entries WHERE account_kind = 'member' GROUP BY card_no) m
            USING (card_no)
          WHERE c.balance IS DISTINCT FROM coalesce(m.points, 0)`,
  },
  {
    check: 'no member balance below zero',
    sql: `SELECT 'card ' || card_no AS subject, '>= 0' AS expected, balance::text AS actual FROM cards WHERE balance < 0`,
  },
  {
    check: 'each approved debit, void or refund has exactly one entry set',
    sql: `SELECT a.kind || ' ' || a.auth_id || ' (' || a.state || ')' AS subject,
                 CASE WHEN a.state IN ('declined', 'reversal_marker') THEN '0' ELSE '1' END AS expected, count(t.txn_id)::text AS actual
          FROM authorisations a LEFT JOIN ledger_txns t ON t.auth_id = a.auth_id AND t.kind = a.kind
          GROUP BY a.auth_id
          HAVING count(t.txn_id) <> CASE WHEN a.state IN ('declined', 'reversal_marker') THEN 0 ELSE 1 END`,
  },
  {
    check: 'each entry set moves the authorised points',
    sql: `SELECT a.kind || ' ' || a.auth_id AS subject, (CASE WHEN a.kind = 'purchase' THEN -a.points ELSE a.points END)::text AS expected,
                 sum(e.points)::text AS actual
          FROM authorisations a JOIN ledger_txns t ON t.auth_id = a.auth_id AND t.kind = a.kind
          JOIN ledger_entries e ON e.txn_id = t.txn_id AND e.account_kind = 'member'
          GROUP BY a.auth_id HAVING sum(e.points) <> CASE WHEN a.kind = 'purchase' THEN -a.points ELSE a.points END`,
  },
  {
    check: 'voids and refunds link to an approved purchase',
    sql: `SELECT a.kind || ' ' || a.auth_id AS subject, 'original purchase of the same card' AS expected,
                 coalesce(o.kind || ' ' || o.auth_id || ' card ' || CASE WHEN o.card_no = a.card_no THEN 'same' ELSE 'other' END, 'none') AS actual
          FROM authorisations a LEFT JOIN authorisations o ON o.auth_id = a.original_auth_id
          WHERE a.kind IN ('void', 'refund') AND a.state IN ('approved', 'reversed')
            AND (o.auth_id IS NULL OR o.kind <> 'purchase' OR o.card_no <> a.card_no)`,
  },
  {
    check: 'a voided purchase has exactly one standing void of its points',
    sql: `SELECT 'purchase ' || o.auth_id || ' (' || o.state || ')' AS subject,
                 CASE WHEN o.state = 'voided' THEN '1 void of ' || o.points ELSE '0 voids' END AS expected,
                 count(v.auth_id) || ' voids of ' || coalesce(sum(v.points), 0) AS actual
          FROM authorisations o LEFT JOIN authorisations v ON v.original_auth_id = o.auth_id AND v.kind = 'void' AND v.state = 'approved'
          WHERE o.kind = 'purchase'
          GROUP BY o.auth_id
          HAVING count(v.auth_id) <> CASE WHEN o.state = 'voided' THEN 1 ELSE 0 END
              OR (o.state = 'voided' AND sum(v.points) <> o.points)`,
  },
  {
    check: 'refunds never exceed the original',
    sql: `SELECT 'purchase ' || o.auth_id AS subject,
                 o.refunded_fen || ' fen / ' || o.refunded_points || ' points (<= ' || o.amount_fen || ' / ' || o.points || ')' AS expected,
                 coalesce(sum(r.amount_fen), 0) || ' fen / ' || coalesce(sum(r.points), 0) || ' points' AS actual
          FROM authorisations o LEFT JOIN authorisations r ON r.original_auth_id = o.auth_id AND r.kind = 'refund' AND r.state = 'approved'
          WHERE o.kind = 'purchase'
          GROUP BY o.auth_id
          HAVING coalesce(sum(r.amount_fen), 0) <> o.refunded_fen OR coalesce(sum(r.points), 0) <> o.refunded_points
              OR o.refunded_fen > o.amount_fen OR o.refunded_points > o.points`,
  },
  {
    check: 'a purchase and everything linked to it net to what is still debited',
    sql: `WITH fam AS (
            SELECT o.auth_id AS root, o.state, o.points, o.refunded_points, x.auth_id
            FROM authorisations o
            JOIN authorisations x ON x.auth_id = o.auth_id OR x.original_auth_id = o.auth_id
            WHERE o.kind = 'purchase' AND o.state NOT IN ('declined', 'reversal_marker')
          )
          SELECT 'purchase ' || f.root || ' (' || f.state || ')' AS subject,
                 (CASE WHEN f.state IN ('voided', 'reversed') THEN 0 ELSE -(f.points - f.refunded_points) END)::text AS expected,
                 coalesce(sum(e.points), 0)::text AS actual
          FROM fam f
          LEFT JOIN ledger_txns t ON t.auth_id = f.auth_id
          LEFT JOIN ledger_entries e ON e.txn_id = t.txn_id AND e.account_kind = 'member'
          GROUP BY f.root, f.state, f.points, f.refunded_points
          HAVING coalesce(sum(e.points), 0) <> CASE WHEN f.state IN ('voided', 'reversed') THEN 0 ELSE -(f.points - f.refunded_points) END`,
  },
  {
    check: 'a reversal posts at most once',
    sql: `SELECT 'authorisation ' || auth_id AS subject, '<= 1 reversal txn' AS expected, count(*)::text AS actual
          FROM ledger_txns WHERE kind = 'reversal' GROUP BY auth_id HAVING count(*) > 1`,
  },
  {
    check: 'credits are posted once with their txn',
    sql: `SELECT 'credit ' || c.idempotency_key AS subject, c.points::text AS expected, coalesce(sum(e.points), 0)::text AS actual
          FROM credits c LEFT JOIN ledger_entries e ON e.txn_id = c.txn_id AND e.account_kind = 'member'
          GROUP BY c.idempotency_key, c.points HAVING coalesce(sum(e.points), 0) <> c.points`,
  },
  {
    // src/clearing: a closed period's merchant rows were checked against the ledger when it closed; nothing may
    // have been booked into it, or changed in it, since.
    check: 'a closed clearing period still equals the ledger',
    sql: `WITH closed AS (
            SELECT period, run_id, to_date(period || '-01', 'YYYY-MM-DD') AS first,
                   (to_date(period || '-01', 'YYYY-MM-DD') + interval '1 month' - interval '1 day')::date AS last
            FROM clearing_periods
          ), ledger AS (
            SELECT c.period, t.merchant_id, -sum(t.member_points) AS net
            FROM closed c JOIN ledger_txns t ON t.counter_kind = 'merchant' AND t.business_date BETWEEN c.first AND c.last
            GROUP BY 1, 2
          ), cleared AS (
            SELECT c.period, m.merchant_id, m.net_points AS net FROM closed c JOIN clearing_merchants m ON m.run_id = c.run_id
          )
          SELECT 'period ' || coalesce(l.period, k.period) || ', merchant ' || coalesce(l.merchant_id, k.merchant_id) AS subject,
                 coalesce(k.net, 0)::text || ' net points (at its close)' AS expected, coalesce(l.net, 0)::text AS actual
          FROM ledger l FULL JOIN cleared k ON k.period = l.period AND k.merchant_id = l.merchant_id
          WHERE coalesce(l.net, 0) <> coalesce(k.net, 0)`,
  },
];

export async function audit(pool: Pool): Promise<AuditReport> {
  const problems: AuditProblem[] = [];
  const c = await pool.connect();
  try {
    // One snapshot for all checks, so a running switch does not make them disagree with each other.
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const { check, sql } of checks) {
      const { rows } = await c.query(`${sql} LIMIT ${problemsMax}`);
      for (const r of rows) problems.push({ check, subject: String(r.subject), expected: String(r.expected), actual: String(r.actual) });
    }
    const counts = (await c.query(
      `SELECT (SELECT count(*) FROM cards)::int AS cards, (SELECT count(*) FROM ledger_txns)::int AS txns,
              (SELECT count(*) FROM ledger_entries)::int AS entries, (SELECT count(*) FROM authorisations)::int AS authorisations`)).rows[0];
    await c.query('COMMIT');
    return { ok: problems.length === 0, problems, counts };
  } finally {
    c.release();
  }
}

/** A plain-text table: one line per problem. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatAudit(r: AuditReport): string {
  const summary = `cards ${r.counts.cards}, txns ${r.counts.txns}, entries ${r.counts.entries}, authorisations ${r.counts.authorisations}`;
  if (r.ok) return `audit: every invariant holds (${summary})`;
  return `audit: ${r.problems.length} problem(s) (${summary})\n\n`
    + formatTable(['check', 'subject', 'expected', 'actual'], r.problems.map((p) => [p.check, p.subject, p.expected, p.actual]));
}
