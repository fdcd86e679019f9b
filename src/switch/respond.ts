// Typed outcome -> response message. The one place that decides which request fields a response echoes, what an
// approval adds (37 RRN, 38 authorisation code), field 54, and the MAC.
import {
  encode, encodeWithMac, isRequestMti, responseMti, responseTpdu,
  type FieldValue, type IsoMessage, type MacAlgorithm, type Tpdu,
} from '../../protocol/index.js';
import { responseCodeFor, type Refusal } from '../ledger/decline.js';
import { localDateMMDD, localTimeHHMMSS } from './clock.js';
import type { Reply } from './types.js';

/** Echoed from the request when present (the profile's list; 37 comes only from an approval). */
const echoed = [3, 4, 11, 12, 13, 25, 32, 41, 42, 49, 60] as const;

export const approved = '00';
/** Field 39 of an unparseable request's answer (the refusal 'format-error'). */
export const formatErrorCode = responseCodeFor({ kind: 'format-error', detail: '' });

/** A message that is not a request (a response sent to the switch) is answered under its own MTI. */
function answerMti(mti: string): string {
  return isRequestMti(mti) ? responseMti(mti) : mti;
}

/** The answer to a refused request: the ledger's decline or the switch's own refusal, with its code. */
export function declined(refusal: Refusal, extra: Partial<Reply> = {}): Reply {
  const fields = { ...extra.fields };
  if (refusal.kind === 'insufficient-points') fields[54] = balanceField(refusal.balancePoints);
  return { ...extra, responseCode: responseCodeFor(refusal), refusal, fields };
}

/** A refusal as the log line's `reason`: its kind, with its detail or the terminal's status when it has one. */
export function reasonOf(refusal: Refusal): string {
  const more = 'detail' in refusal ? refusal.detail : 'status' in refusal ? refusal.status : '';
  return more ? `${refusal.kind}: ${more}` : refusal.kind;
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
    mti: answerMti(request.mti),
    fields,
  };
  return mac && !reply.noMac ? encodeWithMac(message, mac.algorithm, mac.mak) : encode(message);
}

/** Format error (30) for a request whose TPDU, header and MTI were readable but whose fields were not. */
export function buildFormatError(partial: { tpdu: Tpdu; header: string; mti: string }, now = Date.now()): Buffer {
  return encode({
    tpdu: responseTpdu(partial.tpdu),
    header: partial.header,
    mti: answerMti(partial.mti),
    fields: { 12: localTimeHHMMSS(now), 13: localDateMMDD(now), 39: formatErrorCode },
  });
}
