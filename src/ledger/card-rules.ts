// The card checks a debit or inquiry must pass, in TypeScript for answers served from the cache.
// The same rules run in SQL (ps_card_decline, src/ledger/sql/ps_card_decline.sql) where Postgres decides a debit;
// test/ledger/sql-parity.test.ts holds the two equal.
import type { Decline } from './decline.js';
import type { CardState } from './types.js';

/** YYMM of a business date 'YYYY-MM-DD'. */
export function yymmOf(businessDate: string): string {
  return businessDate.slice(2, 4) + businessDate.slice(5, 7);
}

/** The first reason the card cannot be used, or null. pvv: the PIN verification value of the entered PIN. */
export function cardDecline(card: CardState | null, businessDate: string, pvv: string | null): Decline | null {
  if (!card) return { kind: 'unknown-card' };
  if (card.status === 'lost') return { kind: 'card-lost' };
  if (card.status === 'frozen') return { kind: 'card-frozen' };
  if (card.status === 'closed') return { kind: 'card-closed' };
  if (card.status === 'expired' || card.expiry < yymmOf(businessDate)) return { kind: 'card-expired' };
  if (!card.enrolled) return { kind: 'not-enrolled' };
  if (card.pinVerification !== null && pvv !== card.pinVerification) return { kind: 'incorrect-pin' };
  return null;
}

/** Today's business date in Asia/Shanghai, 'YYYY-MM-DD' (the switch's date of receipt). */
export function businessDateOf(at: Date = new Date()): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}
