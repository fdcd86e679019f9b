// 0500: batch close (UnionPay's batch settlement). The terminal's totals (48) are compared with the switch's own for that batch.
// Answer: 39 = 00 and the totals echoed in 48 with code 1 (balanced, UnionPay's 48 "settlement code") or
// 2 (not balanced), UnionPay style, so the terminal uploads its batch when unbalanced; with
// batchCloseUnbalancedCode = 95 an unbalanced batch is answered 95 (ISO 8583 "reconcile error") instead.
import { formatBatchTotals, parseBatchTotals } from '../../../protocol/index.js';
import { approved, declined } from '../respond.js';
import type { Handler } from '../types.js';
import { field60, text } from './fields.js';

export const batchClose: Handler = async (ctx, req) => {
  const f48 = text(req.msg, 48);
  let totals;
  try {
    totals = f48 ? parseBatchTotals(f48) : null;
  } catch {
    totals = null;
  }
  if (!totals) return declined({ kind: 'format-error', detail: 'batch totals (48) unreadable' });
  const terminal = {
    debitFen: Number(totals.debitFen), debitCount: totals.debitCount,
    creditFen: Number(totals.creditFen), creditCount: totals.creditCount,
  };
  const batchNo = field60(req.msg).batchNo || req.terminal.batchNo;
  const r = await ctx.ledger.closeBatch({ terminalId: req.terminal.terminalId, batchNo, terminal });
  const responseCode = r.balanced ? approved : ctx.settings.batchCloseUnbalancedCode;
  return {
    responseCode,
    fields: { 48: formatBatchTotals({ ...totals, batchCloseCode: r.balanced ? '1' : '2' }) },
  };
};
