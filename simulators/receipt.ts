// A receipt-like rendering of one result, as the shell and `swipe` (without --json) print it.
import { fenToYuan } from './demo.js';
import { heading } from './outcome.js';
import type { TxnResult } from './terminal.js';

const titles: Record<TxnResult['kind'], string> = {
  'sign-on': 'SIGN-ON', 'sign-off': 'SIGN-OFF', balance: 'BALANCE INQUIRY', purchase: 'PURCHASE', void: 'VOID',
  refund: 'REFUND', reversal: 'REVERSAL', 'batch-close': 'BATCH CLOSE', upload: 'BATCH UPLOAD',
};

export function receipt(r: TxnResult): string {
  const lines: string[] = [];
  const row = (k: string, v: string | number | null | undefined) => { if (v !== null && v !== undefined && v !== '') lines.push(`  ${k.padEnd(16)}${v}`); };
  lines.push(`---- ${titles[r.kind]} ${heading(r)} ----`);
  row('response', r.responseCode ? `${r.responseCode} ${r.meaning}` : r.meaning);
  row('terminal', `${r.terminalId}  merchant ${r.merchantId}`);
  row('card', r.card);
  if (r.amountFen !== undefined) row('amount', `${fenToYuan(r.amountFen)} yuan`);
  row('points debited', r.pointsDebited);
  row('points back', r.pointsCredited);
  row('balance left', r.balancePoints !== null ? `${r.balancePoints} points` : null);
  row('RRN', r.rrn);
  row('auth code', r.authCode);
  row('trace', r.trace);
  row('batch', r.batchNo);
  if (r.macOk === false) row('MAC', 'answer MAC DID NOT VERIFY');
  if (r.keysOk === false) row('keys', 'working keys rejected (check values)');
  if (r.batchCloseCode) row('totals', r.batchCloseCode === '1' ? 'balanced' : r.batchCloseCode === '2' ? 'not balanced' : `code ${r.batchCloseCode}`);
  row('note', r.note);
  row('latency', `${r.latencyMs.toFixed(1)} ms`);
  if (r.reversal) {
    lines.push('  reversal sent for the unanswered request:');
    lines.push(...receipt(r.reversal).split('\n').map((l) => `  ${l}`));
  }
  return lines.join('\n');
}
