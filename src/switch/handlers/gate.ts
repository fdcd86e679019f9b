import type { Refusal } from '../../ledger/decline.js';
import type { HandlerContext } from '../types.js';

/**
 * `work` through the card gate when the switch has one; a card with too many requests in flight is refused
 * (card-too-frequent) at once, shaped as the ledger's decline, so the handler answers it the same way.
 */
export async function gated<T>(ctx: HandlerContext, cardNo: string, work: () => Promise<T>): Promise<T | { ok: false; decline: Refusal }> {
  if (!ctx.cardGate) return work();
  return (await ctx.cardGate.through(cardNo, work)) ?? { ok: false, decline: { kind: 'card-too-frequent' } };
}
