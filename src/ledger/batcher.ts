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
}

interface Pending<I, O> { item: I; resolve(o: O): void; reject(e: unknown): void }

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private inflight = 0;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  /** Sizes of the batches sent (for the bench and metrics). */
  readonly stats = { batches: 0, items: 0, fallbacks: 0 };

  constructor(private readonly o: BatcherOptions<I, O>) {
    if (o.batchDebitsMax < 1 || o.inflightMax < 1) throw new RangeError('batchDebitsMax and inflightMax must be >= 1');
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
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
      this.flush();
    }
  }

  private flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.queue.length === 0 || this.inflight >= this.o.inflightMax) return;
    const batch = this.queue.splice(0, this.o.batchDebitsMax);
    this.inflight++;
    this.stats.batches++;
    this.stats.items += batch.length;
    void this.runBatch(batch).finally(() => {
      this.inflight--;
      if (this.queue.length > 0) this.pump();
    });
  }

  private async runBatch(batch: Array<Pending<I, O>>): Promise<void> {
    let results: O[];
    try {
      results = await this.o.run(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`batch returned ${results.length} results for ${batch.length} items`);
    } catch {
      // The whole batch rolled back (a bug, a deadlock, a lost connection): run each item alone.
      this.stats.fallbacks++;
      await Promise.all(batch.map(async (p) => {
        try { p.resolve(await this.o.runOne(p.item)); } catch (err) { p.reject(err); }
      }));
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i] as O));
  }
}
