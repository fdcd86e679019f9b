// 0400: reversal of a purchase, void or refund whose answer the terminal did not get. It carries the same
// 60.2 batch and 11 trace as the request it reverses; the ledger approves it even when it finds nothing to
// reverse, and leaves a marker so that a late original is declined.
import type { ReversalRequest } from '../../ledger/index.js';
import { approved, declined } from '../respond.js';
import type { Handler } from '../types.js';
import { amountFen, cardNumber, field60, text, txnKey } from './fields.js';

function reversedKind(processingCode: string, txnType: string): ReversalRequest['kind'] {
  if (txnType === '23') return 'void';
  if (txnType === '25') return 'refund';
  if (txnType === '22') return 'purchase';
  return processingCode.startsWith('20') ? 'void' : 'purchase';
}

export const reversal: Handler = async (ctx, req) => {
  const cardNo = cardNumber(req.msg);
  if (!cardNo) return declined({ kind: 'unknown-card' });
  const reasonCode = text(req.msg, 39);
  const r = await ctx.ledger.reverse({
    original: txnKey(req),
    kind: reversedKind(text(req.msg, 3) ?? '', field60(req.msg).txnType),
    cardNo,
    amountFen: amountFen(req.msg),
    ...(reasonCode ? { reasonCode } : {}),
  });
  return r.ok ? { responseCode: approved, cardNo } : declined(r.decline, { cardNo });
};
