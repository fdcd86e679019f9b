// The message codec: TPDU, header, MTI, bitmap(s) and fields, driven by a precompiled field table.
// Offsets in errors are byte offsets in the frame body (the bytes after the 2-byte length).
import { CodecError } from './errors.js';
import type { Tpdu } from './tpdu.js';
import type { FieldTable } from './spec/types.js';
import { unionPayPosFields } from './spec/unionpay-pos.js';
import { NIBBLE, bcdDecode, bcdEncode, bcdPad, binaryDecode, binaryEncode, hexOf, latin1Decode, latin1Encode } from './encodings.js';
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
/** The largest body a 2-byte length can frame. */
export const FRAME_BODY_BYTES_MAX = 0xffff;

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

function tpduOf(body: Buffer): Tpdu {
  return { id: hexOf(body, 0, 1), destination: hexOf(body, 1, 3), source: hexOf(body, 3, 5) };
}

// A connection sends the same TPDU and header again and again: reuse the last strings when the 11 bytes match
// (strings are immutable, so sharing them is safe; the Tpdu object itself is always new).
const lastAddress = Buffer.alloc(MTI_OFFSET);
let lastId = '', lastDestination = '', lastSource = '', lastHeader = '';
let lastValid = false;

function readAddressing(body: Buffer): void {
  let same = lastValid;
  for (let i = 0; same && i < MTI_OFFSET; i++) same = body[i] === lastAddress[i];
  if (same) return;
  lastId = hexOf(body, 0, 1);
  lastDestination = hexOf(body, 1, 3);
  lastSource = hexOf(body, 3, 5);
  lastHeader = hexOf(body, TPDU_BYTES, MTI_OFFSET);
  body.copy(lastAddress, 0, 0, MTI_OFFSET);
  lastValid = true;
}

// MTIs are few: keep each one's string once, by its two BCD bytes.
const mtiStrings: Array<string | undefined> = new Array(0x10000);

// Out-slots of readField: decode is synchronous, so one set serves every call without allocating per field.
const read: { value: FieldValue; pad: number } = { value: '', pad: 0 };
const failure: { kind: CodecError['kind']; offset: number; detail: string } = { kind: 'bad-field', offset: 0, detail: '' };

function failField(kind: CodecError['kind'], offset: number, detail: string): -1 {
  failure.kind = kind;
  failure.offset = offset;
  failure.detail = detail;
  return -1;
}

/**
 * Read field `f` at offset `p`: its length prefix (if any), then its value into `read.value` (and an odd n/z
 * value's pad nibble into `read.pad`). Returns the offset after the field, or -1 with `failure` set.
 * Never reads or allocates past the body: a length is checked against the spec maximum and the bytes left first.
 */
function readField(spec: CompiledTable, body: Buffer, p: number, f: number): number {
  const end = body.length;
  const t = spec.type[f]!;
  if (t === 0) return failField('unknown-field', p, 'no spec for this field');
  const max = spec.length[f]!;
  const pb = spec.prefix[f]!;
  let len = max;
  if (pb !== 0) {
    if (p + pb > end) return failField('truncated', p, 'length prefix runs past the end of the frame');
    len = readPrefix(body, p, pb as 1 | 2);
    if (len < 0) return failField('bad-field', p, 'length prefix is not BCD');
    if (len > max) return failField('bad-field', p, `length ${len} over the maximum ${max}`);
    p += pb;
  }
  const bcd = t === N || t === Z;
  const nbytes = bcd ? (len + 1) >> 1 : len;
  if (p + nbytes > end) return failField('truncated', p, `needs ${nbytes} bytes, ${end - p} left`);
  read.pad = 0;
  if (bcd) {
    const left = spec.left[f] === 1;
    const v = bcdDecode(body, p, len, left, t === Z);
    if (v === null) return failField('bad-field', p, 'not BCD digits');
    read.value = v;
    if (len & 1) read.pad = bcdPad(body, p, len, left);
  } else {
    read.value = t === AN ? latin1Decode(body, p, len) : binaryDecode(body, p, len);
  }
  return p + nbytes;
}

