// The terminal's batch: its close (0500: the switch's totals of the batch beside the terminal's; the batch is
// closed and the next opened) and its upload of transaction detail (recorded once per key).
import { inTransaction, type Pool, type PoolClient } from '../db/pool.js';
import type { Logger } from '../log.js';
import { systemError } from './outcomes.js';
import type { Reference } from './reference.js';
import type { Outcome, BatchTotals, UploadRequest } from './types.js';

export interface BatchCloseRequest { terminalId: string; batchNo: string; terminal: BatchTotals }
export interface BatchCloseResult { balanced: boolean; switchTotals: BatchTotals; nextBatchNo: string }

export class BatchClose {
  constructor(
    private readonly pool: Pool,
    private readonly reference: Pick<Reference, 'terminalChanged'>,
    private readonly log: Logger,
  ) {}

  /** Closes the batch with the switch's totals, whether or not they match the terminal's, and opens the next. */
  async close(r: BatchCloseRequest): Promise<BatchCloseResult> {
    const { u, balanced, switchTotals, nextBatchNo } = await inTransaction(this.pool, async (c) => {
      // Locks the terminal's row: two closes of one terminal run one after the other.
      const t = await c.query('SELECT batch_no FROM terminals WHERE terminal_id = $1 FOR UPDATE', [r.terminalId]);
      if (!t.rows[0]) throw new Error(`terminal ${r.terminalId} is not known`);
      const switchTotals = await batchTotals(c, r.terminalId, r.batchNo);
      const balanced = sameTotals(switchTotals, r.terminal);
      const s = await c.query(
        `INSERT INTO batch_closes (terminal_id, batch_no, debit_fen, debit_count, credit_fen, credit_count, terminal_totals, balanced)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING batch_close_id`,
        [r.terminalId, r.batchNo, switchTotals.debitFen, switchTotals.debitCount, switchTotals.creditFen,
          switchTotals.creditCount, JSON.stringify(r.terminal), balanced]);
      await c.query(
        'UPDATE authorisations SET batch_close_id = $3 WHERE terminal_id = $1 AND batch_no = $2 AND batch_close_id IS NULL',
        [r.terminalId, r.batchNo, s.rows[0].batch_close_id]);
      const nextBatchNo = nextBatch(r.batchNo);
      const u = await c.query(
        `UPDATE terminals SET batch_no = $2, version = version + 1 WHERE terminal_id = $1 AND batch_no = $3 RETURNING *`,
        [r.terminalId, nextBatchNo, r.batchNo]);
      return { u, balanced, switchTotals, nextBatchNo };
    });
    if (u.rows[0]) await this.reference.terminalChanged(u.rows[0]);
    return { balanced, switchTotals, nextBatchNo };
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
      return systemError(this.log, 'upload', err);
    }
  }
}

/** The switch's totals of a terminal's batch not closed yet: approved purchases (refunded or not) and refunds. */
async function batchTotals(c: PoolClient, terminalId: string, batchNo: string): Promise<BatchTotals> {
  const { rows } = await c.query(
    `SELECT coalesce(sum(amount_fen) FILTER (WHERE kind = 'purchase'), 0)::bigint AS debit_fen,
            count(*) FILTER (WHERE kind = 'purchase')::int AS debit_count,
            coalesce(sum(amount_fen) FILTER (WHERE kind = 'refund'), 0)::bigint AS credit_fen,
            count(*) FILTER (WHERE kind = 'refund')::int AS credit_count
     FROM authorisations
     WHERE terminal_id = $1 AND batch_no = $2 AND batch_close_id IS NULL
       AND ((kind = 'purchase' AND state IN ('approved', 'partially_refunded', 'refunded'))
         OR (kind = 'refund' AND state = 'approved'))`, [terminalId, batchNo]);
  const row = rows[0];
  return { debitFen: row.debit_fen, debitCount: row.debit_count, creditFen: row.credit_fen, creditCount: row.credit_count };
}

function sameTotals(a: BatchTotals, b: BatchTotals): boolean {
  return a.debitFen === b.debitFen && a.debitCount === b.debitCount && a.creditFen === b.creditFen && a.creditCount === b.creditCount;
}

/** Batch numbers run 000001…999999 and wrap to 000001. */
export function nextBatch(batchNo: string): string {
  const n = Number(batchNo);
  return String(n >= 999999 ? 1 : n + 1).padStart(6, '0');
}
