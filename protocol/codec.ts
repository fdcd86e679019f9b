// The message codec: TPDU, header, MTI, bitmap(s) and fields, driven by a precompiled field table.
// Offsets in errors are byte offsets in the frame body (the bytes after the 2-byte length).
import { CodecError } from './errors.js';
import type { Tpdu } from './tpdu.js';
import type { FieldTable } from './spec/types.js';
import { unionPayPosFields } from './spec/unionpay-pos.js';
import { bcdDecode, bcdEncode, bcdPad, binaryDecode, binaryEncode, hexOf, latin1Decode, latin1Encode } from './encodings.js';
import { prefixBytes, readPrefix, writePrefix } from './prefixes.js';

export type FieldValue = string | Buffer;

export interface IsoMessage {
  tpdu: Tpdu;
  /** 12 hex characters, opaque. */
  header: string;
  mti: string;
  fields: { [field: number]: FieldValue | undefined };
  /** Non-zero pad nibbles of odd-length n/z fields seen on decode; re-emitted on encode. */
  pads?: { [field: number]: number };
}

export type DecodeResult = { ok: true; message: IsoMessage } | { ok: false; error: CodecError };

export const TPDU_BYTES = 5;
export const HEADER_BYTES = 6;
export const MTI_OFFSET = TPDU_BYTES + HEADER_BYTES; // 11
export const BITMAP_OFFSET = MTI_OFFSET + 2; // 13
export const FIELD_MAX = 128;

// Type codes of the compiled table.
const N = 1, Z = 2, AN = 3, B = 4;

/** A field table compiled into flat arrays indexed by field number: the hot path reads numbers, not objects. */
export interface CompiledTable {
  type: Uint8Array;      // 0 = no spec
  length: Uint16Array;   // exact or maximum
  prefix: Uint8Array;    // 0, 1 or 2 bytes
  left: Uint8Array;      // 1 = odd n/z padded at the end
  table: FieldTable;
}

export function compile(table: FieldTable): CompiledTable {
  const c: CompiledTable = {
    type: new Uint8Array(FIELD_MAX + 1), length: new Uint16Array(FIELD_MAX + 1),
    prefix: new Uint8Array(FIELD_MAX + 1), left: new Uint8Array(FIELD_MAX + 1), table,
  };
  for (let f = 2; f <= FIELD_MAX; f++) {
    const s = table[f];
    if (!s) continue;
    c.type[f] = s.type === 'n' ? N : s.type === 'z' ? Z : s.type === 'b' ? B : AN;
    c.length[f] = s.length;
    c.prefix[f] = prefixBytes(s.prefix);
    // Variable n/z are left-aligned; fixed n right-aligned unless the table says otherwise.
    c.left[f] = (s.align ?? (s.prefix === 'fixed' ? 'right' : 'left')) === 'left' ? 1 : 0;
  }
  return c;
}

export const unionPayPos: CompiledTable = compile(unionPayPosFields);

const HEX_RE = /^[0-9A-Fa-f]*$/;
const MTI_RE = /^[0-9]{4}$/;

function tpduOf(body: Buffer): Tpdu {
  return { id: hexOf(body, 0, 1), destination: hexOf(body, 1, 3), source: hexOf(body, 3, 5) };
}

