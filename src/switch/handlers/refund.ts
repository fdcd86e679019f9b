// 0220 / 200000 / 60.1 25: refund (return of goods), possibly days later; 37 names the original, 61 may add
// its batch, trace and date.
import { declined } from '../respond.js';
import type { Handler } from '../types.js';
import { gated } from './gate.js';
import { approvalReply } from './approval.js';
import { amountFen, cardNumber, field61, text, txnKey } from './fields.js';

export const refund: Handler = async (ctx, req) => {
  const cardNo = cardNumber(req.msg);
  if (!cardNo) return declined({ kind: 'unknown-card' });
  const f61 = field61(req.msg);
  const rrn = text(req.msg, 37)?.trim() ?? '';
  if (!rrn) return declined({ kind: 'original-not-found' }, { cardNo });
  const r = await gated(ctx, cardNo, () => ctx.ledger.refund({
    key: txnKey(req),
    merchantId: req.terminal.merchantId,
    cardNo,
    amountFen: amountFen(req.msg),
    original: {
      rrn,
      ...(f61.batchNo && f61.batchNo !== '000000' ? { batchNo: f61.batchNo } : {}),
      ...(f61.trace && f61.trace !== '000000' ? { trace: f61.trace } : {}),
      // terminals that do not know the original's date send zeros
      ...(f61.date && f61.date !== '0000' ? { date: f61.date } : {}),
    },
  }));
  return r.ok ? approvalReply(r, cardNo) : declined(r.decline, { cardNo });
};
