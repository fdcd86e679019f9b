// What the ledger's SQL functions answer, and how an answer becomes the Outcome a caller gets: business
// outcomes are values, never exceptions; only a failure that is no business outcome is a system error.
import type { Logger } from '../log.js';
import type { Decline } from './decline.js';
import type { Approval, Outcome } from './types.js';

/** What the SQL functions return: the stored response, plus the card's new version/balance for the cache. */
export type SqlOutcome = {
  ok: boolean; retry?: boolean; decline?: Decline; replayed?: boolean; rrn?: string; authCode?: string; points?: number; amountFen?: number;
  balancePoints?: number; reversed?: boolean; card?: { version: number; balance: number };
};

export function declined(d: Decline): { ok: false; decline: Decline } {
  return { ok: false, decline: d };
}

export function toApproval(out: SqlOutcome): Outcome<Approval> {
  if (!out.ok) return declined(out.decline ?? { kind: 'system-error', detail: 'no decline reason' });
  return {
    ok: true, rrn: out.rrn ?? '', authCode: out.authCode ?? '', points: out.points ?? 0, amountFen: out.amountFen ?? 0,
    balancePoints: out.balancePoints ?? 0, replayed: out.replayed === true,
  };
}

/** A failure that is no business outcome (a lost connection, a bug): logged, and answered as a system error. */
export function systemError(log: Logger, op: string, err: unknown): { ok: false; decline: Decline } {
  const detail = err instanceof Error ? err.message : String(err);
  log.error({ op, err: detail }, 'ledger: system error');
  return declined({ kind: 'system-error', detail });
}
