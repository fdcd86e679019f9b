// Framing on the TCP stream: a 2-byte big-endian length counting every byte after itself.
import { CodecError } from './errors.js';

export const LENGTH_BYTES = 2;
export const FRAME_BODY_BYTES_LIMIT = 0xffff;

/** Prefix a body with its 2-byte big-endian length. */
export function frame(body: Buffer): Buffer {
  if (body.length > FRAME_BODY_BYTES_LIMIT) throw new CodecError('frame-too-long', 0, `body of ${body.length} bytes does not fit a 2-byte length`);
  const out = Buffer.allocUnsafe(body.length + LENGTH_BYTES);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, LENGTH_BYTES);
  return out;
}

/** Strip and check the length prefix of one complete frame: it must count exactly the bytes that follow. */
export function unframe(framed: Buffer): { ok: true; body: Buffer } | { ok: false; error: CodecError } {
  if (framed.length < LENGTH_BYTES) return { ok: false, error: new CodecError('truncated', framed.length, 'no 2-byte length prefix') };
  const declared = framed.readUInt16BE(0);
  const actual = framed.length - LENGTH_BYTES;
  if (declared !== actual) {
    return { ok: false, error: new CodecError('frame-length-mismatch', 0, `length prefix says ${declared} bytes, ${actual} follow`) };
  }
  return { ok: true, body: framed.subarray(LENGTH_BYTES) };
}

export type DeframeItem = { ok: true; body: Buffer } | { ok: false; error: CodecError };

/**
 * TCP stream -> frame bodies. Any split of the stream gives the same frames. Holds at most one incomplete
 * frame of at most `frameBytesMax` + 2 bytes, and copies each byte at most twice (no re-concatenation, so
 * one-byte chunks cost the same per byte as large ones). A frame declared longer than `frameBytesMax` yields a
 * `frame-too-long` error and its bytes are skipped without being buffered (the caller may also just close).
 * Error offsets are stream offsets: bytes pushed before the frame's length prefix.
 */
export class Deframer {
  readonly frameBytesMax: number;
  private pending: Buffer = Buffer.allocUnsafe(LENGTH_BYTES);
  private pendingLen = 0;
  private skipBytes = 0;
  private streamBytes = 0; // stream offset of the first byte of the current chunk
  private frameStart = 0;  // stream offset of the pending frame's length prefix

  constructor(opts: { frameBytesMax: number }) {
    if (!(Number.isInteger(opts.frameBytesMax) && opts.frameBytesMax >= 0)) throw new RangeError('frameBytesMax must be a non-negative integer');
    this.frameBytesMax = Math.min(opts.frameBytesMax, FRAME_BODY_BYTES_LIMIT);
  }

  push(chunk: Buffer): DeframeItem[] {
    const out: DeframeItem[] = [];
    const n = chunk.length;
    let p = 0;
    while (p < n) {
      if (this.skipBytes > 0) {
        const k = Math.min(this.skipBytes, n - p);
        this.skipBytes -= k;
        p += k;
        continue;
      }
      if (this.pendingLen > 0) {
        p = this.continuePending(chunk, p, out);
        continue;
      }
      // Fast path: a frame that starts in this chunk.
      const start = this.streamBytes + p;
      if (n - p < LENGTH_BYTES) { this.startPending(chunk, p, n, start); p = n; break; }
      const len = chunk.readUInt16BE(p);
      if (len > this.frameBytesMax) {
        out.push({ ok: false, error: this.tooLong(len, start) });
        this.skipBytes = len;
        p += LENGTH_BYTES;
        continue;
      }
      const total = LENGTH_BYTES + len;
      if (n - p >= total) {
        // Copy: the body must not alias a chunk the socket may reuse, nor pin a large chunk in memory.
        out.push({ ok: true, body: Buffer.from(chunk.subarray(p + LENGTH_BYTES, p + total)) });
        p += total;
      } else {
        this.startPending(chunk, p, n, start, total);
        p = n;
      }
    }
    this.streamBytes += n;
    return out;
  }

  /** Bytes of an incomplete frame held (never more than frameBytesMax + 2). */
  pendingBytes(): number {
    return this.pendingLen;
  }

  private tooLong(len: number, start: number): CodecError {
    return new CodecError('frame-too-long', start, `frame of ${len} bytes is over frameBytesMax ${this.frameBytesMax}`);
  }

  private startPending(chunk: Buffer, from: number, to: number, start: number, total = LENGTH_BYTES): void {
    if (this.pending.length < total) this.pending = Buffer.allocUnsafe(total);
    chunk.copy(this.pending, 0, from, to);
    this.pendingLen = to - from;
    this.frameStart = start;
  }

  private continuePending(chunk: Buffer, p: number, out: DeframeItem[]): number {
    const n = chunk.length;
    if (this.pendingLen < LENGTH_BYTES) {
      this.pending[this.pendingLen++] = chunk[p++]!;
      if (this.pendingLen < LENGTH_BYTES) return p;
      const len = this.pending.readUInt16BE(0);
      if (len > this.frameBytesMax) {
        out.push({ ok: false, error: this.tooLong(len, this.frameStart) });
        this.skipBytes = len;
        this.pendingLen = 0;
        return p;
      }
      if (this.pending.length < LENGTH_BYTES + len) {
        const grown = Buffer.allocUnsafe(LENGTH_BYTES + len);
        this.pending.copy(grown, 0, 0, LENGTH_BYTES);
        this.pending = grown;
      }
    }
    const total = LENGTH_BYTES + this.pending.readUInt16BE(0);
    const k = Math.min(total - this.pendingLen, n - p);
    chunk.copy(this.pending, this.pendingLen, p, p + k);
    this.pendingLen += k;
    p += k;
    if (this.pendingLen === total) {
      out.push({ ok: true, body: Buffer.from(this.pending.subarray(LENGTH_BYTES, total)) });
      this.pendingLen = 0;
      // Do not keep a large buffer around after one large frame.
      if (this.pending.length > 4096) this.pending = Buffer.allocUnsafe(LENGTH_BYTES);
    }
    return p;
  }
}
