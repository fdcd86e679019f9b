// Request-rate budgets: token buckets by key, `ratePerS` turns a second and `burst` at once. A turn taken
// beyond the budget is a debt, paid back in order: its taker is told how long to wait. The switch keeps two:
// - TerminalThrottle, by client address and terminal: a request over it waits its turn before any work is
//   done on it (no MAC check, no ledger), holding its in-flight slot but no CPU, so a terminal stuck in a
//   loop, or a client pipelining as fast as it is answered, gets its rate and no more: the switch's one thread
//   stays free for the others (the per-connection and per-address in-flight limits then stop reading it). A
//   real terminal sends a request a second at most; the default budget is far above that and above a load
//   simulator's busiest terminal.
// - RefusalGuard (refusal-guard.ts), by client address, for requests that are refused.
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    private readonly entriesMax = 100_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerS > 0) || !(burst >= 1)) throw new RangeError('a rate budget needs ratePerS > 0 and burst >= 1');
  }

  /** Takes a turn for `key`; returns how long (ms) its taker must wait for it, 0 for now. */
  take(key: string): number {
    const b = this.bucket(key);
    b.tokens -= 1;                 // below 0: turns already promised to requests still waiting
    return b.tokens >= 0 ? 0 : (-b.tokens / this.ratePerS) * 1000;
  }

  /** Turns `key` has left now: the burst if never seen, below 0 while its turns are owed. */
  left(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return this.burst;
    return Math.min(this.burst, b.tokens + ((this.now() - b.at) / 1000) * this.ratePerS);
  }

  /** Keys with a bucket (tests). */
  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string): { tokens: number; at: number } {
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
    return b;
  }

  /** Forgets the keys whose bucket has refilled (they are as if never seen); all, if that frees nothing. */
  private prune(t: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.ratePerS >= this.burst) this.buckets.delete(id);
    }
    if (this.buckets.size >= this.entriesMax) this.buckets.clear();
  }
}

/** Each terminal's request-rate budget, by client address and terminal (the switch's key). */
export class TerminalThrottle extends TokenBuckets {
  /** Requests that had to wait, since start. */
  throttled = 0;

  constructor(
    ratePerS: number,
    /** Requests at once: a tenth of a second's worth, and at least a connection's pipeline (32). */
    burst: number = Math.max(32, Math.ceil(ratePerS / 10)),
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
