// Micro-batching: requests that arrive while Postgres is busy are sent together as one statement over arrays
// in one transaction, so concurrent debits share a commit. Each caller gets its own result.
// A batch goes as soon as a slot is free (no added latency at low load); under load items queue, and the next
// free slot takes up to `batchDebitsMax` of them. `batchWaitMs` lets a partial batch linger while other
// batches are in flight, to fill it further.
export interface BatcherOptions<I, O> {
  batchDebitsMax: number;
  batchWaitMs: number;
  inflightMax: number;
  /** Runs one batch; must return one result per item, in order. */
  run(items: I[]): Promise<O[]>;
  /** Runs one item alone: used when a whole batch fails, so one bad item never fails the others. */
  runOne(item: I): Promise<O>;
  /**
   * Items of one group are run one batch at a time, in arrival order: never two in one batch, and never in a
   * batch while an earlier one of the group is still in flight (the ledger groups by card, so a batch never
   * debits one card twice, and one process's debits of a card are judged in the order they arrived).
   */
  groupOf?(item: I): string;
  /** Told why a batch failed as a whole, before its items are run one at a time. */
  onFallback?(err: unknown, size: number): void;
  /** Told of every batch sent: its size, how long its oldest item queued, and how long it ran (ms). */
  observe?(b: BatchObservation): void;
}

export interface BatchObservation { size: number; queuedMs: number; runMs: number }

interface Pending<I, O> { item: I; at: number; resolve(o: O): void; reject(e: unknown): void }

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private inflight = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Groups with an item in a batch in flight. */
  private readonly busy = new Set<string>();
  private scheduled = false;
  /** Sizes of the batches sent (for the bench and metrics). */
  readonly stats = { batches: 0, items: 0, fallbacks: 0 };

  constructor(private readonly o: BatcherOptions<I, O>) {
    if (o.batchDebitsMax < 1 || o.inflightMax < 1) throw new RangeError('batchDebitsMax and inflightMax must be >= 1');
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  get queued(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate: items submitted in the same tick join the same batch.
    setImmediate(() => { this.scheduled = false; this.pump(); });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inflight < this.o.inflightMax) {
      const full = this.queue.length >= this.o.batchDebitsMax;
      if (!full && this.inflight > 0 && this.o.batchWaitMs > 0) {
        if (!this.timer) this.timer = setTimeout(() => { this.timer = null; this.flush(); }, this.o.batchWaitMs);
        return;
      }
      if (!this.flush()) return;
    }
  }

  /** Sends one batch; false when nothing could go (no slot, or every queued item waits for its group). */
  private flush(): boolean {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.queue.length === 0 || this.inflight >= this.o.inflightMax) return false;
    const { batch, groups } = this.take();
    if (batch.length === 0) return false;         // every queued item waits for a batch in flight
    this.inflight++;
    this.stats.batches++;
    this.stats.items += batch.length;
    const started = performance.now();
    const queuedMs = started - batch[0]!.at;
    let released = false;
    // Frees this batch's slot and cards and sends the next batch: called as soon as the results are in, before
    // the callers are answered (answering a batch is the switch's busiest stretch: building, signing and
    // writing each response), so Postgres works on the next batch meanwhile instead of waiting for it.
    const release = (): void => {
      if (released) return;
      released = true;
      this.o.observe?.({ size: batch.length, queuedMs, runMs: performance.now() - started });
      for (const g of groups) this.busy.delete(g);
      this.inflight--;
      if (this.queue.length > 0) this.pump();
    };
    void this.runBatch(batch, release).finally(release);
    return true;
  }

  /** Up to batchDebitsMax queued items, oldest first, at most one per group; the others keep their order. */
  private take(): { batch: Array<Pending<I, O>>; groups: string[] } {
    const { groupOf, batchDebitsMax } = this.o;
    if (!groupOf) return { batch: this.queue.splice(0, batchDebitsMax), groups: [] };
    const batch: Array<Pending<I, O>> = [];
    const rest: Array<Pending<I, O>> = [];
    const groups: string[] = [];
    // A group seen blocked stays blocked for the rest of this pass, so later items of it keep their order.
    const blocked = new Set<string>();
    for (const p of this.queue) {
      const g = batch.length < batchDebitsMax ? groupOf(p.item) : null;
      if (g !== null && !this.busy.has(g) && !blocked.has(g)) {
        this.busy.add(g);
        groups.push(g);
        batch.push(p);
      } else {
        if (g !== null) blocked.add(g);
        rest.push(p);
      }
    }
    this.queue = rest;
    return { batch, groups };
  }

  private async runBatch(batch: Array<Pending<I, O>>, release: () => void): Promise<void> {
    let results: O[];
    try {
      results = await this.o.run(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`batch returned ${results.length} results for ${batch.length} items`);
    } catch (err) {
      // The whole batch rolled back (a bug, a deadlock, a lost connection): run each item alone. Its cards stay
      // busy until then, so no later debit of one of them overtakes it.
      this.stats.fallbacks++;
      this.o.onFallback?.(err, batch.length);
      await Promise.all(batch.map(async (p) => {
        try { p.resolve(await this.o.runOne(p.item)); } catch (err) { p.reject(err); }
      }));
      return;
    }
    release();
    batch.forEach((p, i) => p.resolve(results[i] as O));
  }
}
