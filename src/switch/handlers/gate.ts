import type { HandlerContext } from '../types.js';

/** `work` through the card gate when the switch has one (null: the card has too many requests in flight). */
export function gated<T>(ctx: HandlerContext, cardNo: string, work: () => Promise<T>): Promise<T | null> {
  return ctx.cardGate ? ctx.cardGate.through(cardNo, work) : work();
}
