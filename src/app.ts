// Composition root: config -> Postgres (DATABASE_URL or embedded) -> migrations -> Redis (REDIS_URL, else a
// redis-server from PATH, else none: Postgres alone, warned) -> Ledger -> POS server + admin HTTP.
// `stop()` is the graceful shutdown: stop accepting, finish what is in flight, then close everything.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/index.js';
import { embeddedDataDir, startEmbeddedPostgres, type EmbeddedPostgresHandle } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { findRedisServer, startRedisServer, type RedisServerHandle } from './cache/redis-server.js';
import pg from 'pg';
import type { Pool } from './db/pool.js';
import { Ledger } from './ledger/index.js';
import { kekFromConfig, type Kek } from './ledger/kek.js';
import { seedDemo } from './ledger/seed.js';
import { bufferedStdout, createLogger, type Logger } from './log.js';
import { buildAdminApp } from './admin/app.js';
import { ApiKeys } from './admin/keys.js';
import { businessDateOf } from './ledger/card-rules.js';
import { applyDueRates } from './ledger/merchant-rates.js';
import { adminResources } from './admin/resources.js';
import { CardGate } from './switch/card-gate.js';
import { SwitchMetrics } from './switch/metrics.js';
import { createFrameHandler } from './switch/pipeline.js';
import { PosServer } from './switch/server.js';
import { TerminalCache } from './switch/session.js';
import { fitConnections, openFilesLimit } from './switch/open-files.js';
import { RefusalGuard } from './switch/refusal-guard.js';
import { SignOnBudget } from './switch/sign-on-budget.js';
import { TerminalThrottle } from './switch/throttle.js';

export interface AppOptions {
  config: Config;
  log?: Logger;
  /** Prefix of every Redis key (tests share one Redis). */
  redisPrefix?: string;
  /** Process metrics (CPU, memory, event loop) on /metrics; off in tests that start several apps. */
  defaultMetrics?: boolean;
}

export interface RunningApp {
  posPort: number;
  adminPort: number;
  /** Where Postgres and Redis came from, in words (also logged and on /health). */
  database: string;
  redis: string;
  ledger: Ledger;
  metrics: SwitchMetrics;
  admin: FastifyInstance;
  pos: PosServer;
  stop(): Promise<void>;
}

/**
 * The demo merchants, terminals and cards (`pointswitch seed --demo`), so that `npm start` and
 * `pointswitch-sim shell` work together with no other set-up. Idempotent: existing rows are kept.
 */
async function seedDemoData(databaseUrl: string, kek: Kek, log: Logger): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const rows = await seedDemo(pool, kek);
    const made = rows.reduce((n, r) => n + r.made, 0);
    log.info({ seeded: rows }, made > 0
      ? `demo data seeded (${rows.map((r) => `${r.made} ${r.what}`).join(', ')}); disable with --demo no`
      : 'demo data present (merchants 898310048160001/2, terminals 10000001, 10000002, 20000001, cards 8860000000000001-7)');
  } finally {
    await pool.end();
  }
}

