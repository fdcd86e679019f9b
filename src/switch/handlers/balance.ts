// 0200 / 31xxxx / 60.1 01: balance inquiry, answered with field 54 in points.
import { approved, balanceField, declined } from '../respond.js';
import type { Handler } from '../types.js';
import { cardNumber, pinOf } from './fields.js';

export const balance: Handler = async (ctx, req) => {
  const cardNo = cardNumber(req.msg);
  if (!cardNo) return declined({ kind: 'unknown-card' });
  const pin = pinOf(req, cardNo);
  if (pin === null) return declined({ kind: 'incorrect-pin' }, { cardNo });
  const r = await ctx.ledger.balance({ cardNo, terminalId: req.terminal.terminalId, pin: pin ?? null });
  if (!r.ok) return declined(r.decline, { cardNo });
  return { responseCode: approved, cardNo, fields: { 54: balanceField(r.balancePoints) } };
};
