// One pino logger for the process. Callers log masked values (protocol/mask); `redact` below is the second
// guard so a full card number, track, PIN block or key never reaches a log line even if a caller forgets.
import { destination as pinoDestination, pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

// The keys that never reach a log line with their value: at the top of a line's object, one level down (any
// object under a top-level key, e.g. {terminal: {mak}}), and an ISO message's card, track, PIN and chip fields
// under `fields`. Same rule as pino's `redact` with the paths `pan`, `*.pan`, …, `fields.2`, …; measured, pino's
// redact (@pinojs/redact 0.4) re-parsed its 27 paths on every line and cost the switch about a tenth of its CPU
// at one line per transaction, this check a few Set look-ups.
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
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { name: options.name ?? 'pointswitch' },
    formatters: { log: redact },
    // Child bindings do not pass through formatters.log; serializers apply to both, by top-level key.
    serializers: childGuards,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(opts, options.destination as DestinationStream) : pino(opts);
}

/** A logger that writes nothing: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Standard output for the switch's log: lines gather up to 4 KB (about a dozen transaction lines) and go out in
 * one write, at the latest `maxDelayMs` after the first, and at once on `stop()` and at process exit (pino's
 * exit hook). Measured: with a write per line, `--log-level info` (one line per transaction) cost the switch
 * about 55 µs a purchase and a third of its peak.
 */
export function bufferedStdout(maxDelayMs = 250): { stream: NodeJS.WritableStream; stop(): void } {
  const dest = pinoDestination({ dest: 1, sync: false, minLength: 4096 });
  // Set while lines wait for their flush; the first line after a flush starts the next wait.
  let timer: NodeJS.Timeout | null = null;
  const stream = {
    write(line: string): boolean {
      timer ??= setTimeout(() => { timer = null; flushQuietly(() => dest.flush()); }, maxDelayMs).unref();
      return dest.write(line);
    },
  };
  return {
    stream: stream as unknown as NodeJS.WritableStream,
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      flushQuietly(() => dest.flushSync());
    },
  };
}

/** A closed standard output (the reader went away) leaves nothing to write to; that is not the switch's failure. */
function flushQuietly(flush: () => void): void {
  try { flush(); } catch { /* stdout closed */ }
}
