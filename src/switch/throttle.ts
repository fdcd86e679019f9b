// A request-rate budget per key (a token bucket; the switch keys it by client address and terminal):
// `ratePerS` requests a second, `burst` at once. A request
// over the budget waits its turn before any work is done on it (no MAC check, no ledger), holding its in-flight
// slot but no CPU, so a terminal stuck in a loop, or a client pipelining as fast as it is answered, gets its
// rate and no more: the switch's one thread stays free for the others (the per-connection and per-address
// in-flight limits then stop reading it). A real terminal sends a request a second at most; the default budget
// is far above that and above a load simulator's busiest terminal.
export class TerminalThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Requests that had to wait, since start. */
  throttled = 0;

  constructor(
    readonly ratePerS: number,
    /** Requests at once: a tenth of a second's worth, and at least a connection's pipeline (32). */
    readonly burst: number = Math.max(32, Math.ceil(ratePerS / 10)),
    private readonly entriesMax = 100_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerS > 0) || !(burst >= 1)) throw new RangeError('a throttle needs ratePerS > 0 and burst >= 1');
  }

  /** Takes a turn for `key`; returns how long (ms) the request must wait for it, 0 for now. */
  delayFor(key: string): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerS);
      b.at = t;
    } else {
      if (this.buckets.size >= this.entriesMax) this.prune(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(key, b);
    }
    b.tokens -= 1;                 // below 0: turns already promised to requests still waiting
    if (b.tokens >= 0) return 0;
    this.throttled++;
    return (-b.tokens / this.ratePerS) * 1000;
  }

  /** Keys with a bucket (tests). */
  get size(): number {
    return this.buckets.size;
  }

  /** Forgets the keys whose bucket has refilled (they are as if never seen); all, if that frees nothing. */
  private prune(t: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.ratePerS >= this.burst) this.buckets.delete(id);
    }
    if (this.buckets.size >= this.entriesMax) this.buckets.clear();
  }
}
