// Prometheus metrics of one switch process. A registry of its own (not prom-client's global one) so that two
// switches in one process (tests) never collide and /metrics shows only this instance.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Counts read at scrape time from the ledger and the caches; every member is optional so any source fits. */
export interface LedgerStats {
  /** debit batches committed, and the debits in them (mean batch size = debits / batches) */
  batches?: number;
  batchedDebits?: number;
  /** batches run again because a key existed (a retransmission, an original after its reversal) */
  batchKeyConflicts?: number;
  batchesKeyed?: number;
  /** requests that waited for their terminal's request-rate budget (the switch's, not the ledger's; same source) */
  requestsThrottled?: number;
  /** requests that waited for a refusal budget, their client address's or the switch's (the switch's too) */
  refusalsDelayed?: number;
  /** sign-ons that waited for the sign-on budget (the switch's) */
  signOnsDelayed?: number;
  /** reads of unknown terminal numbers waiting for their turn at Postgres now (lookupsInFlightMax) */
  lookupsWaiting?: number;
  /** the whole switch's refusal turns left now (below 0: owed) */
  refusalTurnsLeft?: number;
  /** the switch's in-process terminal cache (in front of the ledger's Redis read-through) */
  terminalCacheHits?: number;
  terminalCacheMisses?: number;
  /** the ledger's Redis: answering now (connected, breaker closed), or not; absent when the switch runs without one */
  cacheUp?: boolean;
  /** the ledger's Redis cache, when it reports it */
  cacheHits?: number;
  cacheMisses?: number;
  /** purchases whose pre-check was skipped (card just approved here), asked of Redis, or declined by it */
  precheck?: { skipped: number; redis: number; declined: number };
  /** the ledger's Postgres pool now: clients open, of them idle, and callers waiting for one */
  poolClients?: { total: number; idle: number; waiting: number };
}

