// 0200 / 000000 / 60.1 22: purchase paid in points. The ledger converts fen to points at the merchant's rate,
// debits through its batcher and makes a retransmission (same terminal, batch, trace, date) return the first answer.
import { declined } from '../respond.js';
import type { Handler } from '../types.js';
import { gated } from './gate.js';
import { approvalReply } from './approval.js';
import { amountFen, cardNumber, pinOf, text, txnKey } from './fields.js';

export const purchase: Handler = async (ctx, req) => {
  const cardNo = cardNumber(req.msg);
  if (!cardNo) return declined({ kind: 'unknown-card' });
  const pin = pinOf(req, cardNo);
  if (pin === null) return declined({ kind: 'incorrect-pin' }, { cardNo });
  const r = await gated(ctx, cardNo, () => ctx.ledger.purchase({
    key: txnKey(req),
    merchantId: req.terminal.merchantId,
    cardNo,
    amountFen: amountFen(req.msg),
    pin: pin ?? null,
    cardExpiry: text(req.msg, 14) ?? null,
  }));
  return r.ok ? approvalReply(r, cardNo) : declined(r.decline, { cardNo });
};