/** Decode a frame body (TPDU .. last field, no length prefix). Never throws on bad input. */
export function decode(body: Buffer, spec: CompiledTable = unionPayPos): DecodeResult {
  const end = body.length;
  if (end < BITMAP_OFFSET + 8) {
    const e = new CodecError('truncated', end, `frame body of ${end} bytes is shorter than TPDU+header+MTI+bitmap (21)`);
    e.partial = end >= TPDU_BYTES ? (end >= MTI_OFFSET ? { tpdu: tpduOf(body), header: hexOf(body, 5, 11) } : { tpdu: tpduOf(body) }) : {};
    return { ok: false, error: e };
  }
  const tpdu = tpduOf(body);
  const header = hexOf(body, TPDU_BYTES, MTI_OFFSET);
  const mti = bcdDecode(body, MTI_OFFSET, 4, false, false);
  if (mti === null) {
    const e = new CodecError('bad-field', MTI_OFFSET, 'MTI is not 4 BCD digits');
    e.partial = { tpdu, header };
    return { ok: false, error: e };
  }
  const secondary = (body[BITMAP_OFFSET]! & 0x80) !== 0;
  let p = BITMAP_OFFSET + 8;
  if (secondary) {
    if (end < p + 8) return fail('truncated', end, 'secondary bitmap flagged but not present', 1);
    let any = 0;
    for (let i = p; i < p + 8; i++) any |= body[i]!;
    if (any === 0) return fail('bad-bitmap', p, 'secondary bitmap flagged but empty', 1);
    p += 8;
  }
  const fields: { [field: number]: FieldValue | undefined } = {};
  let pads: { [field: number]: number } | undefined;
  const T = spec.type, L = spec.length, P = spec.prefix, A = spec.left;
  const last = secondary ? 128 : 64;
  for (let f = 2; f <= last; f++) {
    const bm = f <= 64 ? BITMAP_OFFSET + ((f - 1) >> 3) : BITMAP_OFFSET + 8 + ((f - 65) >> 3);
    if ((body[bm]! & (0x80 >> ((f - 1) & 7))) === 0) continue;
    const t = T[f]!;
    if (t === 0) return fail('unknown-field', p, 'no spec for this field', f);
    const pb = P[f]!;
    let len = L[f]!;
    if (pb !== 0) {
      if (p + pb > end) return fail('truncated', p, 'length prefix runs past the end of the frame', f);
      len = readPrefix(body, p, pb as 1 | 2);
      if (len < 0) return fail('bad-field', p, 'length prefix is not BCD', f);
      if (len > L[f]!) return fail('bad-field', p, `length ${len} over the maximum ${L[f]}`, f);
      p += pb;
    }
    const nbytes = t === N || t === Z ? (len + 1) >> 1 : len;
    if (p + nbytes > end) return fail('truncated', p, `needs ${nbytes} bytes, ${end - p} left`, f);
    let v: FieldValue | null;
    if (t === N || t === Z) {
      v = bcdDecode(body, p, len, A[f] === 1, t === Z);
      if (v === null) return fail('bad-field', p, 'not BCD digits', f);
      if (len & 1) {
        const pad = bcdPad(body, p, len, A[f] === 1);
        if (pad !== 0) (pads ??= {})[f] = pad;
      }
    } else if (t === AN) {
      v = latin1Decode(body, p, len);
    } else {
      v = binaryDecode(body, p, len);
    }
    fields[f] = v;
    p += nbytes;
  }
  if (p !== end) return fail('frame-length-mismatch', p, `${end - p} bytes after the last field`);
  const message: IsoMessage = pads ? { tpdu, header, mti, fields, pads } : { tpdu, header, mti, fields };
  return { ok: true, message };

  function fail(kind: CodecError['kind'], offset: number, detail: string, field?: number): DecodeResult {
    const e = new CodecError(kind, offset, detail, field);
    e.partial = { tpdu, header, mti: mti! };
    return { ok: false, error: e };
  }
}

function encodeError(detail: string, field?: number, offset = 0): CodecError {
  return new CodecError('bad-field', offset, detail, field);
}

/** Bytes a field value takes, prefix included; throws CodecError if it does not fit the spec. */
function fieldSize(spec: CompiledTable, f: number, v: FieldValue): number {
  const t = spec.type[f]!;
  if (t === 0) throw new CodecError('unknown-field', 0, 'no spec for this field', f);
  const isBuf = typeof v !== 'string';
  if ((t === B) !== isBuf) throw encodeError(t === B ? 'a b field takes a Buffer' : 'takes a string, not a Buffer', f);
  const len = v.length;
  const max = spec.length[f]!;
  const pb = spec.prefix[f]!;
  if (pb === 0 ? len !== max : len > max) {
    throw encodeError(pb === 0 ? `fixed length ${max}, got ${len}` : `length ${len} over the maximum ${max}`, f);
  }
  return pb + (t === N || t === Z ? (len + 1) >> 1 : len);
}

