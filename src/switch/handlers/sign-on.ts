// 0800 sign-on: fresh working keys (PIK, MAK, TDK) for the terminal, each returned in field 62 encrypted under
// its master key with a check value; the ledger stores them and opens the batch that 60.2 of the 0810 names.
import { formatField60, formatSignOnKeys, randomKey } from '../../../protocol/index.js';
import { approved } from '../respond.js';
import type { Handler } from '../types.js';
import { field60 } from './fields.js';

/**
 * 60.3 network management codes that sign on: 001 single-length (DES) working keys, 003 double-length
 * (3DES), 004 double-length with a track key (TDK) as well.
 */
export const signOnCodes = new Set(['001', '003', '004']);

export const signOn: Handler = async (ctx, req) => {
  const f60 = field60(req.msg);
  const length = f60.netMgmtCode === '001' ? 8 : 16;
  // The keys the ledger settles on: these fresh ones, or those an earlier sign-on issued and no MAC has used yet.
  const { batchNo, keys } = await ctx.ledger.signOn(req.terminal.terminalId, { pik: randomKey(length), mak: randomKey(length), tdk: randomKey(16) });
  const withTdk = f60.netMgmtCode === '004';
  const f62 = formatSignOnKeys(withTdk ? keys : { pik: keys.pik, mak: keys.mak }, req.terminal.tmk);
  return {
    responseCode: approved,
    noMac: true, // the terminal has no MAK until it has read this answer
    fields: { 60: formatField60({ txnType: '00', batchNo, netMgmtCode: f60.netMgmtCode ?? '001' }), 62: f62 },
  };
};

/** 0800 with 60.3 301: echo test (line check), answered 00. */
export const echoTest: Handler = async () => ({ responseCode: approved, noMac: true });
