// Every reason a request is refused, as a value: the ledger's declines and the switch's own refusals (made before
// a request reaches the ledger). responseCodeFor is the one place a reason becomes an ISO code. The switch's
// refusals are defined here, beside the ledger's, as plain data: the ledger may not import the switch, and one
// exhaustive switch over both keeps one kind -> code table.

/** The ledger's reasons (SQL produces these too, as JSON: see asDecline). */
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
  /** The purchase's business date lies in a closed clearing period (src/clearing). */
  | { kind: 'period-closed' }
  | { kind: 'system-error'; detail: string };

/** The switch's own refusals: the request never reached a handler, or a handler could not read it. */
export type SwitchRefusal =
  /** A field the switch needs is missing or unreadable (41, the 0500's totals in 48, or the whole frame). */
  | { kind: 'format-error'; detail: string }
  | { kind: 'unknown-terminal' }
  | { kind: 'terminal-inactive'; status: string }
  | { kind: 'not-signed-on' }
  | { kind: 'mac-missing' }
  | { kind: 'mac-invalid' }
  /** Field 42 names a merchant other than the terminal's. */
  | { kind: 'merchant-not-terminals' }
  /** No handler for this MTI, processing code and 60.1. */
  | { kind: 'function-not-supported' }
  /** More of the card's debits and credits in flight at once than the switch's card gate takes. */
  | { kind: 'card-too-frequent' };

export type Refusal = Decline | SwitchRefusal;
export type DeclineKind = Decline['kind'];
export type SwitchRefusalKind = SwitchRefusal['kind'];
export type RefusalKind = Refusal['kind'];

export function responseCodeFor(r: Refusal): string {
  switch (r.kind) {
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
    case 'period-closed': return '12';
    case 'system-error': return '96';
    case 'format-error': return '30';
    case 'unknown-terminal': return '97';    // terminal not registered
    case 'terminal-inactive': return '97';
    case 'not-signed-on': return '97';
    case 'mac-missing': return 'A0';
    case 'mac-invalid': return 'A0';
    case 'merchant-not-terminals': return '03';
    case 'function-not-supported': return '40';
    case 'card-too-frequent': return '65';   // over frequency limit
    default: {
      const unmapped: never = r;
      return unmapped;
    }
  }
}

// Every kind, listed once; the Record types make a missing kind a compile error.
const declineKindSet: Record<DeclineKind, true> = {
  'unknown-card': true, 'card-lost': true, 'card-frozen': true, 'card-expired': true, 'card-closed': true,
  'not-enrolled': true, 'incorrect-pin': true, 'insufficient-points': true, 'invalid-merchant': true,
  'terminal-not-permitted': true, 'invalid-amount': true, duplicate: true, 'original-not-found': true,
  'original-amount-wrong': true, 'original-not-voidable': true, 'original-not-refundable': true,
  'refund-exceeds-original': true, 'reversed-before-arrival': true, 'period-closed': true, 'system-error': true,
};
const switchRefusalKindSet: Record<SwitchRefusalKind, true> = {
  'format-error': true, 'unknown-terminal': true, 'terminal-inactive': true, 'not-signed-on': true,
  'mac-missing': true, 'mac-invalid': true, 'merchant-not-terminals': true, 'function-not-supported': true,
  'card-too-frequent': true,
};

export const declineKinds: readonly DeclineKind[] = Object.freeze(Object.keys(declineKindSet) as DeclineKind[]);
export const switchRefusalKinds: readonly SwitchRefusalKind[] = Object.freeze(Object.keys(switchRefusalKindSet) as SwitchRefusalKind[]);
export const refusalKinds: readonly RefusalKind[] = Object.freeze([...declineKinds, ...switchRefusalKinds]);

export function isDeclineKind(kind: unknown): kind is DeclineKind {
  return typeof kind === 'string' && Object.hasOwn(declineKindSet, kind);
}

/** A value of `kind` whose data fields are placeholders: enough to ask its code. */
export function sampleOf(kind: RefusalKind): Refusal {
  return { kind, balancePoints: 0, state: '', refundablePoints: 0, detail: '', status: '' } as Refusal;
}

/** kind -> code for every ledger kind (written to the response_codes table so SQL stores the same code). */
export function responseCodeTable(): Array<{ kind: DeclineKind; code: string }> {
  return declineKinds.map((kind) => ({ kind, code: responseCodeFor(sampleOf(kind)) }));
}

/** Where asDecline reports a kind it does not know (the ledger's logger has `error` of this shape). */
export interface UnknownKindLog {
  error(obj: Record<string, unknown>, msg: string): void;
}

const unknownKinds = new Map<string, number>();

/** How many declines of each unknown kind asDecline has met in this process (none: an empty object). */
export function unknownDeclineKinds(): Record<string, number> {
  return Object.fromEntries(unknownKinds);
}

/**
 * A decline from SQL's JSON. A kind TypeScript does not know (SQL changed without this file) becomes a
 * system error (96) that names it, is counted (unknownDeclineKinds) and logged at error through `log`, or to
 * stderr when none is given: mapping it silently would answer 96 with nothing saying why.
 */
export function asDecline(json: unknown, log?: UnknownKindLog): Decline {
  const kind = json !== null && typeof json === 'object' ? (json as { kind?: unknown }).kind : undefined;
  if (isDeclineKind(kind)) return json as Decline;
  const named = typeof kind === 'string' ? kind : JSON.stringify(json) ?? String(json);
  unknownKinds.set(named, (unknownKinds.get(named) ?? 0) + 1);
  const detail = `decline kind ${JSON.stringify(named)} from SQL is not a known kind`;
  if (log) log.error({ kind: named, count: unknownKinds.get(named) }, detail);
  else process.stderr.write(`pointswitch: ${detail}\n`);
  return { kind: 'system-error', detail };
}
