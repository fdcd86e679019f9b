// Builders for every request of the POS transaction set (protocol/README.md). Pure: they return an IsoMessage
// without the MAC; the terminal model adds MAC (encodeWithMac) and PIN block, and owns trace and batch numbers.
import { formatField60, formatField61, formatBatchTotals, type IsoMessage, type Tpdu } from '../protocol/index.js';

export const tpduDefault: Tpdu = { id: '60', destination: '0003', source: '0000' };
export const headerDefault = '603100310100';
export const currencyCny = '156';

/** Who is sending and which trace/batch this message carries. */
export interface MessageContext {
  terminalId: string;
  merchantId: string;
  trace: string;          // n6
  batchNo: string;        // n6
  acquirerId?: string;    // field 32
  tpdu?: Tpdu;
  header?: string;
}

export interface CardData {
  cardNo: string;
  expiry?: string | null;  // YYMM
  /** Field 52, already encrypted under the PIK. Present: entry mode 021 (PIN), else 022. */
  pinBlock?: Buffer | null;
}

export type RequestKind = 'sign-on' | 'sign-off' | 'balance' | 'purchase' | 'void' | 'refund' | 'reversal' | 'batch-close' | 'upload';

/** The original a void or refund names: field 37 plus 61 (batch, trace, date MMDD). */
export interface OriginalRef { rrn: string; authCode?: string | null; batchNo: string; trace: string; date?: string | null }

/** The message around `fields` (a fresh object of the caller's, completed here: no copy on the load path). */
function base(ctx: MessageContext, mti: string, fields: IsoMessage['fields']): IsoMessage {
  fields[11] = ctx.trace;
  fields[41] = ctx.terminalId;
  fields[42] = ctx.merchantId;
  return { tpdu: ctx.tpdu ?? tpduDefault, header: ctx.header ?? headerDefault, mti, fields };
}

/** Track 2 as a magstripe terminal reads it: PAN '=' YYMM service code 101, '=' written 'D' (z encoding). */
export function track2For(cardNo: string, expiry: string): string {
  return `${cardNo}D${expiry}101`;
}

function cardFields(card: CardData): IsoMessage['fields'] {
  const f: IsoMessage['fields'] = { 2: card.cardNo, 22: card.pinBlock ? '021' : '022', 25: '00' };
  if (card.expiry) {
    f[14] = card.expiry;
    f[35] = track2For(card.cardNo, card.expiry);
  }
  if (card.pinBlock) {
    f[26] = '06';
    f[52] = card.pinBlock;
    f[53] = '2600000000000000'; // PIN format 2 (ISO 9564-0 with PAN), 6 = double-length key (3DES)
  }
  return f;
}

function acquirer(ctx: MessageContext): IsoMessage['fields'] {
  return ctx.acquirerId ? { 32: ctx.acquirerId } : {};
}

export function amountField(amountFen: number): string {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0 || amountFen > 999_999_999_999) throw new Error(`amount out of range: ${amountFen} fen`);
  return String(amountFen).padStart(12, '0');
}

/** 0800 sign-on; 60.3 `003` asks for double-length working keys. 63 carries the operator number. */
export function signOn(ctx: MessageContext, operator = '001'): IsoMessage {
  return base(ctx, '0800', { 60: formatField60({ txnType: '00', batchNo: ctx.batchNo, netMgmtCode: '003' }), 63: operator });
}

/** 0820 sign-off; 60.3 `002`. */
export function signOff(ctx: MessageContext): IsoMessage {
  return base(ctx, '0820', { 60: formatField60({ txnType: '00', batchNo: ctx.batchNo, netMgmtCode: '002' }) });
}

/** 0200 balance inquiry: 3 = 310000, 60.1 `01`. */
export function balance(ctx: MessageContext, card: CardData): IsoMessage {
  return base(ctx, '0200', {
    ...cardFields(card), 3: '310000', ...acquirer(ctx), 49: currencyCny,
    60: formatField60({ txnType: '01', batchNo: ctx.batchNo, netMgmtCode: '000' }),
  });
}

/** 0200 purchase: 3 = 000000, 60.1 `22`. */
export function purchase(ctx: MessageContext, card: CardData, amountFen: number): IsoMessage {
  const f = cardFields(card);
  f[3] = '000000';
  f[4] = amountField(amountFen);
  if (ctx.acquirerId) f[32] = ctx.acquirerId;
  f[49] = currencyCny;
  f[60] = formatField60({ txnType: '22', batchNo: ctx.batchNo, netMgmtCode: '000' });
  return base(ctx, '0200', f);
}

