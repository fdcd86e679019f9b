// Typed views of the subfields of 60, 61 and 48 (0500 settlement totals), built on the subfield tables.
import { field44, field48BatchTotals, field60, field61, field63, splitSubfields } from './spec/subfields.js';

function digits(v: string, len: number, what: string): string {
  if (v.length !== len || !/^[0-9]*$/.test(v)) throw new RangeError(`${what} is ${len} digits`);
  return v;
}

export interface Field60 { txnType: string; batchNo: string; netMgmtCode?: string; rest: string }

/** 60.1 transaction type n2, 60.2 batch n6, 60.3 network management code n3 (when present), rest. */
export function parseField60(v: string): Field60 {
  const { parts, rest } = splitSubfields(field60, v);
  const out: Field60 = { txnType: parts[0]?.value ?? '', batchNo: parts[1]?.value ?? '', rest };
  if (parts[2]) out.netMgmtCode = parts[2].value;
  return out;
}

export function formatField60(p: { txnType: string; batchNo: string; netMgmtCode?: string; rest?: string }): string {
  const rest = p.rest ?? '';
  if (rest && p.netMgmtCode === undefined) throw new RangeError('60.4+ needs 60.3');
  return digits(p.txnType, 2, '60.1') + digits(p.batchNo, 6, '60.2')
    + (p.netMgmtCode !== undefined ? digits(p.netMgmtCode, 3, '60.3') : '') + rest;
}

export interface Field61 { batchNo?: string; trace?: string; date?: string; rest: string }

/** 61.1 original batch n6, 61.2 original trace n6, 61.3 original date MMDD n4, rest. */
export function parseField61(v: string): Field61 {
  const { parts, rest } = splitSubfields(field61, v);
  const out: Field61 = { rest };
  if (parts[0]) out.batchNo = parts[0].value;
  if (parts[1]) out.trace = parts[1].value;
  if (parts[2]) out.date = parts[2].value;
  return out;
}

export function formatField61(p: { batchNo: string; trace: string; date?: string }): string {
  return digits(p.batchNo, 6, '61.1') + digits(p.trace, 6, '61.2') + (p.date !== undefined ? digits(p.date, 4, '61.3') : '');
}

export interface Totals { debitFen: number; debitCount: number; creditFen: number; creditCount: number; batchCloseCode: string }
export interface BatchTotals extends Totals { foreign?: Totals }

function totalsAt(parts: Array<{ value: string }>, i: number): Totals {
  return {
    debitFen: Number(parts[i]!.value), debitCount: Number(parts[i + 1]!.value),
    creditFen: Number(parts[i + 2]!.value), creditCount: Number(parts[i + 3]!.value),
    batchCloseCode: parts[i + 4]!.value,
  };
}

/** Field 48 of an 0500: domestic totals (31 digits), then optionally the foreign ones (31 more). */
export function parseBatchTotals(f48: string): BatchTotals {
  if (!/^[0-9]{31}([0-9]{31})?$/.test(f48)) throw new RangeError('settlement totals are 31 or 62 digits');
  const { parts } = splitSubfields(field48BatchTotals, f48);
  const out: BatchTotals = totalsAt(parts, 0);
  if (parts.length >= 10) out.foreign = totalsAt(parts, 5);
  return out;
}

function totalsDigits(t: { debitFen: number; debitCount: number; creditFen: number; creditCount: number; batchCloseCode?: string }): string {
  const num = (v: number, len: number, what: string): string => {
    if (!Number.isSafeInteger(v) || v < 0 || String(v).length > len) throw new RangeError(`${what} must fit ${len} digits`);
    return String(v).padStart(len, '0');
  };
  return num(t.debitFen, 12, 'debitFen') + num(t.debitCount, 3, 'debitCount') + num(t.creditFen, 12, 'creditFen')
    + num(t.creditCount, 3, 'creditCount') + digits(t.batchCloseCode ?? '0', 1, 'settlement code');
}

/** 62 digits as terminals send them: domestic totals, then foreign totals (zeros unless given). */
export function formatBatchTotals(t: { debitFen: number; debitCount: number; creditFen: number; creditCount: number; batchCloseCode?: string; foreign?: Partial<Totals> }): string {
  const f = t.foreign ?? {};
  return totalsDigits(t) + totalsDigits({ debitFen: f.debitFen ?? 0, debitCount: f.debitCount ?? 0, creditFen: f.creditFen ?? 0, creditCount: f.creditCount ?? 0, batchCloseCode: f.batchCloseCode ?? '0' });
}

/** 63.1 operator / card organisation code (an3, e.g. 'CUP', '01 '), then the rest as it came. */
export function parseField63(v: string): { operatorCode: string; rest: string } {
  const { parts, rest } = splitSubfields(field63, v);
  return { operatorCode: parts[0]?.value ?? '', rest: parts[0] ? rest : v };
}

export function formatField63(p: { operatorCode: string; rest?: string }): string {
  if (p.operatorCode.length !== 3) throw new RangeError('63.1 is 3 characters');
  return p.operatorCode + (p.rest ?? '');
}

/** Field 44 of a response: 44.1 issuer id an11 + 44.2 acquirer id an11, space-padded (trimmed here). */
export function parseField44(v: string): { issuerId: string; acquirerId: string; rest: string } {
  const { parts, rest } = splitSubfields(field44, v);
  return { issuerId: (parts[0]?.value ?? v).trimEnd(), acquirerId: (parts[1]?.value ?? '').trimEnd(), rest };
}

export function formatField44(p: { issuerId: string; acquirerId: string }): string {
  if (p.issuerId.length > 11 || p.acquirerId.length > 11) throw new RangeError('44.1 and 44.2 are at most 11 characters');
  return p.issuerId.padEnd(11, ' ') + p.acquirerId.padEnd(11, ' ');
}
