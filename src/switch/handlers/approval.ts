// The fields every approved money transaction answers with.
import type { Approval } from '../../ledger/index.js';
import { approved, balanceField } from '../respond.js';
import type { Reply } from '../types.js';

export function approvalReply(a: Approval, cardNo: string): Reply {
  return {
    responseCode: approved,
    cardNo,
    fields: { 37: a.rrn, 38: a.authCode, 54: balanceField(a.balancePoints) },
  };
}
