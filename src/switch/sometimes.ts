// "Once per key every so often": a warning a bad client could otherwise repeat per connection or per request
// (a refused connection, an eviction, a wait for a budget) is written at most once per key every `everyMs`,
// with the count of the ones left out since. The metrics count each.
export class Sometimes {
  private readonly last = new Map<string, { at: number; since: number }>();

  constructor(
    readonly everyMs = 10_000,
    private readonly entriesMax = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Whether `key` is due a line now; if so, how many were left out since its last one (undefined: none before). */
  due(key: string): { due: false } | { due: true; leftOut: number | undefined } {
    const t = this.now();
    const last = this.last.get(key);
    if (last && t - last.at < this.everyMs) {
      last.since++;
      return { due: false };
    }
    if (this.last.size >= this.entriesMax) this.last.clear();
    this.last.set(key, { at: t, since: 0 });
    return { due: true, leftOut: last?.since };
  }
}
