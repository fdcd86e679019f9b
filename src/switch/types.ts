// Types shared by the switch's session, router, handlers and response mapping.
import type { FieldValue, IsoMessage } from '../../protocol/index.js';
import type { Refusal } from '../ledger/decline.js';
import type { Ledger, TerminalInfo } from '../ledger/index.js';
import type { Logger } from '../log.js';
import type { CardGate } from './card-gate.js';

/** The ledger methods the switch uses (a structural slice, so the switch depends on no more than this). */
export type LedgerPort = Pick<Ledger,
  'terminal' | 'signOn' | 'signOff' | 'keysProven' | 'balance' | 'purchase' | 'void' | 'refund' | 'reverse' | 'closeBatch' | 'upload'>;

export interface SwitchSettings {
  /** field 39 of a 0510 whose totals disagree with the switch's ('00' UnionPay style, or '95'). */
  batchCloseUnbalancedCode: '00' | '95';
  /** Whether a sign-off (0820) must carry a MAC that verifies; default optional (the profile's 0820 has none). */
  signOffMac?: 'optional' | 'required';
}

export interface HandlerContext {
  ledger: LedgerPort;
  settings: SwitchSettings;
  log: Logger;
  /** Bounds one card's debits and credits in flight (purchase, void, refund); absent: no bound. */
  cardGate?: CardGate;
}

/** A request that passed the session checks: the terminal is known, signed on (except sign-on) and its MAC verified. */
export interface TxnRequest {
  msg: IsoMessage;
  terminal: TerminalInfo;
  /** YYYY-MM-DD, the switch's date of receipt in Asia/Shanghai. */
  businessDate: string;
}

/** What a handler decided; respond.ts turns it into a message. */
export interface Reply {
  responseCode: string;
  /** Why the request was refused, when it was (responseCode is then this refusal's code). */
  refusal?: Refusal;
  /** Fields to add or override (37, 38, 54, 48, 60, 62 …). */
  fields?: { [field: number]: FieldValue | undefined };
  /** The card number, for the (masked) log line only. */
  cardNo?: string | null | undefined;
  /** Close the connection without answering (a money request whose outcome is unknown: the terminal reverses). */
  close?: boolean;
  /** Answer without a MAC even though the terminal has a MAK (sign-on: it has no MAK yet). */
  noMac?: boolean;
}

export type Handler = (ctx: HandlerContext, req: TxnRequest) => Promise<Reply>;

/** A transaction type: the metric label, and whether a ledger failure leaves money in doubt. */
export interface Route {
  type: string;
  handler: Handler;
  /** true: on a thrown error we must not answer (the terminal then reverses); false: answer 96. */
  movesMoney: boolean;
  /** The handler changes the terminal record (sign-on, sign-off, batch close): drop the in-process copy. */
  changesTerminal?: boolean;
}
