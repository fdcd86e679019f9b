// What became of a request, in the words a receipt's heading and `swipe`'s exit code use (the table in
// simulators/README.md). A request that never left is not declined, and an approval whose working keys fail their
// check values is not approved: each outcome is named once here and mapped once to its code.
import type { TxnResult } from './terminal.js';

export type Verdict = 'approved' | 'declined' | 'bad-arguments' | 'no-answer' | 'not-sent' | 'keys-rejected';

export const exitCodes: Record<Verdict, number> = {
  approved: 0, declined: 1, 'bad-arguments': 2, 'no-answer': 3, 'not-sent': 4, 'keys-rejected': 5,
};

export function verdict(r: Pick<TxnResult, 'outcome' | 'responseCode' | 'keysOk'>): Exclude<Verdict, 'bad-arguments'> {
  if (r.outcome === 'not-sent' || r.outcome === 'no-connection') return 'not-sent';
  if (r.outcome !== 'answer') return 'no-answer';
  if (r.keysOk === false) return 'keys-rejected';
  return r.responseCode === '00' ? 'approved' : 'declined';
}

/** The receipt's heading after the transaction's name: APPROVED, DECLINED 51, KEYS REJECTED, NO ANSWER, NOT SENT. */
export function heading(r: Pick<TxnResult, 'outcome' | 'responseCode' | 'keysOk'>): string {
  const v = verdict(r);
  switch (v) {
    case 'approved': return 'APPROVED';
    case 'declined': return `DECLINED ${r.responseCode ?? ''}`.trimEnd();
    case 'keys-rejected': return 'KEYS REJECTED';
    case 'no-answer': return 'NO ANSWER';
    case 'not-sent': return 'NOT SENT';
    default: { const unmapped: never = v; return unmapped; }
  }
}

export function exitCodeOf(r: Pick<TxnResult, 'outcome' | 'responseCode' | 'keysOk'>): number {
  return exitCodes[verdict(r)];
}
