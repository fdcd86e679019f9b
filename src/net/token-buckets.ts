// Token buckets by key: `ratePerS` turns a second and `burst` at once. A turn taken beyond the budget is a debt,
// paid back in order: its taker is told how long to wait. Used by the switch's request budgets and the admin API's
// limit on failed key checks.
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
