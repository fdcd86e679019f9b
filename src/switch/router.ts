// MTI + processing code (3) + transaction type (60.1) -> one handler per transaction.
import type { IsoMessage } from '../../protocol/index.js';
import { balance } from './handlers/balance.js';
import { field60, text } from './handlers/fields.js';
import { purchase } from './handlers/purchase.js';
import { refund } from './handlers/refund.js';
import { reversal } from './handlers/reversal.js';
import { batchClose } from './handlers/batch-close.js';
import { echoTest, signOn, signOnCodes } from './handlers/sign-on.js';
import { signOff } from './handlers/sign-off.js';
import { upload } from './handlers/upload.js';
import { voidPurchase } from './handlers/void.js';
import type { Route } from './types.js';

const routes = {
  signOn: { type: 'sign-on', handler: signOn, movesMoney: false, changesTerminal: true },
  echoTest: { type: 'echo-test', handler: echoTest, movesMoney: false },
  signOff: { type: 'sign-off', handler: signOff, movesMoney: false, changesTerminal: true },
  balance: { type: 'balance', handler: balance, movesMoney: false },
  purchase: { type: 'purchase', handler: purchase, movesMoney: true },
  void: { type: 'void', handler: voidPurchase, movesMoney: true },
  refund: { type: 'refund', handler: refund, movesMoney: true },
  reversal: { type: 'reversal', handler: reversal, movesMoney: true },
  batchClose: { type: 'batch-close', handler: batchClose, movesMoney: false, changesTerminal: true },
  upload: { type: 'batch-upload', handler: upload, movesMoney: false },
} satisfies Record<string, Route>;

/** The route of a request, or null: answered 40 (function not supported). */
export function route(msg: IsoMessage): Route | null {
  const pc = text(msg, 3) ?? '';
  const f60 = field60(msg);
  switch (msg.mti) {
    case '0800':
      if (f60.netMgmtCode === '301') return routes.echoTest;
      return signOnCodes.has(f60.netMgmtCode ?? '001') ? routes.signOn : null;
    case '0820': return routes.signOff;
    case '0200':
      if (pc.startsWith('31') && (f60.txnType === '01' || f60.txnType === '')) return routes.balance;
      if (pc === '000000' && f60.txnType === '22') return routes.purchase;
      if (pc === '200000' && f60.txnType === '23') return routes.void;
      return null;
    case '0220':
      return pc === '200000' && f60.txnType === '25' ? routes.refund : null;
    case '0400': return routes.reversal;
    case '0500': return routes.batchClose;
    case '0320': return routes.upload;
    default: return null;
  }
}

/** The metric label of an unrouted or refused request. */
export function typeOf(msg: IsoMessage): string {
  return route(msg)?.type ?? `mti-${msg.mti}`;
}
