// 0320: batch upload after an unbalanced batch close: the terminal sends each transaction of its batch, and the
// ledger records it for reconciliation (it never moves points).
import { declined, approved } from '../respond.js';
import type { Handler } from '../types.js';
import { amountFen, cardNumber, txnKey } from './fields.js';

export const upload: Handler = async (ctx, req) => {
  const cardNo = cardNumber(req.msg);
  if (!cardNo) return declined({ kind: 'unknown-card' });
  const r = await ctx.ledger.upload({ key: txnKey(req), cardNo, amountFen: amountFen(req.msg) });
  return r.ok ? { responseCode: approved, cardNo } : declined(r.decline, { cardNo });
};
