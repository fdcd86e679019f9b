import type { Decline } from '../../ledger/index.js';
import type { HandlerContext } from '../types.js';

/**
 * `work` through the card gate when the switch has one; a card with too many requests in flight gets the decline
 * (65) at once, as the ledger would answer a decline, so the handler answers it the same way.
 */
export async function gated<T>(ctx: HandlerContext, cardNo: string, work: () => Promise<T>): Promise<T | { ok: false; decline: Decline }> {
  if (!ctx.cardGate) return work();
  return (await ctx.cardGate.through(cardNo, work)) ?? { ok: false, decline: { kind: 'card-too-frequent' } };
}
