// Typed outcome -> response message. The one place that decides which request fields a response echoes, what an
// approval adds (37 RRN, 38 authorisation code), field 54, and the MAC.
import {
  encode, encodeWithMac, responseTpdu,
  type FieldValue, type IsoMessage, type MacAlgorithm, type Tpdu,
} from '../../protocol/index.js';
import type { Decline } from '../ledger/index.js';
import { responseCodeFor } from '../ledger/index.js';
import { localDateMMDD, localTimeHHMMSS } from './clock.js';
import type { Reply } from './types.js';

/** Echoed from the request when present (the profile's list; 37 comes only from an approval). */
const echoed = [3, 4, 11, 12, 13, 25, 32, 41, 42, 49, 60] as const;

export const approved = '00';

/** 0200 -> 0210, 0800 -> 0810 … (a request MTI has an even third digit). */
export function responseMti(mti: string): string {
  if (!/^\d{4}$/.test(mti)) return '0000';
  const function_ = Number(mti[2]);
  return function_ % 2 === 0 ? `${mti.slice(0, 2)}${function_ + 1}${mti[3]}` : mti;
}

export function declined(decline: Decline, extra: Partial<Reply> = {}): Reply {
  const fields = { ...extra.fields };
  if (decline.kind === 'insufficient-points') fields[54] = balanceField(decline.balancePoints);
  return { ...extra, responseCode: responseCodeFor(decline), fields };
}

/** Field 54: account type 10 + amount type 02 + currency 156 + sign C/D + 12-digit balance in points. */
export function balanceField(points: number): string {
  const sign = points < 0 ? 'D' : 'C';
  return `1002156${sign}${String(Math.abs(Math.trunc(points))).padStart(12, '0').slice(-12)}`;
}

export interface MacKey {
  algorithm: MacAlgorithm;
  mak: Buffer;
}

export function buildResponse(request: IsoMessage, reply: Reply, mac: MacKey | null, now = Date.now()): Buffer {
  const fields: { [field: number]: FieldValue | undefined } = {};
  for (const n of echoed) {
    const v = request.fields[n];
    if (v !== undefined) fields[n] = v;
  }
  if (fields[12] === undefined) fields[12] = localTimeHHMMSS(now);
  if (fields[13] === undefined) fields[13] = localDateMMDD(now);
  fields[39] = reply.responseCode;
  if (reply.fields) for (const [k, v] of Object.entries(reply.fields)) fields[Number(k)] = v;
  // An approval's RRN and authorisation code come from the ledger; a decline carries neither.
  if (reply.responseCode !== approved) {
    delete fields[37];
    delete fields[38];
  }
  const message: IsoMessage = {
    tpdu: responseTpdu(request.tpdu),
    header: request.header,
    mti: responseMti(request.mti),
    fields,
  };
  return mac && !reply.noMac ? encodeWithMac(message, mac.algorithm, mac.mak) : encode(message);
}

/** Format error (30) for a request whose TPDU, header and MTI were readable but whose fields were not. */
export function buildFormatError(partial: { tpdu: Tpdu; header: string; mti: string }, now = Date.now()): Buffer {
  return encode({
    tpdu: responseTpdu(partial.tpdu),
    header: partial.header,
    mti: responseMti(partial.mti),
    fields: { 12: localTimeHHMMSS(now), 13: localDateMMDD(now), 39: '30' },
  });
}
