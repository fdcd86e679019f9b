// Reading the request fields the handlers share: card number, amount, the idempotency key, the PIN.
import { decryptPinBlock, parseField60, parseField61, track2Pan, type IsoMessage } from '../../../protocol/index.js';
import type { TxnKey } from '../../ledger/index.js';
import type { TxnRequest } from '../types.js';

export function text(msg: IsoMessage, n: number): string | undefined {
  const v = msg.fields[n];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('latin1');
}

/** Field 2, else the PAN in track 2 (35). */
export function cardNumber(msg: IsoMessage): string | null {
  const f2 = text(msg, 2);
  if (f2 && /^\d{1,19}$/.test(f2)) return f2;
  const f35 = text(msg, 35);
  return f35 ? track2Pan(f35) : null;
}

/** Field 4 in fen; NaN when absent or not digits (the ledger declines it as an invalid amount). */
export function amountFen(msg: IsoMessage): number {
  const f4 = text(msg, 4);
  return f4 && /^\d{1,12}$/.test(f4) ? Number(f4) : Number.NaN;
}

export function field60(msg: IsoMessage): { txnType: string; batchNo: string; netMgmtCode?: string } {
  const f60 = text(msg, 60);
  if (!f60) return { txnType: '', batchNo: '' };
  try {
    return parseField60(f60);
  } catch {
    return { txnType: '', batchNo: '' };
  }
}

export function field61(msg: IsoMessage): { batchNo?: string; trace?: string; date?: string } {
  const f61 = text(msg, 61);
  if (!f61) return {};
  try {
    return parseField61(f61);
  } catch {
    return {};
  }
}

/** The idempotency key: terminal, batch (60.2), trace (11), business date. */
export function txnKey(req: TxnRequest): TxnKey {
  return {
    terminalId: req.terminal.terminalId,
    batchNo: field60(req.msg).batchNo,
    trace: text(req.msg, 11) ?? '',
    businessDate: req.businessDate,
  };
}

/**
 * The clear PIN from field 52 under the terminal's PIK: undefined when no PIN block was sent, null when the
 * block does not decrypt to a format-0 block (the ledger then declines it as an incorrect PIN).
 */
export function pinOf(req: TxnRequest, cardNo: string): string | null | undefined {
  const block = req.msg.fields[52];
  if (block === undefined) return undefined;
  const pik = req.terminal.keys?.pik;
  if (!pik || !Buffer.isBuffer(block)) return null;
  return decryptPinBlock(block, cardNo, pik);
}
