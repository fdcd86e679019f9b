// Debits and credits of one card being processed by this switch process at once, at most `max`. A card's writes
// are judged one at a time (the ledger's batcher takes one debit of a card per batch; a void or refund waits for
// the card's row lock), so a client pipelining hundreds of requests on one card would hold that many of the
// switch's in-flight slots (inFlightMax) for as long as the queue takes to drain, seconds, while every other
// terminal waited to be read. Beyond `max` the request is declined at once with 65 (over frequency limit): no
// card is swiped that often, and the slot is free again at once.
export class CardGate {
  private readonly inFlight = new Map<string, number>();
  /** Requests declined by the gate since start. */
  refused = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError('a card gate needs max >= 1');
  }

  /** Runs `work` if the card has fewer than `max` in flight; otherwise null, at once. */
  async through<T>(cardNo: string, work: () => Promise<T>): Promise<T | null> {
    const n = this.inFlight.get(cardNo) ?? 0;
    if (n >= this.max) {
      this.refused++;
      return null;
    }
    this.inFlight.set(cardNo, n + 1);
    try {
      return await work();
    } finally {
      const left = (this.inFlight.get(cardNo) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(cardNo); else this.inFlight.set(cardNo, left);
    }
  }

  /** Cards with a request in flight (tests, and a sanity check that the map empties). */
  get cards(): number {
    return this.inFlight.size;
  }
}
