// One pino logger for the process. Callers log masked values (protocol/mask); `redact` below is the second
// guard so a full card number, track, PIN block or key never reaches a log line even if a caller forgets.
import { destination as pinoDestination, pino, symbols as pinoSymbols, type DestinationStream, type Logger } from 'pino';
import { maskPan } from '../protocol/index.js';

export type { Logger };

// The keys that never reach a log line with their value: at the top of a line's object, one level down (any
// object under a top-level key, e.g. {terminal: {mak}}), and an ISO message's card, track, PIN and chip fields
// under `fields`. Same rule as pino's `redact` with the paths `pan`, `*.pan`, …, `fields.2`, …; pino's redact
// re-parses its paths on every line, a noticeable share of the switch's CPU at one line per transaction, where
// this check is a few Set look-ups.
const sensitiveKeys: ReadonlySet<string> = new Set(['pan', 'cardNo', 'card_no', 'track2', 'track3', 'pinBlock', 'pin', 'key', 'keys', 'tmk', 'mak', 'pik', 'tdk']);
const sensitiveIsoFields: ReadonlySet<string> = new Set(['2', '35', '36', '52', '55', '62']);
export const censor = '[redacted]';

/**
 * `obj` with every sensitive value replaced by `censor` (see above). The caller's objects are never changed:
 * what needs a change is copied, and an object with nothing to hide is returned as it is.
 */
export function redact(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k in obj) {
    const v = obj[k];
    const nv = sensitiveKeys.has(k) ? censor : v !== null && typeof v === 'object' ? redactNested(v as Record<string, unknown>, k === 'fields') : v;
    if (nv !== v) (out ??= { ...obj })[k] = nv;
  }
  return out ?? obj;
}

function redactNested(v: Record<string, unknown>, isoFields: boolean): unknown {
  if (Buffer.isBuffer(v) || ArrayBuffer.isView(v) || Array.isArray(v)) return v;
  let out: Record<string, unknown> | null = null;
  for (const k in v) {
    // Already censored: a log line's `fields` pass here twice (formatters.log, then the `fields` serializer).
    if (v[k] === censor) continue;
    if (sensitiveKeys.has(k) || (isoFields && sensitiveIsoFields.has(k))) {
      // An Error keeps what its serializer prints (message and stack are not enumerable, so spread drops them).
      out ??= v instanceof Error ? { ...v, type: v.name, message: v.message, stack: v.stack } : { ...v };
      out[k] = censor;
    }
  }
  return out ?? v;
}

const childGuards: Record<string, (v: unknown) => unknown> = Object.fromEntries([
  ...[...sensitiveKeys].map((k) => [k, () => censor] as const),
  ['fields', (v: unknown) => (v !== null && typeof v === 'object' ? redactNested(v as Record<string, unknown>, true) : v)] as const,
]);

export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts = {
    // The level is a setting (logLevel, LOG_LEVEL): src/config reads the environment, not this file.
    level: options.level ?? 'info',
    base: { name: options.name ?? 'pointswitch' },
    formatters: { log: redact },
    // Child bindings do not pass through formatters.log; serializers apply to both, by top-level key.
    serializers: childGuards,
    timestamp: isoTime,
  };
  return options.destination ? pino(opts, options.destination as DestinationStream) : pino(opts);
}

/** A logger that writes nothing: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * pino's `isoTime` with the string made once per millisecond: at thousands of lines a second most lines share
 * their millisecond, and `toISOString` was an eighth of a line's cost.
 */
let isoMs = -1;
let isoText = '';
export function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoText;
}

/** The per-transaction line's fields (see `writeTxnLine`). */
export interface TxnLine {
  conn: number;
  terminal: string | undefined;
  merchant: string | undefined;
  mti: string;
  type: string;
  processingCode: string | undefined;
  trace: string | undefined;
  responseCode: string;
  latencyMs: number;
  /** The full card number: masked here, so no caller can put it in the line whole. */
  cardNo: string | undefined;
  reason?: string | undefined;
}

