// What the terminals saw (fleet.ts, `Seen`) against what the ledger holds. Pure over the two pictures, so that a
// test can tamper with either and see each check fail (reconcile.test.ts); `ledgerPicture` reads the ledger's.
import type pg from 'pg';
import { seenKey, type Seen } from './fleet.js';

/** An authorisation made in the phase, with the member points its ledger transactions moved (signed). */
export interface LedgerRow {
  terminalId: string;
  batchNo: string;
  trace: string;
  kind: string;
  state: string;
  responseCode: string;
  cardNo: string;
  points: number;
  moved: number;
}

export interface Picture {
  rows: LedgerRow[];
  /** Card balances at the phase's start and at its end (the terminals stopped, every reversal sent). */
  before: Map<string, number>;
  after: Map<string, number>;
}

export interface Check { name: string; ok: boolean; detail: string }

export interface Observed {
  seen: Seen[];
  /** Retransmissions answered with another RRN than their approval's. */
  resendMismatches: number;
  /** Reversals the terminals still owed when the phase ended. */
  reversalsOwed: number;
}

const standing = new Set(['approved', 'voided', 'partially_refunded', 'refunded']);
const examplesMax = 3;

function check(name: string, bad: string[], okDetail: string): Check {
  return { name, ok: bad.length === 0, detail: bad.length === 0 ? okDetail : `${bad.length}: ${bad.slice(0, examplesMax).join('; ')}` };
}

/** The member points an approval moves, by its kind: a purchase takes its points, a void or refund gives them. */
function expectedMove(row: LedgerRow): number {
  return row.kind === 'purchase' ? -row.points : row.points;
}

export function reconcile(o: Observed, p: Picture): Check[] {
  const rows = new Map(p.rows.map((r) => [seenKey(r.terminalId, r.batchNo, r.trace), r]));
  const approvalsKept: Seen[] = [];
  const noDebit: string[] = [];
  const reversedMoved: string[] = [];
  const declinedMoved: string[] = [];
  const owed: string[] = [];
  for (const s of o.seen) {
    const key = seenKey(s.terminalId, s.batchNo, s.trace);
    const row = rows.get(key);
    if (s.reversal === 'pending') { owed.push(key); continue; }
    if (s.reversal === 'approved') {
      if (row && row.moved !== 0) reversedMoved.push(`${key} reversed, yet moved ${row.moved} points (${row.state})`);
      continue;
    }
    if (s.answer === 'approved' && s.reversal === 'none') {
      approvalsKept.push(s);
      if (!row) noDebit.push(`${key} ${s.kind} approved (RRN ${s.rrn}): no authorisation`);
      else if (row.responseCode !== '00' || !standing.has(row.state)) noDebit.push(`${key} ${s.kind} approved: ${row.state} ${row.responseCode} in the ledger`);
      else if (row.points <= 0 || row.moved !== expectedMove(row)) noDebit.push(`${key} ${s.kind} approved for ${row.points} points: the ledger moved ${row.moved}`);
      continue;
    }
    if (s.answer === 'declined' && row && row.moved !== 0) declinedMoved.push(`${key} declined ${s.code}, yet moved ${row.moved} points`);
  }

  // Per card: the balance moved by exactly what the approvals the terminals kept moved, and nothing else did.
  const expected = new Map<string, number>();
  const explained = new Set<string>();
  for (const s of approvalsKept) {
    const key = seenKey(s.terminalId, s.batchNo, s.trace);
    const row = rows.get(key);
    explained.add(key);
    if (row) expected.set(row.cardNo, (expected.get(row.cardNo) ?? 0) + expectedMove(row));
  }
  const twice: string[] = [];
  for (const [cardNo, after] of p.after) {
    const moved = after - (p.before.get(cardNo) ?? after);
    const want = expected.get(cardNo) ?? 0;
    if (moved !== want) twice.push(`card ${cardNo.slice(0, 6)}…${cardNo.slice(-4)} moved ${moved}, the approvals seen ${want}`);
  }
  const unexplained = p.rows.filter((r) => r.moved !== 0 && !explained.has(seenKey(r.terminalId, r.batchNo, r.trace)))
    .map((r) => `${seenKey(r.terminalId, r.batchNo, r.trace)} ${r.kind} ${r.state} moved ${r.moved} with no approval seen`);
  if (o.resendMismatches > 0) twice.push(`${o.resendMismatches} retransmissions answered with another RRN than their approval`);

  return [
    check('every approval seen has its debit', noDebit, `${approvalsKept.length} approvals, each booked once as answered`),
    check('every reversed request left the balance as before', [...reversedMoved, ...declinedMoved],
      `${o.seen.filter((s) => s.reversal === 'approved').length} reversed, ${o.seen.filter((s) => s.answer === 'declined').length} declined: none moved a point`),
    check('no point debited twice', [...twice, ...unexplained], `${p.after.size} cards: each moved by exactly its approvals`),
    check('every unanswered request reversed', o.reversalsOwed > 0 ? [`${o.reversalsOwed} reversals still owed`, ...owed] : owed, 'none owed'),
  ];
}

/** The highest authorisation id now: the rows after it are the next phase's. */
export async function watermark(db: pg.ClientBase): Promise<number> {
  return Number((await db.query('SELECT coalesce(max(auth_id), 0) AS id FROM authorisations')).rows[0].id);
}

export async function balances(db: pg.ClientBase): Promise<Map<string, number>> {
  const { rows } = await db.query<{ card_no: string; balance: string }>('SELECT card_no, balance FROM cards');
  return new Map(rows.map((r) => [r.card_no, Number(r.balance)]));
}

/** The authorisations made after `sinceAuthId`, each with the member points its ledger transactions moved. */
export async function ledgerRows(db: pg.ClientBase, sinceAuthId: number): Promise<LedgerRow[]> {
  const { rows } = await db.query(
    `SELECT a.terminal_id, a.batch_no, a.trace, a.kind, a.state, a.response_code, a.card_no, a.points,
            coalesce((SELECT sum(l.member_points) FROM ledger_txns l WHERE l.auth_id = a.auth_id), 0) AS moved
       FROM authorisations a WHERE a.auth_id > $1`, [sinceAuthId]);
  return rows.map((r) => ({
    terminalId: r.terminal_id, batchNo: r.batch_no, trace: r.trace, kind: r.kind, state: r.state, responseCode: r.response_code,
    cardNo: r.card_no, points: Number(r.points), moved: Number(r.moved),
  }));
}
