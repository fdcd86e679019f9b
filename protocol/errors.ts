// The one error type of the codec. Its message names the field and byte offset, never a field's value,
// so it can be logged as it is.
import type { Tpdu } from './tpdu.js';

export type CodecErrorKind = 'frame-too-long' | 'frame-length-mismatch' | 'truncated' | 'bad-bitmap' | 'bad-field' | 'unknown-field';

export interface PartialMessage { tpdu?: Tpdu; header?: string; mti?: string }

export class CodecError extends Error {
  readonly kind: CodecErrorKind;
  readonly field?: number;
  /** Byte offset in the frame body (decode), the stream (Deframer), or the body being written (encode). */
  readonly offset: number;
  /** What could be read before the error, so a switch can still answer with response code 30. */
  partial?: PartialMessage;

  constructor(kind: CodecErrorKind, offset: number, detail: string, field?: number) {
    super(`${field !== undefined ? `field ${field}: ` : ''}${detail} (${kind} at byte ${offset})`);
    this.name = 'CodecError';
    this.kind = kind;
    this.offset = offset;
    if (field !== undefined) this.field = field;
  }
}