/**
 * Writes the one line per transaction at `info` through `log`'s own destination, the line pino would write
 * for `log.info({conn, terminal, …, card: maskPan(cardNo), reason}, 'txn')` (same keys in the same order, same
 * bindings, same time format; a test compares the two), made by hand. pino's generic path (serializers,
 * formatters, per-key type dispatch) was most of what a line cost the switch; this line has a fixed shape and
 * nothing in it to censor (the card is masked here), so it needs none of that.
 * The caller checks `log.isLevelEnabled('info')` first.
 */
export function writeTxnLine(log: Logger, t: TxnLine): void {
  const l = log as unknown as Record<symbol, unknown>;
  const stream = l[pinoSymbols.streamSym] as { write(s: string): unknown };
  const bindings = l[pinoSymbols.chindingsSym] as string;
  let line = `{"level":30${isoTime()}${bindings},"conn":${t.conn}`;
  if (t.terminal !== undefined) line += `,"terminal":${jsonString(t.terminal)}`;
  if (t.merchant !== undefined) line += `,"merchant":${jsonString(t.merchant)}`;
  line += `,"mti":${jsonString(t.mti)},"type":${jsonString(t.type)}`;
  if (t.processingCode !== undefined) line += `,"processingCode":${jsonString(t.processingCode)}`;
  if (t.trace !== undefined) line += `,"trace":${jsonString(t.trace)}`;
  line += `,"responseCode":${jsonString(t.responseCode)},"latencyMs":${Number.isFinite(t.latencyMs) ? t.latencyMs : null}`;
  if (t.cardNo) line += `,"card":${jsonString(maskPan(t.cardNo))}`;
  if (t.reason) line += `,"reason":${jsonString(t.reason)}`;
  stream.write(`${line},"msg":"txn"}\n`);
}

/** Characters JSON.stringify escapes in a string (quote, backslash, controls, lone surrogates). */
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(s)` without its cost for the common string that needs no escape. */
function jsonString(s: string): string {
  return needsEscape.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** Every buffer made in this process, flushed at exit (a line logged just before `process.exit` is not lost). */
const liveBuffers = new Set<() => void>();
let exitHooked = false;

/**
 * Standard output for the switch's log: lines gather up to 4 KB (about a dozen transaction lines) and go out in
 * one write, at the latest `maxDelayMs` after the first, and at once on `stop()` and at process exit. With a
 * write per line, `--log-level info` (one line per transaction) cost the switch a large share of its peak rate.
 * The lines are kept in an array and joined once per write: pino's destination (sonic-boom) in its buffering
 * mode appends each line to one growing string and measures that string's byte length at every line, which
 * copies the whole buffer per line. The write itself goes through sonic-boom in its synchronous mode (pino's
 * default for stdout), which retries a full pipe (EAGAIN) rather than drop lines; one synchronous write per
 * 4 KB also keeps the log off libuv's thread pool.
 */
export function bufferedStdout(maxDelayMs = 250): { stream: NodeJS.WritableStream; stop(): void } {
  const dest = pinoDestination({ dest: 1, sync: true });
  dest.on('error', () => { /* stdout closed: see flushQuietly */ });
  let lines: string[] = [];
  let size = 0;
  // Set while lines wait for their flush; the first line after a flush starts the next wait.
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (lines.length === 0) return;
    const chunk = lines.length === 1 ? lines[0]! : lines.join('');
    lines = [];
    size = 0;
    flushQuietly(() => dest.write(chunk));
  };
  const stream = {
    write(line: string): boolean {
      lines.push(line);
      size += line.length;
      if (size >= 4096 || stopped) flush();
      else timer ??= setTimeout(flush, maxDelayMs).unref();
      return true;
    },
  };
  liveBuffers.add(flush);
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => { for (const f of liveBuffers) f(); });
  }
  return {
    stream: stream as unknown as NodeJS.WritableStream,
    /** Writes out what waits; a line logged after this goes out at once. */
    stop() {
      stopped = true;
      flush();
    },
  };
}

/** A closed standard output (the reader went away) leaves nothing to write to; that is not the switch's failure. */
function flushQuietly(flush: () => void): void {
  try { flush(); } catch { /* stdout closed */ }
}