/** Decode a frame body (TPDU .. last field, no length prefix). Never throws on bad input. */
export function decode(body: Buffer, spec: CompiledTable = unionPayPos): DecodeResult {
  const end = body.length;
  if (end < BITMAP_OFFSET + 8) {
    const e = new CodecError('truncated', end, `frame body of ${end} bytes is shorter than TPDU+header+MTI+bitmap (21)`);
    e.partial = end >= TPDU_BYTES ? (end >= MTI_OFFSET ? { tpdu: tpduOf(body), header: hexOf(body, 5, 11) } : { tpdu: tpduOf(body) }) : {};
    return { ok: false, error: e };
  }
  readAddressing(body);
  const tpdu: Tpdu = { id: lastId, destination: lastDestination, source: lastSource };
  const header = lastHeader;
  const mtiKey = (body[MTI_OFFSET]! << 8) | body[MTI_OFFSET + 1]!;
  let mti = mtiStrings[mtiKey] ?? null;
  if (mti === null) {
    mti = bcdDecode(body, MTI_OFFSET, 4, false, false);
    if (mti !== null) mtiStrings[mtiKey] = mti;
  }
  if (mti === null) {
    const e = new CodecError('bad-field', MTI_OFFSET, 'MTI is not 4 BCD digits');
    e.partial = { tpdu, header };
    return { ok: false, error: e };
  }
  const secondary = (body[BITMAP_OFFSET]! & 0x80) !== 0;
  let p = BITMAP_OFFSET + 8;
  if (secondary) {
    if (end < p + 8) return failAt(tpdu, header, mti, 'truncated', end, 'secondary bitmap flagged but not present', 1);
    let any = 0;
    for (let i = p; i < p + 8; i++) any |= body[i]!;
    if (any === 0) return failAt(tpdu, header, mti, 'bad-bitmap', p, 'secondary bitmap flagged but empty', 1);
    p += 8;
  }
  const fields: { [field: number]: FieldValue | undefined } = {};
  // Store the highest field number first (overwritten when its value is read): V8 then sizes the fields'
  // element store once instead of growing it field by field, which was a third of decode time.
  const bitmapEnd = BITMAP_OFFSET + (secondary ? 16 : 8);
  for (let at = bitmapEnd - 1; at >= BITMAP_OFFSET; at--) {
    const bits = at === BITMAP_OFFSET ? body[at]! & 0x7f : body[at]!;
    if (bits === 0) continue;
    fields[((at - BITMAP_OFFSET) << 3) + 8 - Math.log2(bits & -bits)] = undefined;
    break;
  }
  let pads: { [field: number]: number } | undefined;
  // Walk the set bits only: each bitmap byte, highest bit first; bit 1 (the secondary flag) is not a field.
  for (let byteAt = BITMAP_OFFSET; byteAt < bitmapEnd; byteAt++) {
    let bits = byteAt === BITMAP_OFFSET ? body[byteAt]! & 0x7f : body[byteAt]!;
    while (bits !== 0) {
      const lead = Math.clz32(bits) - 24; // 0..7
      bits &= ~(0x80 >> lead);
      const f = ((byteAt - BITMAP_OFFSET) << 3) + lead + 1;
      const next = readField(spec, body, p, f);
      if (next < 0) return failAt(tpdu, header, mti, failure.kind, failure.offset, failure.detail, f);
      fields[f] = read.value;
      if (read.pad !== 0) (pads ??= {})[f] = read.pad;
      p = next;
    }
  }
  if (p !== end) return failAt(tpdu, header, mti, 'frame-length-mismatch', p, `${end - p} bytes after the last field`);
  const message: IsoMessage = pads ? { tpdu, header, mti, fields, pads } : { tpdu, header, mti, fields };
  return { ok: true, message };
}

function failAt(tpdu: Tpdu, header: string, mti: string, kind: CodecError['kind'], offset: number, detail: string, field?: number): DecodeResult {
  const e = new CodecError(kind, offset, detail, field);
  e.partial = { tpdu, header, mti };
  return { ok: false, error: e };
}

function encodeError(detail: string, field?: number, offset = 0): CodecError {
  return new CodecError('bad-field', offset, detail, field);
}

/** Bytes a field value takes, prefix included; throws CodecError if it does not fit the spec. */
function fieldSize(spec: CompiledTable, f: number, v: FieldValue): number {
  const t = spec.type[f]!;
  if (t === 0) throw new CodecError('unknown-field', 0, 'no spec for this field', f);
  const isBuf = typeof v !== 'string';
  if (isBuf && !Buffer.isBuffer(v)) throw encodeError('a value is a string or a Buffer', f);
  if ((t === B) !== isBuf) throw encodeError(t === B ? 'a b field takes a Buffer' : 'takes a string, not a Buffer', f);
  const len = v.length;
  const max = spec.length[f]!;
  const pb = spec.prefix[f]!;
  if (pb === 0 ? len !== max : len > max) {
    throw encodeError(pb === 0 ? `fixed length ${max}, got ${len}` : `length ${len} over the maximum ${max}`, f);
  }
  return pb + (t === N || t === Z ? (len + 1) >> 1 : len);
}

