// A JSON-able description of a message (for logs, the CLI and testers), masked unless told otherwise,
// and the way back from that JSON to a message.
import type { FieldValue, IsoMessage } from './codec.js';
import type { FieldSpec, SubfieldTable } from './spec/types.js';
import { unionPayPosFields } from './spec/unionpay-pos.js';
import { field44, field48BatchTotals, field60, field61, field63, splitSubfields } from './spec/subfields.js';
import { maskBytes, maskPan, maskTrack } from './mask.js';

/** Fields whose values are secret or card data: masked by describe() unless `unmasked`. */
export const MASKED_FIELDS: ReadonlySet<number> = new Set([2, 34, 35, 36, 45, 52, 55, 62, 64, 96, 128]);

export function formatOf(s: FieldSpec): string {
  const len = s.prefix === 'fixed' ? `${s.length}` : `..${s.length} ${s.prefix}VAR`;
  return s.type === 'b' ? `b${s.prefix === 'fixed' ? '' : '..'}${s.length}${s.prefix === 'fixed' ? '' : ` ${s.prefix}VAR`} (bytes)` : `${s.type}${len}`;
}

export interface DescribedField {
  name: string;
  format: string;
  /** n/z/an/ans: the string; b: upper-case hex. Masked values say so in `masked`. */
  value: string;
  masked?: true;
  /** an/ans values holding bytes outside printable ASCII (GBK text, binary): the bytes as hex, for reading. */
  hex?: string;
  subfields?: Record<string, { name: string; value: string }>;
}

export interface Described {
  tpdu: IsoMessage['tpdu'];
  header: string;
  mti: string;
  fields: Record<string, DescribedField>;
  pads?: Record<string, number>;
}

function maskValue(f: number, v: FieldValue): string {
  if (typeof v !== 'string') return maskBytes(v);
  if (f === 2 || f === 34) return maskPan(v);
  if (f === 35 || f === 36 || f === 45) return maskTrack(v);
  return maskBytes(v);
}

function subfieldsOf(table: SubfieldTable, v: string): Record<string, { name: string; value: string }> {
  const { parts, rest } = splitSubfields(table, v);
  const out: Record<string, { name: string; value: string }> = {};
  for (const p of parts) out[p.id] = { name: p.name, value: p.value };
  if (rest) out[`${table.field}.rest`] = { name: table.rest, value: rest };
  return out;
}

function signOnKeyParts(v: Buffer, unmasked: boolean): Record<string, { name: string; value: string }> | undefined {
  if (v.length !== 40 && v.length !== 60) return undefined;
  const names = ['PIN key (PIK)', 'MAC key (MAK)', 'track key (TDK)'];
  const out: Record<string, { name: string; value: string }> = {};
  for (let i = 0; i * 20 < v.length; i++) {
    const enc = v.subarray(i * 20, i * 20 + 16);
    out[`62.${2 * i + 1}`] = { name: `${names[i]} under the TMK`, value: unmasked ? enc.toString('hex').toUpperCase() : maskBytes(enc) };
    out[`62.${2 * i + 2}`] = { name: `${names[i]} check value`, value: v.subarray(i * 20 + 16, i * 20 + 20).toString('hex').toUpperCase() };
  }
  return out;
}

function subfields(mti: string, f: number, v: FieldValue, unmasked: boolean): DescribedField['subfields'] {
  if (typeof v === 'string') {
    if (f === 60) return subfieldsOf(field60, v);
    if (f === 61) return subfieldsOf(field61, v);
    if (f === 63) return subfieldsOf(field63, v);
    if (f === 44) return subfieldsOf(field44, v);
    if (f === 48 && mti.startsWith('05') && (v.length === 31 || v.length === 62)) return subfieldsOf(field48BatchTotals, v);
    return undefined;
  }
  if (f === 62 && mti === '0810') return signOnKeyParts(v, unmasked);
  return undefined;
}

