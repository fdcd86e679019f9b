// 0820 sign-off: the terminal's working keys are retired; it must sign on again before the next transaction.
import { approved } from '../respond.js';
import type { Handler } from '../types.js';

export const signOff: Handler = async (ctx, req) => {
  await ctx.ledger.signOff(req.terminal.terminalId);
  return { responseCode: approved, noMac: true };
};
