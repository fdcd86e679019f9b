// Subfield tables: named fixed-length parts at the start of a string field; whatever follows is `rest`.
import type { SubfieldTable } from './types.js';

export const field60: SubfieldTable = {
  field: 60,
  parts: [
    { id: '60.1', name: 'transaction type code', length: 2 },
    { id: '60.2', name: 'batch number', length: 6 },
    { id: '60.3', name: 'network management information code', length: 3 },
  ],
  rest: '60.4+ (terminal capability, IC condition, partial approval, ...)',
};

export const field61: SubfieldTable = {
  field: 61,
  parts: [
    { id: '61.1', name: 'original batch number', length: 6 },
    { id: '61.2', name: 'original trace', length: 6 },
    { id: '61.3', name: 'original date MMDD', length: 4 },
  ],
  rest: '61.4+ (original authorisation method, ...)',
};

export const field63: SubfieldTable = {
  field: 63,
  parts: [{ id: '63.1', name: 'operator / card organisation code', length: 3 }],
  rest: '63.2+ (bytes kept as they came)',
};

export const field44: SubfieldTable = {
  field: 44,
  parts: [
    { id: '44.1', name: 'issuer id', length: 11 },
    { id: '44.2', name: 'acquirer id', length: 11 },
  ],
  rest: '44.3+',
};

/** Field 48 of a 0500 batch settlement: domestic totals then the same 31 digits for foreign cards. */
export const field48BatchTotals: SubfieldTable = {
  field: 48,
  parts: [
    { id: '48.1', name: 'domestic debit total (fen)', length: 12 },
    { id: '48.2', name: 'domestic debit count', length: 3 },
    { id: '48.3', name: 'domestic credit total (fen)', length: 12 },
    { id: '48.4', name: 'domestic credit count', length: 3 },
    { id: '48.5', name: 'domestic settlement code', length: 1 },
    { id: '48.6', name: 'foreign debit total (fen)', length: 12 },
    { id: '48.7', name: 'foreign debit count', length: 3 },
    { id: '48.8', name: 'foreign credit total (fen)', length: 12 },
    { id: '48.9', name: 'foreign credit count', length: 3 },
    { id: '48.10', name: 'foreign settlement code', length: 1 },
  ],
  rest: '48.11+',
};

/** Split a value by a subfield table; parts that are absent (short value) are left out. */
export function splitSubfields(table: SubfieldTable, value: string): { parts: Array<{ id: string; name: string; value: string }>; rest: string } {
  const parts: Array<{ id: string; name: string; value: string }> = [];
  let at = 0;
  for (const p of table.parts) {
    if (at + p.length > value.length) break;
    parts.push({ id: p.id, name: p.name, value: value.slice(at, at + p.length) });
    at += p.length;
  }
  return { parts, rest: value.slice(at) };
}