/** Every field by number with its name, format, value and subfields; card data and secrets masked unless `unmasked`. */
export function describe(msg: IsoMessage, opts: { unmasked?: boolean } = {}): Described {
  const unmasked = opts.unmasked === true;
  const fields: Record<string, DescribedField> = {};
  for (let f = 2; f <= 128; f++) {
    const v = msg.fields[f];
    if (v === undefined) continue;
    const spec = unionPayPosFields[f];
    const mask = !unmasked && MASKED_FIELDS.has(f);
    const d: DescribedField = {
      name: spec?.name ?? `field ${f}`,
      format: spec ? formatOf(spec) : '?',
      value: mask ? maskValue(f, v) : typeof v === 'string' ? v : v.toString('hex').toUpperCase(),
    };
    if (mask) d.masked = true;
    else if (typeof v === 'string' && /[^\x20-\x7e]/.test(v)) d.hex = Buffer.from(v, 'latin1').toString('hex').toUpperCase();
    const sub = subfields(msg.mti, f, v, unmasked);
    if (sub) d.subfields = sub;
    fields[String(f)] = d;
  }
  const out: Described = { tpdu: { ...msg.tpdu }, header: msg.header, mti: msg.mti, fields };
  if (msg.pads) out.pads = Object.fromEntries(Object.entries(msg.pads).map(([k, v]) => [k, v]));
  return out;
}

function hexToLatin1(hex: string, f: number): string {
  if (!/^([0-9A-Fa-f]{2})*$/.test(hex)) throw new Error(`field ${f}: hex must be pairs of hex digits`);
  return Buffer.from(hex, 'hex').toString('latin1');
}

/**
 * The reverse of describe(): a message from its JSON. A field may be given as its value or as
 * `{ value }` (what describe prints); b fields as hex. Throws Error naming the field on a masked or bad value.
 */
export function messageFromJson(json: unknown): IsoMessage {
  if (typeof json !== 'object' || json === null) throw new Error('a message is a JSON object');
  const j = json as Record<string, unknown>;
  const tpdu = j.tpdu as Record<string, unknown> | undefined;
  if (!tpdu || typeof tpdu.id !== 'string' || typeof tpdu.destination !== 'string' || typeof tpdu.source !== 'string') {
    throw new Error('tpdu must be { id, destination, source } hex strings');
  }
  if (typeof j.header !== 'string') throw new Error('header must be a 12-character hex string');
  if (typeof j.mti !== 'string') throw new Error('mti must be a 4-digit string');
  const rawFields = (j.fields ?? {}) as Record<string, unknown>;
  if (typeof rawFields !== 'object') throw new Error('fields must be an object keyed by field number');
  const fields: IsoMessage['fields'] = {};
  for (const [k, raw] of Object.entries(rawFields)) {
    const f = Number(k);
    const spec = unionPayPosFields[f];
    if (!Number.isInteger(f) || !spec) throw new Error(`field ${k}: no such field`);
    const entry = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : { value: raw };
    if (entry.masked === true) throw new Error(`field ${f}: the value is masked; decode with --unmasked to get a value that encodes`);
    // `value` is what is encoded; an an/ans field may instead be given as `hex` alone (its bytes).
    const value = entry.value === undefined && typeof entry.hex === 'string' && spec.type !== 'b'
      ? hexToLatin1(entry.hex, f)
      : entry.value;
    if (typeof value !== 'string') throw new Error(`field ${f}: value must be a string`);
    if (spec.type === 'b') {
      if (!/^([0-9A-Fa-f]{2})*$/.test(value)) throw new Error(`field ${f}: a b field is given as hex`);
      fields[f] = Buffer.from(value, 'hex');
    } else {
      fields[f] = value;
    }
  }
  const msg: IsoMessage = {
    tpdu: { id: tpdu.id, destination: tpdu.destination, source: tpdu.source },
    header: j.header,
    mti: j.mti,
    fields,
  };
  if (j.pads && typeof j.pads === 'object') {
    const pads: Record<number, number> = {};
    for (const [k, v] of Object.entries(j.pads as Record<string, unknown>)) {
      if (typeof v !== 'number') throw new Error(`pads.${k} must be a number 0-15`);
      pads[Number(k)] = v;
    }
    msg.pads = pads;
  }
  return msg;
}