/** Encode a message into a frame body (TPDU .. last field, no length prefix). Throws CodecError on a bad value. */
export function encode(msg: IsoMessage, spec: CompiledTable = unionPayPos): Buffer {
  const fields = msg.fields;
  let size = BITMAP_OFFSET + 8;
  let secondary = false;
  for (let f = 2; f <= 64; f++) {
    const v = fields[f];
    if (v !== undefined) size += fieldSize(spec, f, v);
  }
  for (let f = 65; f <= FIELD_MAX; f++) {
    const v = fields[f];
    if (v !== undefined) { size += fieldSize(spec, f, v); secondary = true; }
  }
  if (secondary) size += 8;
  const { tpdu, header, mti } = msg;
  if (tpdu.id.length !== 2 || tpdu.destination.length !== 4 || tpdu.source.length !== 4
    || !HEX_RE.test(tpdu.id) || !HEX_RE.test(tpdu.destination) || !HEX_RE.test(tpdu.source)) {
    throw encodeError('TPDU must be hex: id 2, destination 4, source 4 characters');
  }
  if (header.length !== 12 || !HEX_RE.test(header)) throw encodeError('header must be 12 hex characters', undefined, 5);
  if (!MTI_RE.test(mti)) throw encodeError('MTI must be 4 digits', undefined, MTI_OFFSET);

  const out = Buffer.allocUnsafe(size);
  out.write(tpdu.id, 0, 'hex');
  out.write(tpdu.destination, 1, 'hex');
  out.write(tpdu.source, 3, 'hex');
  out.write(header, 5, 'hex');
  out[11] = ((mti.charCodeAt(0) - 48) << 4) | (mti.charCodeAt(1) - 48);
  out[12] = ((mti.charCodeAt(2) - 48) << 4) | (mti.charCodeAt(3) - 48);
  out.fill(0, BITMAP_OFFSET, BITMAP_OFFSET + (secondary ? 16 : 8));
  if (secondary) out[BITMAP_OFFSET] = 0x80;
  let p = BITMAP_OFFSET + (secondary ? 16 : 8);
  const T = spec.type, P = spec.prefix, A = spec.left;
  const pads = msg.pads;
  for (let f = 2; f <= (secondary ? FIELD_MAX : 64); f++) {
    const v = fields[f];
    if (v === undefined) continue;
    const bm = f <= 64 ? BITMAP_OFFSET + ((f - 1) >> 3) : BITMAP_OFFSET + 8 + ((f - 65) >> 3);
    out[bm] = out[bm]! | (0x80 >> ((f - 1) & 7));
    const t = T[f]!;
    const pb = P[f]!;
    if (pb !== 0) p += writePrefix(out, p, pb as 1 | 2, v.length);
    let w: number;
    if (t === N || t === Z) {
      const pad = pads?.[f] ?? 0;
      if (!(pad >= 0 && pad <= 15 && (pad | 0) === pad)) throw encodeError('pad nibble must be 0-15', f, p);
      w = bcdEncode(v as string, out, p, A[f] === 1, pad, t === Z);
      if (w < 0) throw encodeError(t === Z ? 'track data takes 0-9, A-F and =' : 'takes decimal digits only', f, p);
    } else if (t === AN) {
      w = latin1Encode(v as string, out, p);
      if (w < 0) throw encodeError('text must be latin1 (one byte per character)', f, p);
    } else {
      w = binaryEncode(v as Buffer, out, p);
    }
    p += w;
  }
  return out;
}
