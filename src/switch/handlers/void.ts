// 0200 / 200000 / 60.1 23: void of a purchase of the same batch; 37 and 61 name the original.
import { declined } from '../respond.js';
import type { Handler } from '../types.js';
import { gated } from './gate.js';
import { approvalReply } from './approval.js';
import { amountFen, cardNumber, field61, text, txnKey } from './fields.js';

export const voidPurchase: Handler = async (ctx, req) => {
  const cardNo = cardNumber(req.msg);
  if (!cardNo) return declined({ kind: 'unknown-card' });
  const f61 = field61(req.msg);
  const rrn = text(req.msg, 37)?.trim();
  const r = await gated(ctx, cardNo, () => ctx.ledger.void({
    key: txnKey(req),
    merchantId: req.terminal.merchantId,
    cardNo,
    amountFen: amountFen(req.msg),
    original: { ...(rrn ? { rrn } : {}), batchNo: f61.batchNo ?? '', trace: f61.trace ?? '' },
  }));
  return r.ok ? approvalReply(r, cardNo) : declined(r.decline, { cardNo });
};
