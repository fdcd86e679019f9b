// The one description of pointswitch's settings, for every command: each has a zod type with its default, the
// environment variables that set it, the command-line flag that overrides them, and a line of help. The `Config`
// type is inferred from the schema. `loadConfig` reads env + flags, validates them all at once and reports every
// problem in words (never only the first); a command reads only the settings it uses (`only`), through
// `commandConfig` in src/cli/settings.ts.
import { parse as parsePgUrl } from 'pg-connection-string';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
/**
 * A URL of one of `protocols`. `parse` reads it (WHATWG URL by default) and throws when it is not one; a
 * PostgreSQL URI is read as libpq and pg read it, which WHATWG URL does not always accept: a Unix socket
 * directory as `postgres://user@/db?host=/var/run/postgresql` (no host part).
 */
const url = (protocols: string[], o: { parse?: (v: string) => unknown; message?: string } = {}) =>
  z.preprocess(emptyToUndefined, z.string().refine((v) => {
    if (!protocols.some((p) => v.toLowerCase().startsWith(`${p}//`))) return false;
    try {
      (o.parse ?? ((x: string) => new URL(x)))(v);
      return true;
    } catch {
      return false;
    }
  }, { message: o.message ?? `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` }).optional());
const postgresUrl = url(['postgres:', 'postgresql:'], {
  parse: parsePgUrl,
  message: 'must be a PostgreSQL URL: postgres://user:password@host:port/database, or postgres://user@/database?host=/socket/directory',
});

/**
 * The key-encryption key's one rule, which `Kek` (src/ledger/kek.ts) checks too: 32 or 48 hex digits (a double- or
 * triple-length 3DES key, as key ceremonies hand them out) or 64 (an AES-256 key). Kek derives its AES-256 and
 * HMAC keys from whichever it is given (SHA-256), so each works; a longer one is the stronger secret.
 */
export const kekHexPattern = /^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{64})$/;
const kekHexProblem = 'must be 32 or 48 hex digits (a double- or triple-length 3DES key) or 64 (an AES-256 key)';

interface SettingText {
  env: string[];
  /** commander flag, e.g. `--pos-port <port>` */
  flag: string;
  help: string;
}

const s = <S extends z.ZodType>(env: string[], flag: string, help: string, schema: S): SettingText & { schema: S } =>
  ({ env, flag, help, schema });