export async function startApp(options: AppOptions): Promise<RunningApp> {
  const { config } = options;
  // Buffered stdout: one line per transaction must not cost a write per transaction (see bufferedStdout).
  const destination = options.log ? null : bufferedStdout();
  const log = options.log ?? createLogger({ level: config.logLevel, destination: destination?.stream });
  const cleanup: Array<() => Promise<void>> = [];
  const undo = async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err: unknown) => log.error({ err }, 'cleanup failed'));
  };
  try {
    // One key-encryption key for the seed, the ledger and the admin API (a bad one fails before anything starts).
    const kek = kekFromConfig(config, (warning) => log.warn(warning));
    const { url: databaseUrl, how: database, handle: pg } = await openDatabase(config, log);
    if (kek.isDev && !pg) {
      throw new Error('refusing to start with the development key-encryption key on a database other than the embedded default: '
        + 'set POINTSWITCH_KEK (or --kek) to 32 or 48 hex digits of your own, e.g. from `openssl rand -hex 24`, and keep it safe');
    }
    if (pg) cleanup.push(() => pg.stop());
    await migrate(databaseUrl, { quiet: true });
    log.info('migrations applied');
    if (config.demo === 'yes' || (config.demo === 'auto' && pg)) await seedDemoData(databaseUrl, kek, log);

    const { url: redisUrl, how: redis, handle: redisServer } = await openRedis(config, log);
    if (redisServer) cleanup.push(() => redisServer.stop());

    const metrics = new SwitchMetrics({ defaultMetrics: options.defaultMetrics ?? false });
    const ledger = await Ledger.open({
      databaseUrl,
      redisUrl,
      ...(options.redisPrefix ? { redisPrefix: options.redisPrefix } : {}),
      kek,
      batchDebitsMax: config.batchDebitsMax,
      batchWaitMs: config.batchWaitMs,
      batchInflightMax: config.batchInflightMax,
      keyedAfterConflictMs: config.keyedAfterConflictMs,
      poolSize: config.poolSize,
      log: log.child({ component: 'ledger' }),
      onBatch: (b) => metrics.observeBatch(b),
    });
    cleanup.push(() => ledger.close());
    // Merchant rate changes dated ahead take effect when their business date comes: looked for once a minute.
    const applyRates = async () => {
      try {
        for (const id of await applyDueRates(ledger.pool, businessDateOf())) await ledger.forgetMerchant(id);
      } catch (err) {
        log.warn({ err: String(err) }, 'could not apply merchant rate changes that have come due; trying again in a minute');
      }
    };
    await applyRates();
    const ratesTimer = setInterval(() => void applyRates(), 60_000);
    ratesTimer.unref();
    cleanup.push(async () => clearInterval(ratesTimer));
    const terminals = new TerminalCache(ledger, undefined, undefined, log.child({ component: 'pos' }));
    const throttle = new TerminalThrottle(config.terminalRequestsPerSecondMax);
    const refusals = new RefusalGuard(config.refusalsPerAddressPerSecondMax, { switchRatePerS: config.refusalsPerSecondMax });
    const signOns = new SignOnBudget(config.signOnsPerSecondMax, config.signOnsPerAddressPerSecondMax);
    metrics.useStats(() => {
      const b = ledger.batchStats;
      const r = ledger.cacheReads;
      return {
        batches: b.batches, batchedDebits: b.items, batchKeyConflicts: b.keyConflicts, batchesKeyed: b.keyedBatches, requestsThrottled: throttle.throttled, refusalsDelayed: refusals.delayed, signOnsDelayed: signOns.delayed, lookupsWaiting: ledger.lookupsWaiting, refusalTurnsLeft: refusals.switchLeft(), precheck: { ...ledger.precheck }, terminalCacheHits: terminals.hits, terminalCacheMisses: terminals.misses,
        poolClients: { total: ledger.pool.totalCount, idle: ledger.pool.idleCount, waiting: ledger.pool.waitingCount },
        ...(ledger.cacheEnabled ? { cacheUp: ledger.cacheAvailable } : {}),
        ...(ledger.cacheAvailable || r.hits + r.misses > 0 ? { cacheHits: r.hits, cacheMisses: r.misses } : {}),
      };
    });

    const fitted = fitConnections(config.connectionsMax, config.connectionsPerAddressMax, openFilesLimit());
    if (fitted.warning) log.warn({ connectionsMax: fitted.connectionsMax, connectionsPerAddressMax: fitted.connectionsPerAddressMax }, fitted.warning);
    const pos = new PosServer({
      limits: { ...config, connectionsMax: fitted.connectionsMax, connectionsPerAddressMax: fitted.connectionsPerAddressMax },
      handleFrame: createFrameHandler({
        ledger,
        settings: { batchCloseUnbalancedCode: config.batchCloseUnbalancedCode, signOffMac: config.signOffMac },
        cardGate: new CardGate(config.cardInFlightMax),
        throttle,
        refusals,
        signOns,
        log: log.child({ component: 'pos' }),
        metrics,
        terminals,
      }),
      // A bad length prefix is a refusal too (its connection is closed for it).
      onFramingError: (_kind, conn) => refusals.refuse(conn),
      refusing: (conn) => refusals.refusing(conn),
      log: log.child({ component: 'pos' }),
      metrics,
    });
    let ready = false;
    const databaseUp = databaseProbe(ledger.pool);
    let posPort = config.posPort;
    const admin = await buildAdminApp({
      log: log.child({ component: 'admin' }),
      metrics,
      health: () => ({ ready, database, databaseUp, redis, redisUp: ledger.cacheEnabled ? ledger.cacheAvailable : null, posPort, connectionsOpen: pos.connectionCount }),
      clients: () => pos.clients().map((c) => ({ ...c, refusalTurnsLeft: Math.floor(refusals.left(c.address)) })),
      refusalTurnsLeft: () => refusals.switchLeft(),
      resources: adminResources(ledger, kek, config),
      keys: new ApiKeys(ledger.pool, (err) => log.warn({ err: String(err) }, 'admin: could not record a key\'s last use')),
      pool: ledger.pool,
      metricsPublic: config.metricsPublic || isLoopback(config.adminHost),
    });
    cleanup.push(() => admin.close());
    await admin.listen({ port: config.adminPort, host: config.adminHost });
    const adminAddress = admin.server.address();
    const adminPort = typeof adminAddress === 'object' && adminAddress ? adminAddress.port : config.adminPort;
    posPort = await pos.listen(config.posPort, config.posHost);
    cleanup.push(() => pos.stop(config.shutdownGraceMs));
    ready = true;
    log.info({ posPort, adminPort, database, redis }, `pointswitch listening: POS on ${config.posHost}:${posPort}, admin on http://${config.adminHost}:${adminPort} (docs at /docs)`);

    let stopping: Promise<void> | null = null;
    return {
      posPort, adminPort, database, redis, ledger, metrics, admin, pos,
      stop() {
        stopping ??= (async () => {
          ready = false;
          log.info('stopping: no new connections, finishing in-flight requests');
          await undo();
          log.info('stopped');
          destination?.stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await undo();
    destination?.stop();
    throw err;
  }
}

async function openDatabase(config: Config, log: Logger): Promise<{ url: string; how: string; handle: EmbeddedPostgresHandle | null }> {
  if (config.databaseUrl) {
    log.info('Postgres: DATABASE_URL');
    return { url: config.databaseUrl, how: 'DATABASE_URL', handle: null };
  }
  const dataDir = embeddedDataDir(config.dataDir);
  log.info({ dataDir }, 'Postgres: DATABASE_URL is unset, starting embedded PostgreSQL');
  const handle = await startEmbeddedPostgres({ dataDir, onLog: (line) => log.debug({ component: 'postgres' }, line), onNotice: (line) => log.warn(line) });
  return { url: handle.url, how: `embedded (${dataDir})`, handle };
}

async function openRedis(config: Config, log: Logger): Promise<{ url: string | null; how: string; handle: RedisServerHandle | null }> {
  if (config.noRedis) {
    log.warn('Redis: off (--no-redis); running on Postgres alone, every cache read goes to Postgres');
    return { url: null, how: 'none (--no-redis)', handle: null };
  }
  if (config.redisUrl) {
    log.info('Redis: REDIS_URL');
    return { url: config.redisUrl, how: 'REDIS_URL', handle: null };
  }
  const binary = findRedisServer();
  if (binary) {
    try {
      const handle = await startRedisServer({ dataDir: path.resolve(config.dataDir, 'redis'), binary, onNotice: (line) => log.warn(line) });
      const via = handle.socketUrl ? `its Unix socket ${handle.socketUrl.slice('unix://'.length)}` : handle.url;
      log.info({ binary }, `Redis: REDIS_URL is unset, started ${binary}, reached through ${via}`);
      return { url: handle.socketUrl ?? handle.url, how: `redis-server (${binary})`, handle };
    } catch (err) {
      log.warn({ err }, `Redis: ${binary} did not start; running on Postgres alone`);
      return { url: null, how: 'none (redis-server failed to start)', handle: null };
    }
  }
  // Redis is an accelerator, never a requirement (project brief): run without it, and say how to add it.
  log.warn('Redis: REDIS_URL is unset and no redis-server is on PATH; running on Postgres alone (slower). '
    + 'Set REDIS_URL or install redis-server (apt-get install -y redis-server) to use the cache.');
  return { url: null, how: 'none (Postgres alone)', handle: null };
}

/** Whether the admin server binds an address only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * Whether Postgres answers: a `SELECT 1` within 2 s, asked at most once a second and never twice at once, so a
 * health check polled often costs the pool next to nothing.
 */
function databaseProbe(pool: Pool, timeoutMs = 2000, everyMs = 1000): () => Promise<boolean> {
  let last = { at: 0, up: true };
  let pending: Promise<boolean> | null = null;
  return () => {
    if (Date.now() - last.at < everyMs) return Promise.resolve(last.up);
    pending ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const up = await Promise.race([
        pool.query('SELECT 1').then(() => true, () => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
      ]);
      clearTimeout(timer);
      last = { at: Date.now(), up };
      pending = null;
      return up;
    })();
    return pending;
  };
}
