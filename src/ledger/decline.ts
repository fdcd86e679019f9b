// Every reason the ledger says no, as a value. responseCodeFor is the one place a reason becomes an ISO code.
export type Decline =
  | { kind: 'unknown-card' }
  | { kind: 'card-lost' }
  | { kind: 'card-frozen' }
  | { kind: 'card-expired' }
  | { kind: 'card-closed' }
  | { kind: 'not-enrolled' }
  | { kind: 'incorrect-pin' }
  | { kind: 'insufficient-points'; balancePoints: number }
  | { kind: 'invalid-merchant' }
  | { kind: 'terminal-not-permitted' }
  | { kind: 'invalid-amount' }
  | { kind: 'duplicate' }
  | { kind: 'original-not-found' }
  | { kind: 'original-amount-wrong' }
  | { kind: 'original-not-voidable'; state: string }
  | { kind: 'original-not-refundable'; state: string }
  | { kind: 'refund-exceeds-original'; refundablePoints: number }
  | { kind: 'reversed-before-arrival' }
  | { kind: 'card-too-frequent' }
  | { kind: 'system-error'; detail: string };

export type DeclineKind = Decline['kind'];

export function responseCodeFor(d: Decline): string {
  switch (d.kind) {
    case 'unknown-card': return '14';
    case 'card-lost': return '41';
    case 'card-frozen': return '62';        // restricted card
    case 'card-expired': return '54';
    case 'card-closed': return '62';
    case 'not-enrolled': return '58';       // transaction not permitted to terminal/cardholder
    case 'incorrect-pin': return '55';
    case 'insufficient-points': return '51';
    case 'invalid-merchant': return '03';
    case 'terminal-not-permitted': return '58';
    case 'invalid-amount': return '13';
    case 'duplicate': return '94';
    case 'original-not-found': return '25';
    case 'original-amount-wrong': return '64';
    case 'original-not-voidable': return '12';
    case 'original-not-refundable': return '12';
    case 'refund-exceeds-original': return '61';
    case 'reversed-before-arrival': return '12';
    case 'card-too-frequent': return '65';   // over frequency limit: more of the card's requests at once than the switch takes
    case 'system-error': return '96';
    default: {
      const unmapped: never = d;
      return unmapped;
    }
  }
}

/** Every decline kind, listed once; the Record type makes a missing kind a compile error. */
const kinds: Record<DeclineKind, true> = {
  'unknown-card': true, 'card-lost': true, 'card-frozen': true, 'card-expired': true, 'card-closed': true,
  'not-enrolled': true, 'incorrect-pin': true, 'insufficient-points': true, 'invalid-merchant': true,
  'terminal-not-permitted': true, 'invalid-amount': true, duplicate: true, 'original-not-found': true,
  'original-amount-wrong': true, 'original-not-voidable': true, 'original-not-refundable': true,
  'refund-exceeds-original': true, 'reversed-before-arrival': true, 'card-too-frequent': true, 'system-error': true,
};

/** kind -> code for every kind (written to the response_codes table so SQL stores the same code). */
export function responseCodeTable(): Array<{ kind: DeclineKind; code: string }> {
  return (Object.keys(kinds) as DeclineKind[]).map((kind) => ({
    kind,
    code: responseCodeFor({ kind, balancePoints: 0, state: '', refundablePoints: 0, detail: '' } as Decline),
  }));
}