// Field numbers present in the message being encoded (encode is synchronous, so one scratch list suffices).
const present = new Uint8Array(FIELD_MAX);

/** Write `chars` hex characters of `hex` at `at`; false if a character is not hex or the length is wrong. */
function writeHex(hex: string, chars: number, out: Buffer, at: number): boolean {
  if (hex.length !== chars) return false;
  for (let i = 0; i < chars; i += 2) {
    const c1 = hex.charCodeAt(i), c2 = hex.charCodeAt(i + 1);
    const hi = c1 < 128 && c1 !== 61 ? NIBBLE[c1]! : -1;
    const lo = c2 < 128 && c2 !== 61 ? NIBBLE[c2]! : -1;
    if (hi < 0 || lo < 0) return false;
    out[at + (i >> 1)] = (hi << 4) | lo;
  }
  return true;
}

/** Encode a message into a frame body (TPDU .. last field, no length prefix). Throws CodecError on a bad value. */
export function encode(msg: IsoMessage, spec: CompiledTable = unionPayPos): Buffer {
  return encodeWith64(msg, undefined, spec);
}

/**
 * `encode`, with field 64 taken as `field64` whatever the message holds there (undefined: the message's own).
 * The MAC's way to reserve field 64 without copying the message.
 */
export function encodeWith64(msg: IsoMessage, field64: Buffer | undefined, spec: CompiledTable = unionPayPos): Buffer {
  const fields = msg.fields;
  let size = BITMAP_OFFSET + 8;
  let count = 0;
  let secondary = false;
  for (let f = 2; f <= FIELD_MAX; f++) {
    const v = f === 64 && field64 !== undefined ? field64 : fields[f];
    if (v === undefined) continue;
    size += fieldSize(spec, f, v);
    present[count++] = f;
    if (f > 64) secondary = true;
  }
  if (secondary) size += 8;
  if (size > FRAME_BODY_BYTES_MAX) throw encodeError(`message of ${size} bytes does not fit a 2-byte frame length`);
  const { tpdu, header, mti } = msg;
  const out = Buffer.allocUnsafe(size);
  if (!writeHex(tpdu.id, 2, out, 0) || !writeHex(tpdu.destination, 4, out, 1) || !writeHex(tpdu.source, 4, out, 3)) {
    throw encodeError('TPDU must be hex: id 2, destination 4, source 4 characters');
  }
  if (!writeHex(header, 12, out, 5)) throw encodeError('header must be 12 hex characters', undefined, 5);
  if (mti.length !== 4 || bcdEncode(mti, out, MTI_OFFSET, false, 0, false) !== 2) throw encodeError('MTI must be 4 digits', undefined, MTI_OFFSET);
  const bitmapEnd = BITMAP_OFFSET + (secondary ? 16 : 8);
  for (let i = BITMAP_OFFSET; i < bitmapEnd; i++) out[i] = 0;
  if (secondary) out[BITMAP_OFFSET] = 0x80;
  let p = bitmapEnd;
  const T = spec.type, P = spec.prefix, A = spec.left;
  const pads = msg.pads;
  for (let k = 0; k < count; k++) {
    const f = present[k]!;
    const v = f === 64 && field64 !== undefined ? field64 : fields[f]!;
    const bm = f <= 64 ? BITMAP_OFFSET + ((f - 1) >> 3) : BITMAP_OFFSET + 8 + ((f - 65) >> 3);
    out[bm] = out[bm]! | (0x80 >> ((f - 1) & 7));
    const t = T[f]!;
    const pb = P[f]!;
    if (pb !== 0) p += writePrefix(out, p, pb as 1 | 2, v.length);
    let w: number;
    if (t === N || t === Z) {
      let pad = 0;
      if (pads !== undefined && (v.length & 1) === 1) {
        pad = pads[f] ?? 0;
        if (!(pad >= 0 && pad <= 15 && (pad | 0) === pad)) throw encodeError('pad nibble must be 0-15', f, p);
      }
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
