// One pino logger for the process. Callers log masked values (protocol/mask); `redact` is the second guard
// so a full card number, track, PIN block or key never reaches a log line even if a caller forgets.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const redactPaths = [
  'pan', 'cardNo', 'card_no', 'track2', 'track3', 'pinBlock', 'pin', 'key', 'keys', 'tmk', 'mak', 'pik', 'tdk',
  '*.pan', '*.cardNo', '*.card_no', '*.track2', '*.track3', '*.pinBlock', '*.pin', '*.key', '*.keys', '*.tmk', '*.mak', '*.pik', '*.tdk',
  'fields.2', 'fields.35', 'fields.36', 'fields.52', 'fields.55', 'fields.62',
];

export function createLogger(options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { name: options.name ?? 'pointswitch' },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(opts, options.destination as DestinationStream) : pino(opts);
}

/** A logger that writes nothing: for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
