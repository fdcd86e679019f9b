// A budget for sign-ons. A sign-on carries no MAC (the terminal has no working keys yet), so anyone who knows a
// terminal's number can ask for one, and each is a write of its own: new keys, an UPDATE and its commit (not
// shared with the debits' batches), a cache write. A client sending sign-ons for real terminals' numbers from
// many connections had every one approved, and those writes took throughput and latency from good terminals'
// purchases. A real terminal signs on once a day or after a key change.
//
// So sign-ons (and sign-offs without a MAC, the same kind of write) take a turn from their client address's
// budget and from the whole switch's, and wait for the later of the two before any work is done on them: set
// aside (ConnectionInfo.aside), not counted in flight, holding their connection's one place. A terminal's own
// sign-on during such a flood is served in its turn; the keys its terminal proved stay in use meanwhile.
import { AddressBudget } from './throttle.js';

export class SignOnBudget {
  private readonly budget: AddressBudget;
  /** Sign-ons that waited for their turn, since start. */
  delayed = 0;

  constructor(readonly ratePerS: number, readonly perAddressRatePerS: number, now?: () => number) {
    this.budget = new AddressBudget(perAddressRatePerS, ratePerS, now ? { now } : {});
  }

  /** Takes a turn for a sign-on from `address`: how long (ms) it waits for it, 0 for now. */
  take(address: string): number {
    const waitMs = this.budget.take(address);
    if (waitMs > 0) this.delayed++;
    return waitMs;
  }

  /** Turns the whole switch has left (below 0: owed). */
  left(): number {
    return this.budget.switchLeft()!;
  }
}