/** Every setting, in the order the help and src/switch/README.md list them. Defaults live here and nowhere else. */
const described = {
  posPort: s(['POS_PORT', 'PORT'], '--pos-port <port>', 'TCP port for POS terminals (0 picks a free one)', port.default(8583)),
  posHost: s(['POS_HOST'], '--pos-host <host>', 'address the POS listener binds', z.string().min(1).default('0.0.0.0')),
  adminPort: s(['ADMIN_PORT'], '--admin-port <port>', 'HTTP port for /health, /metrics, /docs and the admin API (0 picks a free one)', port.default(8080)),
  adminHost: s(['ADMIN_HOST'], '--admin-host <host>', 'address the admin HTTP server binds (loopback by default: set 0.0.0.0 to reach it from other machines)', z.string().min(1).default('127.0.0.1')),
  metricsPublic: s(['POINTSWITCH_METRICS_PUBLIC'], '--metrics-public', '/metrics answers without an API key even when the admin server binds a non-loopback address (on loopback it always does)',
    z.preprocess(toBool, z.boolean()).default(false)),
  databaseUrl: s(['DATABASE_URL'], '--database-url <url>', 'PostgreSQL URL; unset: embedded PostgreSQL in the data directory', postgresUrl),
  redisUrl: s(['REDIS_URL'], '--redis-url <url>', 'Redis URL (redis://, rediss://, or unix:///path/to/redis.sock); unset: redis-server from PATH, else Postgres alone', url(['redis:', 'rediss:', 'unix:'])),
  noRedis: s(['POINTSWITCH_NO_REDIS'], '--no-redis', 'run on Postgres alone even when Redis is available', z.preprocess(toBool, z.boolean()).default(false)),
  dataDir: s(['POINTSWITCH_DATA_DIR'], '--data-dir <dir>', 'directory for embedded PostgreSQL and redis-server data', z.string().min(1).default('./.data')),
  logLevel: s(['LOG_LEVEL'], '--log-level <level>', 'pino level: fatal, error, warn, info, debug, trace, silent',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  kekHex: s(['POINTSWITCH_KEK'], '--kek <hex>', 'key-encryption key for terminal keys at rest: 32 or 48 hex digits (3DES), or 64 (AES-256); unset: the development key, warned',
    z.preprocess(emptyToUndefined, z.string().regex(kekHexPattern, { message: kekHexProblem }).optional())),
  frameBytesMax: s(['POINTSWITCH_FRAME_BYTES_MAX'], '--frame-bytes-max <bytes>', 'largest message body accepted; a longer length prefix closes the connection',
    z.coerce.number().int().min(64).max(65535).default(4096)),
  connectionsMax: s(['POINTSWITCH_CONNECTIONS_MAX'], '--connections-max <n>', 'open POS connections at most; at the limit a connection never trusted (no MAC verified on it) that is idle, refusing or only waiting for a budget is closed to make room, else the new one is refused; lowered at start to what the open-files limit leaves',
    positiveInt(1_000_000).default(10_000)),
  connectionsPerAddressMax: s(['POINTSWITCH_CONNECTIONS_PER_ADDRESS_MAX'], '--connections-per-address-max <n>',
    'open POS connections from one remote address at most, so one client cannot take all of connectionsMax', positiveInt(1_000_000).default(2_000)),
  inFlightPerConnectionMax: s(['POINTSWITCH_IN_FLIGHT_PER_CONNECTION_MAX'], '--in-flight-per-connection-max <n>',
    'requests of one connection being processed at once; reading pauses at the limit', positiveInt(1024).default(32)),
  cardInFlightMax: s(['POINTSWITCH_CARD_IN_FLIGHT_MAX'], '--card-in-flight-max <n>',
    'purchases, voids and refunds of one card being processed at once; more are declined 65 (over frequency limit), so one card hammered cannot hold the switch\'s in-flight slots',
    positiveInt(1_000_000).default(32)),
  inFlightMax: s(['POINTSWITCH_IN_FLIGHT_MAX'], '--in-flight-max <n>',
    'requests being processed by the whole switch at once; reading pauses at the limit (backpressure when Postgres is slow)', positiveInt(1_000_000).default(4096)),
  inFlightPerAddressMax: s(['POINTSWITCH_IN_FLIGHT_PER_ADDRESS_MAX'], '--in-flight-per-address-max <n>',
    'requests from one remote address being processed at once; its connections are not read at the limit, so one client cannot take all of inFlightMax',
    positiveInt(1_000_000).default(1024)),
  terminalRequestsPerSecondMax: s(['POINTSWITCH_TERMINAL_REQUESTS_PER_SECOND_MAX'], '--terminal-requests-per-second-max <n>',
    'requests a second one terminal may send from one client address (bursts of a tenth of that, at least 32); more wait their turn before any work is done on them',
    positiveInt(1_000_000).default(1000)),
  refusalsPerAddressPerSecondMax: s(['POINTSWITCH_REFUSALS_PER_ADDRESS_PER_SECOND_MAX'], '--refusals-per-address-per-second-max <n>',
    'refused requests a second (unknown terminal, not signed on, bad MAC, unparseable) one client address may cost (bursts of a tenth of that, at least 32); beyond it, requests on its refusing connections wait their turn before any work is done on them',
    positiveInt(1_000_000).default(200)),
  refusalsPerSecondMax: s(['POINTSWITCH_REFUSALS_PER_SECOND_MAX'], '--refusals-per-second-max <n>',
    'refused requests a second the whole switch may cost, from all client addresses together (bursts of a tenth of that, at least 32); beyond it, requests on refusing connections, and on untrusted connections from addresses refused within the last second, wait their turn',
    positiveInt(1_000_000).default(1000)),
  signOnsPerSecondMax: s(['POINTSWITCH_SIGN_ONS_PER_SECOND_MAX'], '--sign-ons-per-second-max <n>',
    'sign-ons (and sign-offs without a MAC) a second the whole switch serves (bursts of a tenth of that, at least 32); more wait their turn. A sign-on needs no MAC, so anyone may ask for one, and each is a write of its own',
    positiveInt(1_000_000).default(200)),
  signOnsPerAddressPerSecondMax: s(['POINTSWITCH_SIGN_ONS_PER_ADDRESS_PER_SECOND_MAX'], '--sign-ons-per-address-per-second-max <n>',
    'sign-ons (and sign-offs without a MAC) a second from one client address (bursts of a tenth of that, at least 32); more wait their turn. Behind a concentrator, raise it',
    positiveInt(1_000_000).default(50)),
  idleTimeoutMs: s(['POINTSWITCH_IDLE_TIMEOUT_MS'], '--idle-timeout-ms <ms>', 'a connection with no traffic for this long is closed', positiveInt(86_400_000).default(120_000)),
  frameTimeoutMs: s(['POINTSWITCH_FRAME_TIMEOUT_MS'], '--frame-timeout-ms <ms>', 'a started message must be complete within this time, or the connection is closed', positiveInt(3_600_000).default(10_000)),
  shutdownGraceMs: s(['POINTSWITCH_SHUTDOWN_GRACE_MS'], '--shutdown-grace-ms <ms>', 'on SIGTERM, how long in-flight requests may take before connections are cut', positiveInt(600_000).default(10_000)),
  batchCloseUnbalancedCode: s(['POINTSWITCH_BATCH_CLOSE_UNBALANCED_CODE'], '--batch-close-unbalanced-code <code>',
    'field 39 of a 0510 whose totals disagree: 00 (UnionPay: 48 settlement code 2 says unbalanced) or 95 (ISO 8583 reconcile error)',
    z.enum(['00', '95']).default('00')),
  signOffMac: s(['POINTSWITCH_SIGN_OFF_MAC'], '--sign-off-mac <when>',
    'optional: a sign-off (0820) may come without a MAC, as in the profile (then anyone who knows a terminal\'s number can sign it off); required: it must carry one that verifies, else A0 and nothing changes',
    z.enum(['optional', 'required']).default('optional')),
  demo: s(['POINTSWITCH_DEMO'], '--demo <when>',
    'seed the demo merchants, terminals and cards at start (idempotent): auto = only on the embedded default database',
    z.enum(['auto', 'yes', 'no']).default('auto')),
  batchDebitsMax: s(['POINTSWITCH_BATCH_DEBITS_MAX'], '--batch-debits-max <n>', 'debits per ledger commit at most', positiveInt(10_000).default(64)),
  batchWaitMs: s(['POINTSWITCH_BATCH_WAIT_MS'], '--batch-wait-ms <ms>', 'how long the ledger waits to fill a debit batch', z.coerce.number().min(0).max(1000).default(1)),
  batchInflightMax: s(['POINTSWITCH_BATCH_INFLIGHT_MAX'], '--batch-inflight-max <n>', 'debit batches committing at once (each holds a Postgres connection; more raise the peak rate but lengthen the tail of the latency at moderate load)', positiveInt(256).default(4)),
  keyedAfterConflictMs: s(['POINTSWITCH_KEYED_AFTER_CONFLICT_MS'], '--keyed-after-conflict-ms <ms>',
    'after a debit batch met a stored key (a retransmission), how long batches check their keys first instead of failing on one (0: never)',
    z.coerce.number().int().min(0).max(3_600_000).default(1000)),
  accrualPointsPerYuan: s(['POINTSWITCH_ACCRUAL_POINTS_PER_YUAN'], '--accrual-points-per-yuan <n>',
    'points a member earns per yuan billed, for accrual-feed lines given as an amount (rounded down to a whole point; 1: the programme\'s 2 % return at 2 fen a point)',
    positiveInt(10_000).default(1)),
  clearingTimeZone: s(['POINTSWITCH_CLEARING_TIME_ZONE'], '--clearing-time-zone <zone>',
    'IANA time zone of the clearing calendar: when a month has ended, and on which days a terminal was enabled (the switch dates requests in China Standard Time)',
    z.string().min(1).refine((v) => { try { new Intl.DateTimeFormat('en', { timeZone: v }); return true; } catch { return false; } },
      { message: 'must be an IANA time zone such as Asia/Shanghai' }).default('Asia/Shanghai')),
  clearingGraceDays: s(['POINTSWITCH_CLEARING_GRACE_DAYS'], '--clearing-grace-days <days>',
    'days after a month ends before it may be closed, for late reversals (runs until then are provisional)', z.coerce.number().int().min(0).max(31).default(1)),
  terminalMonthlyFeeFen: s(['POINTSWITCH_TERMINAL_MONTHLY_FEE_FEN'], '--terminal-monthly-fee-fen <fen>',
    'usage fee the issuer pays the acquirer for a terminal enabled the whole month, in fen (pro rata by days enabled)', z.coerce.number().int().min(0).max(100_000_000).default(2000)),
  poolSize: s(['POINTSWITCH_POOL_SIZE'], '--pool-size <n>', 'Postgres connections of this process (keep above batchInflightMax, so reads and voids never wait behind debits)', positiveInt(1000).default(16)),

};

function toBool(v: unknown): unknown {
  if (typeof v === 'boolean' || v === undefined) return v;
  const t = String(v).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  return v;
}

type Described = typeof described;
export type SettingKey = keyof Described;

/** The zod schema of every setting; `Config` is what it outputs (defaults filled in). */
export const configSchema = z.object(
  Object.fromEntries(Object.entries(described).map(([key, d]) => [key, d.schema])) as { [K in SettingKey]: Described[K]['schema'] },
);

/** The validated settings: inferred from the schema, never written by hand. */
export type Config = z.output<typeof configSchema>;

export interface Setting extends SettingText {
  key: SettingKey;
  schema: z.ZodType;
}

/** Every setting, in the order the help and src/switch/README.md list them. */
export const settings: Setting[] = Object.entries(described).map(([key, d]) => ({ key: key as SettingKey, ...d }));
export const settingKeys: readonly SettingKey[] = settings.map((x) => x.key);

const secretKeys = new Set<string>(['kekHex', 'databaseUrl', 'redisUrl']);

export type ConfigResult<C = Config> = { ok: true; config: C } | { ok: false; errors: string[] };

export interface ConfigInput {
  env?: NodeJS.ProcessEnv;
  /** Keyed by setting key (what commander gives for `--pos-port` is `posPort`); undefined counts as not given. */
  flags?: Partial<Record<SettingKey, unknown>>;
}

/** Where a setting came from, for error messages: "--pos-port" or "POS_PORT". */
type Source = { value: unknown; from: string };

/** Env first, flags override. Unknown flag keys are ignored. */
export function loadConfig(input: ConfigInput = {}): ConfigResult {
  return loadSettings(settingKeys, input) as ConfigResult;
}

/**
 * The settings `only` names, read and validated as `loadConfig` does: a command that uses a few settings is not
 * refused for another one it never reads (an `audit` beside a bad ADMIN_PORT).
 */
export function loadSettings<K extends SettingKey>(only: readonly K[], input: ConfigInput = {}): ConfigResult<Pick<Config, K>> {
  const env = input.env ?? {};
  const flags = input.flags ?? {};
  const raw: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  const chosen = settings.filter((x) => (only as readonly SettingKey[]).includes(x.key));
  for (const setting of chosen) {
    const fromFlag = flags[setting.key];
    let source: Source | undefined;
    if (fromFlag !== undefined) source = { value: fromFlag, from: setting.flag.split(' ')[0]! };
    else {
      const name = setting.env.find((n) => env[n] !== undefined && env[n] !== '');
      if (name) source = { value: env[name], from: name };
    }
    if (source) {
      raw[setting.key] = source.value;
      sources.set(setting.key, source.from);
    }
  }
  const schema = z.object(Object.fromEntries(chosen.map((x) => [x.key, x.schema])));
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data as Pick<Config, K> };
  const errors = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const setting = settings.find((x) => x.key === key);
    const from = sources.get(key) ?? setting?.env[0] ?? key;
    // Secrets (the KEK, URLs with passwords) are never echoed back.
    const given = raw[key] === undefined || secretKeys.has(key) ? '' : ` (got ${JSON.stringify(String(raw[key]))})`;
    return `${key} from ${from}${given}: ${humanIssue(issue)}`;
  });
  return { ok: false, errors };
}

function humanIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small': return `must be at least ${String(issue.minimum)}`;
    case 'too_big': return `must be at most ${String(issue.maximum)}`;
    case 'invalid_type': return issue.expected === 'number' || issue.expected === 'int' ? 'must be a whole number' : issue.expected === 'boolean' ? 'must be true or false' : `must be a ${issue.expected}`;
    case 'invalid_value': return `must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    default: return issue.message;
  }
}

export class ConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(`invalid configuration (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n  - ${errors.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Throws one ConfigError whose message lists every problem, one a line. */
export function loadConfigOrThrow(input: ConfigInput = {}): Config {
  return settingsOrThrow(settingKeys, input) as Config;
}

/** `loadSettings`, throwing one ConfigError that lists every problem. */
export function settingsOrThrow<K extends SettingKey>(only: readonly K[], input: ConfigInput = {}): Pick<Config, K> {
  const r = loadSettings(only, input);
  if (!r.ok) throw new ConfigError(r.errors);
  return r.config;
}

/** Settings a test or an embedding program passes without going through env: the schema's defaults filled in. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return loadConfigOrThrow({ flags: overrides });
}