export class SwitchMetrics {
  readonly registry = new Registry();
  readonly transactions: Counter<'type' | 'response_code'>;
  readonly latency: Histogram<'type'>;
  readonly connectionsOpen: Gauge;
  readonly connectionsRefused: Counter<'reason'>;
  readonly connectionsEvicted: Counter;
  readonly framesRejected: Counter<'reason'>;
  readonly inFlight: Gauge;
  readonly waitingForBudget: Gauge;
  readonly readsPaused: Counter<'reason'>;
  readonly batchDebits: Histogram;
  readonly batchSeconds: Histogram;
  readonly batchQueueSeconds: Histogram;
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
    this.connectionsEvicted = new Counter({
      name: 'pointswitch_connections_evicted_total',
      help: 'POS connections never trusted (no MAC verified on them), idle or refusing, closed at connectionsMax to make room for a new one', registers,
    });
    this.framesRejected = new Counter({
      name: 'pointswitch_frames_rejected_total',
      help: 'frames that could not be parsed, by codec error kind (answered 30 or connection closed)',
      labelNames: ['reason'], registers,
    });
    this.inFlight = new Gauge({ name: 'pointswitch_requests_in_flight', help: 'requests being processed (not those waiting for a refusal budget)', registers });
    this.waitingForBudget = new Gauge({
      name: 'pointswitch_requests_waiting_for_budget', help: 'requests on refusing connections waiting for a refusal budget: not counted in flight', registers,
    });
    this.readsPaused = new Counter({
      name: 'pointswitch_reads_paused_total',
      help: 'times a connection stopped being read, by cause (backpressure)',
      labelNames: ['reason'], registers,
    });
    this.batchDebits = new Histogram({
      name: 'pointswitch_ledger_batch_debits', help: 'debits per ledger batch (one Postgres transaction each)', registers,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    });
    this.batchSeconds = new Histogram({
      name: 'pointswitch_ledger_batch_duration_seconds', help: 'time a debit batch took in Postgres, commit included', registers,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
    this.batchQueueSeconds = new Histogram({
      name: 'pointswitch_ledger_batch_queue_seconds', help: 'time the oldest debit of a batch waited for it to start', registers,
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    });
    const self = this;
    const stat = () => self.statsSource?.() ?? {};
    // Counts kept by their owners (the ledger, the switch's limits), read at scrape time.
    const counted: Array<[name: string, help: string, key: 'batches' | 'batchedDebits' | 'batchKeyConflicts' | 'batchesKeyed' | 'requestsThrottled' | 'refusalsDelayed' | 'signOnsDelayed']> = [
      ['pointswitch_ledger_batches_total', 'debit batches the ledger committed (one Postgres transaction each)', 'batches'],
      ['pointswitch_ledger_batched_debits_total', 'debits in those batches; divided by batches it is the mean batch size', 'batchedDebits'],
      ['pointswitch_ledger_batch_key_conflicts_total',
        'debit batches run a second time, checking each key, because one of their keys existed (a retransmission, an original after its reversal)', 'batchKeyConflicts'],
      ['pointswitch_ledger_batches_keyed_total',
        'debit batches sent straight to the key-checking function because a retransmission was seen in the last keyedAfterConflictMs', 'batchesKeyed'],
      ['pointswitch_requests_throttled_total', 'requests that waited for their terminal\'s request-rate budget (terminalRequestsPerSecondMax)', 'requestsThrottled'],
      ['pointswitch_refusals_delayed_total',
        'requests on refusing connections that waited for a refusal budget: their client address\'s (refusalsPerAddressPerSecondMax) or the switch\'s (refusalsPerSecondMax)', 'refusalsDelayed'],
      ['pointswitch_sign_ons_delayed_total',
        'sign-ons (and sign-offs without a MAC) that waited for the sign-on budget (signOnsPerSecondMax, signOnsPerAddressPerSecondMax)', 'signOnsDelayed'],
    ];
    for (const [name, help, key] of counted) {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(stat()[key] ?? 0); } });
    }
    new Gauge({
      name: 'pointswitch_ledger_lookups_waiting', help: 'reads of terminal numbers never found here (Redis misses) waiting for their turn at Postgres, 4 at once by default', registers,
      collect() { this.set(stat().lookupsWaiting ?? 0); },
    });
    new Gauge({
      name: 'pointswitch_refusal_turns_left', help: 'the whole switch\'s refusal budget left (refusalsPerSecondMax); below 0, turns owed, and refusing connections wait', registers,
      collect() { const left = stat().refusalTurnsLeft; if (left !== undefined) this.set(Math.floor(left)); },
    });
    new Gauge({
      name: 'pointswitch_cache_up', help: '1 while Redis answers (connected, circuit breaker closed), 0 while it does not and every read goes to Postgres; absent without Redis',
      labelNames: ['cache'], registers,
      collect() { const up = stat().cacheUp; this.reset(); if (up !== undefined) this.set({ cache: 'redis' }, up ? 1 : 0); },
    });
    new Gauge({
      name: 'pointswitch_db_pool_clients', help: 'the ledger\'s Postgres pool: clients open (total), of them idle, and requests waiting for one',
      labelNames: ['state'], registers,
      collect() {
        const p = stat().poolClients;
        this.reset();
        if (p) for (const state of ['total', 'idle', 'waiting'] as const) this.set({ state }, p[state]);
      },
    });
    new Gauge({
      name: 'pointswitch_ledger_batch_debits_mean', help: 'mean debits per ledger batch since start (NaN before the first)', registers,
      collect() { const s = stat(); this.set(s.batches ? (s.batchedDebits ?? 0) / s.batches : Number.NaN); },
    });
    new Gauge({
      name: 'pointswitch_cache_reads', help: 'cache reads since start, by cache and result', labelNames: ['cache', 'result'], registers,
      collect() {
        const s = stat();
        this.set({ cache: 'terminal-local', result: 'hit' }, s.terminalCacheHits ?? 0);
        this.set({ cache: 'terminal-local', result: 'miss' }, s.terminalCacheMisses ?? 0);
        if (s.cacheHits !== undefined || s.cacheMisses !== undefined) {
          this.set({ cache: 'redis', result: 'hit' }, s.cacheHits ?? 0);
          this.set({ cache: 'redis', result: 'miss' }, s.cacheMisses ?? 0);
        }
      },
    });
    new Counter({
      name: 'pointswitch_ledger_precheck_total',
      help: 'purchase pre-checks: skipped (card just approved here), asked of Redis, and declined from Redis without a Postgres write',
      labelNames: ['result'], registers,
      collect() {
        const p = stat().precheck;
        this.reset();
        if (!p) return;
        this.inc({ result: 'skipped' }, p.skipped);
        this.inc({ result: 'redis' }, p.redis);
        this.inc({ result: 'declined' }, p.declined);
      },
    });
    new Gauge({
      name: 'pointswitch_cache_hit_ratio', help: 'share of cache reads that hit since start, by cache (NaN before the first read)',
      labelNames: ['cache'], registers,
      collect() {
        const s = stat();
        const ratio = (h = 0, m = 0) => (h + m === 0 ? Number.NaN : h / (h + m));
        this.set({ cache: 'terminal-local' }, ratio(s.terminalCacheHits, s.terminalCacheMisses));
        if (s.cacheHits !== undefined || s.cacheMisses !== undefined) this.set({ cache: 'redis' }, ratio(s.cacheHits, s.cacheMisses));
      },
    });
  }

  private readonly txnChildren = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();

  /** One answered request: the counter and histogram children are made once per type and code, not per call. */
  countTransaction(type: string, responseCode: string, seconds: number): void {
    const k = `${type}\u0000${responseCode}`;
    let c = this.txnChildren.get(k);
    if (!c) {
      c = { count: this.transactions.labels({ type, response_code: responseCode }), latency: this.latency.labels({ type }) };
      if (this.txnChildren.size < 10_000) this.txnChildren.set(k, c);
    }
    c.count.inc();
    c.latency.observe(seconds);
  }

  /** One ledger batch (the ledger's onBatch). */
  observeBatch(b: { size: number; queuedMs: number; runMs: number }): void {
    this.batchDebits.observe(b.size);
    this.batchSeconds.observe(b.runMs / 1000);
    this.batchQueueSeconds.observe(b.queuedMs / 1000);
  }

  /** Where the cache hit/miss counts come from (the ledger, when it exposes them). */
  useStats(source: () => LedgerStats | undefined): void {
    this.statsSource = source;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