/** 0200 void of a purchase: 3 = 200000, 60.1 `23`, 37/38 + 61 name the original. */
export function voidPurchase(ctx: MessageContext, card: CardData, amountFen: number, original: OriginalRef): IsoMessage {
  const f: IsoMessage['fields'] = {
    ...cardFields(card), 3: '200000', 4: amountField(amountFen), ...acquirer(ctx), 37: original.rrn, 49: currencyCny,
    60: formatField60({ txnType: '23', batchNo: ctx.batchNo, netMgmtCode: '000' }),
    61: formatField61({ batchNo: original.batchNo, trace: original.trace }),
  };
  if (original.authCode) f[38] = original.authCode;
  return base(ctx, '0200', f);
}

/** 0220 refund: 3 = 200000, 60.1 `25`, 37 + 61 (batch, trace, date MMDD) name the original. */
export function refund(ctx: MessageContext, card: CardData, amountFen: number, original: Omit<OriginalRef, 'batchNo' | 'trace'> & { batchNo?: string | null; trace?: string | null }): IsoMessage {
  const f: IsoMessage['fields'] = {
    ...cardFields(card), 3: '200000', 4: amountField(amountFen), ...acquirer(ctx), 37: original.rrn, 49: currencyCny,
    60: formatField60({ txnType: '25', batchNo: ctx.batchNo, netMgmtCode: '000' }),
  };
  // 61 only when the terminal knows the original (a refund on another terminal names it by RRN alone).
  if (original.batchNo && original.trace) {
    f[61] = original.date
      ? formatField61({ batchNo: original.batchNo, trace: original.trace, date: original.date })
      : formatField61({ batchNo: original.batchNo, trace: original.trace });
  }
  return base(ctx, '0220', f);
}

/**
 * 0400 reversal: the same fields as the request it reverses (same trace and batch), 39 = reason
 * (`98`: no answer from the host; `06`: terminal error). PIN data is not carried; the MAC is recomputed.
 */
export function reversal(original: IsoMessage, reasonCode = '98'): IsoMessage {
  const fields: IsoMessage['fields'] = {};
  for (const [k, v] of Object.entries(original.fields)) {
    const n = Number(k);
    if (v === undefined || n === 26 || n === 52 || n === 53 || n === 64) continue;
    fields[n] = v;
  }
  fields[39] = reasonCode;
  return { tpdu: original.tpdu, header: original.header, mti: '0400', fields };
}

export interface BatchTotals { debitFen: number; debitCount: number; creditFen: number; creditCount: number }

/** 0500 batch close (UnionPay's batch settlement): 48 = totals, 60.1 `00`, 60.3 `201`. */
export function batchClose(ctx: MessageContext, totals: BatchTotals, operator = '001'): IsoMessage {
  return base(ctx, '0500', {
    48: batchTotals(totals), 49: currencyCny,
    60: formatField60({ txnType: '00', batchNo: ctx.batchNo, netMgmtCode: '201' }),
    63: operator,
  });
}

/** 0320 batch upload of one transaction of the batch (after an unbalanced batch close). */
export function upload(ctx: MessageContext, cardNo: string, amountFen: number, original: { trace: string; rrn?: string | null; kind: 'purchase' | 'refund' }): IsoMessage {
  const f: IsoMessage['fields'] = {
    2: cardNo, 3: original.kind === 'refund' ? '200000' : '000000', 4: amountField(amountFen), 25: '00', 49: currencyCny,
    60: formatField60({ txnType: '00', batchNo: ctx.batchNo, netMgmtCode: '201' }),
    61: formatField61({ batchNo: ctx.batchNo, trace: original.trace }),
  };
  if (original.rrn) f[37] = original.rrn;
  return base(ctx, '0320', f);
}

export function batchTotals(t: BatchTotals): string {
  return formatBatchTotals({ ...t, batchCloseCode: '0' });
}

/** Field 54: `10` account type, `02` amount type, `156`, sign `C`/`D`, 12-digit balance in points. */
export function parseBalanceField(f54: string | undefined): number | null {
  if (!f54) return null;
  const m = /^\d{2}\d{2}\d{3}([CD])(\d{12})/.exec(f54);
  if (!m) return null;
  const v = Number(m[2]);
  return m[1] === 'D' ? -v : v;
}
