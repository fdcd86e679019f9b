// Request-rate budgets: token buckets by key, `ratePerS` turns a second and `burst` at once. A turn taken
// beyond the budget is a debt, paid back in order: its taker is told how long to wait. The switch keeps two:
// - TerminalThrottle, by client address and terminal: a request over it waits its turn before any work is
//   done on it (no MAC check, no ledger), holding its in-flight slot but no CPU, so a terminal stuck in a
//   loop, or a client pipelining as fast as it is answered, gets its rate and no more: the switch's one thread
//   stays free for the others (the per-connection and per-address in-flight limits then stop reading it). A
//   real terminal sends a request a second at most; the default budget is far above that and above a load
//   simulator's busiest terminal.
// - RefusalGuard (refusal-guard.ts), by client address, for requests that are refused.
import { TokenBuckets } from '../net/token-buckets.js';

export { TokenBuckets };

/** The switch's default burst for a rate: a tenth of a second's worth, and at least a connection's pipeline (32). */
export function defaultBurst(ratePerS: number): number {
  return Math.max(32, Math.ceil(ratePerS / 10));
}

/**
 * A budget kept per client address and, optionally, for the whole switch: a turn is taken from both, and its
 * taker waits for the later. (The refusal budget and the sign-on budget.)
 */
export class AddressBudget {
  private readonly byAddress: TokenBuckets;
  private readonly whole: TokenBuckets | null;

  constructor(
    readonly perAddressRatePerS: number,
    readonly switchRatePerS: number | undefined,
    o: { burst?: number; switchBurst?: number; entriesMax?: number; now?: () => number } = {},
  ) {
    this.byAddress = new TokenBuckets(perAddressRatePerS, o.burst ?? defaultBurst(perAddressRatePerS), o.entriesMax, o.now);
    this.whole = switchRatePerS === undefined ? null
      : new TokenBuckets(switchRatePerS, o.switchBurst ?? defaultBurst(switchRatePerS), 1, o.now);
  }

  get burst(): number {
    return this.byAddress.burst;
  }

  /** Takes a turn for `address` (and the switch); returns how long (ms) its taker waits, 0 for now. */
  take(address: string): number {
    const own = this.byAddress.take(address);
    return this.whole ? Math.max(own, this.whole.take('')) : own;
  }

  /** Turns `address` has left (below 0: owed). */
  left(address: string): number {
    return this.byAddress.left(address);
  }

  /** Turns the whole switch has left (below 0: owed); undefined without a switch-wide budget. */
  switchLeft(): number | undefined {
    return this.whole?.left('');
  }
}

/** Each terminal's request-rate budget, by client address and terminal (the switch's key). */
export class TerminalThrottle extends TokenBuckets {
  /** Requests that had to wait, since start. */
  throttled = 0;

  constructor(
    ratePerS: number,
    /** Requests at once (defaultBurst). */
    burst: number = defaultBurst(ratePerS),
    entriesMax?: number,
    now?: () => number,
  ) {
    super(ratePerS, burst, entriesMax, now);
  }

  /** Takes a turn for `key`; returns how long (ms) the request must wait for it, 0 for now. */
  delayFor(key: string): number {
    const wait = this.take(key);
    if (wait > 0) this.throttled++;
    return wait;
  }
}
