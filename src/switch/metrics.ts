// Prometheus metrics of one switch process. A registry of its own (not prom-client's global one) so that two
// switches in one process (tests) never collide and /metrics shows only this instance.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the ledger may report about itself; every member is optional so any ledger shape fits. */
export interface LedgerStats {
  cacheHits?: number;
  cacheMisses?: number;
}

export class SwitchMetrics {
  readonly registry = new Registry();
  readonly transactions: Counter<'type' | 'response_code'>;
  readonly latency: Histogram<'type'>;
  readonly connectionsOpen: Gauge;
  readonly connectionsRefused: Counter<'reason'>;
  readonly framesRejected: Counter<'reason'>;
  readonly inFlight: Gauge;
  readonly readsPaused: Counter<'reason'>;
  readonly ledgerBatchSize: Histogram;
  private statsSource: (() => LedgerStats | undefined) | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'pointswitch_' });
    this.transactions = new Counter({
      name: 'pointswitch_transactions_total',
      help: 'POS requests answered, by transaction type and response code (39)',
      labelNames: ['type', 'response_code'], registers,
    });
    this.latency = new Histogram({
      name: 'pointswitch_transaction_duration_seconds',
      help: 'time from a complete request frame to its response being written',
      labelNames: ['type'], registers,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    });
    this.connectionsOpen = new Gauge({ name: 'pointswitch_connections_open', help: 'open POS connections', registers });
    this.connectionsRefused = new Counter({
      name: 'pointswitch_connections_refused_total', help: 'POS connections refused at accept, by limit',
      labelNames: ['reason'], registers,
    });
    this.framesRejected = new Counter({
      name: 'pointswitch_frames_rejected_total',
      help: 'frames that could not be parsed, by codec error kind (answered 30 or connection closed)',
      labelNames: ['reason'], registers,
    });
    this.inFlight = new Gauge({ name: 'pointswitch_requests_in_flight', help: 'requests being processed', registers });
    this.readsPaused = new Counter({
      name: 'pointswitch_reads_paused_total',
      help: 'times a connection stopped being read, by cause (backpressure)',
      labelNames: ['reason'], registers,
    });
    this.ledgerBatchSize = new Histogram({
      name: 'pointswitch_ledger_batch_debits',
      help: 'debits per ledger commit (micro-batches)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers,
    });
    const self = this;
    new Gauge({
      name: 'pointswitch_cache_hit_ratio',
      help: 'share of ledger cache reads answered by Redis since start (NaN before the first read)',
      registers,
      collect() {
        const s = self.statsSource?.();
        const hits = s?.cacheHits ?? 0;
        const misses = s?.cacheMisses ?? 0;
        this.set(hits + misses === 0 ? Number.NaN : hits / (hits + misses));
      },
    });
    new Gauge({
      name: 'pointswitch_cache_reads', help: 'ledger cache reads since start, by result', labelNames: ['result'], registers,
      collect() {
        const s = self.statsSource?.();
        this.set({ result: 'hit' }, s?.cacheHits ?? 0);
        this.set({ result: 'miss' }, s?.cacheMisses ?? 0);
      },
    });
  }

  /** Where the cache hit/miss counts come from (the ledger, when it exposes them). */
  useLedgerStats(source: () => LedgerStats | undefined): void {
    this.statsSource = source;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
