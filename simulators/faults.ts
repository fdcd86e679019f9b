// Field problems a tester can reproduce with one flag. Each runs one request the faulty way and reports what the
// switch did, so a test or a person can see whether it behaved: answered 30/A0, kept serving, reversed cleanly.
import { randomBytes } from 'node:crypto';
import { encode, frame, parseSignOnKeys, unwrapKey } from '../protocol/index.js';
import { Link, type Answer } from './link.js';
import * as m from './messages.js';
import type { Request, Terminal, TxnResult } from './terminal.js';

export const faultNames = ['drop-answer', 'resend', 'corrupt-mac', 'garbage', 'truncated', 'half-open', 'wrong-key'] as const;
export type FaultName = (typeof faultNames)[number];

export const halfOpenHoldMsDefault = 3000;
export const garbageBytes = 48;

export interface FaultReport {
  fault: FaultName;
  /** The terminal's receipt for the request (what the terminal believes happened). */
  result: TxnResult;
  /** What the switch answered to the faulty bytes: a response code, or timeout/closed/undecodable. */
  switchAnswer: string;
  /** resend: the answer to the second copy. */
  second?: TxnResult;
  /** resend: both answers carry the same RRN (the switch recognised the retry). */
  sameRrn?: boolean;
  /** After the fault, a balance inquiry on a fresh connection still gets an answer. */
  switchStillServes?: boolean;
  /** Balance after the fault, from that inquiry (drop-answer: the reversal must have put the points back). */
  balanceAfter?: number | null;
  /** half-open: the switch closed the held connection within the hold time (and after how long). */
  closedByServer?: boolean;
  heldMs?: number;
  /** wrong-key: the sign-on's working keys failed their check values under the wrong TMK. */
  keysRejected?: boolean;
}

function answerLabel(a: Answer): string {
  if (a.kind === 'answer') return String(a.message.fields[39] ?? 'no field 39');
  return a.kind;
}

/** A balance inquiry on a fresh connection: is the switch still serving, and what is the card's balance. */
async function probe(t: Terminal, cardNo: string | null): Promise<{ serves: boolean; balance: number | null }> {
  await t.hangUp();
  const r = await t.transact({ type: 'balance', cardNo: cardNo ?? '8860000000000007' });
  return { serves: r.outcome === 'answer', balance: cardNo ? r.balancePoints : null };
}

export async function runWithFault(t: Terminal, req: Request, fault: FaultName, opts: { holdMs?: number } = {}): Promise<FaultReport> {
  const card = t.cardOf(req);
  switch (fault) {
    case 'drop-answer': {
      // The switch answers; the terminal acts as if the answer never came: it reverses.
      await t.flushReversals();
      const built = t.build(req);
      const answer = await t.exchange(t.seal(built.message), built.trace);
      const result = await t.complete(built, { kind: 'timeout', latencyMs: answer.latencyMs }, { reverse: true });
      result.meaning = `answer dropped by the terminal (the switch had answered ${answerLabel(answer)}), reversed`;
      const p = await probe(t, card);
      return { fault, result, switchAnswer: answerLabel(answer), switchStillServes: p.serves, balanceAfter: p.balance };
    }
    case 'resend': {
      await t.flushReversals();
      await t.learnBalance(req);
      const built = t.build(req);
      const body = t.seal(built.message);
      const a1 = await t.exchange(body, built.trace);
      const a2 = await t.exchange(body, built.trace);
      const result = await t.complete(built, a1);
      const second = t.result(built.kind, { trace: built.trace, batchNo: t.state.batchNo }, a2, { cardNo: built.cardNo, amountFen: built.amountFen });
      return { fault, result, second, switchAnswer: answerLabel(a2), sameRrn: result.rrn !== null && result.rrn === second.rrn };
    }
    case 'corrupt-mac': {
      await t.flushReversals();
      const built = t.build(req);
      const body = t.seal(built.message);
      body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0x01;
      const answer = await t.exchange(body, built.trace);
      const result = await t.complete(built, answer);
      return { fault, result, switchAnswer: answerLabel(answer) };
    }
    case 'garbage':
    case 'truncated': {
      const built = t.build(req);
      let bytes: Buffer;
      if (fault === 'garbage') bytes = frame(randomBytes(garbageBytes));
      else {
        // A length prefix that agrees with the bytes sent, but the message stops in the middle of its fields.
        const body = t.seal(built.message);
        bytes = frame(body.subarray(0, Math.max(14, body.length - 12)));
      }
      const link = await t.connection();
      const answer = await link.requestRaw(bytes, t.timeoutMs);
      const result = t.result(built.kind, { trace: built.trace, batchNo: t.state.batchNo }, answer, { cardNo: built.cardNo, amountFen: built.amountFen });
      const p = await probe(t, card);
      return { fault, result, switchAnswer: answerLabel(answer), switchStillServes: p.serves, balanceAfter: p.balance };
    }
    case 'half-open': {
      // A second connection sends the start of a frame and then nothing, held open; meanwhile the terminal's own
      // connection must still be served.
      const holdMs = opts.holdMs ?? halfOpenHoldMsDefault;
      await t.learnBalance(req);
      const held = await Link.connect(t.host, t.port);
      const started = Date.now();
      const built = t.build(req);
      const body = t.seal(built.message);
      held.write(frame(body).subarray(0, 7));
      const result = await t.complete(built, await t.exchange(body, built.trace));
      const closedByServer = await Promise.race([held.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), holdMs))]);
      const heldMs = Date.now() - started;
      held.destroy();
      return { fault, result, switchAnswer: closedByServer ? 'closed' : 'held open', closedByServer, heldMs, switchStillServes: result.outcome === 'answer' };
    }
    case 'wrong-key': {
      // Sign on with a master key that is not the terminal's: the 0810's keys fail their check values; a terminal
      // that used them anyway would MAC with a wrong MAK, which the switch must refuse (A0).
      const wrongTmk = randomBytes(16);
      const ctx = t.context();
      const answer = await t.exchange(encode(m.signOn(ctx)), ctx.trace);
      const signOn = t.result('sign-on', ctx, answer, {});
      const f62 = answer.kind === 'answer' ? answer.message.fields[62] : undefined;
      const keysRejected = Buffer.isBuffer(f62) ? parseSignOnKeys(f62, wrongTmk) === null : true;
      const wrongMak = Buffer.isBuffer(f62) && f62.length >= 36 ? unwrapKey(f62.subarray(20, 36), wrongTmk) : randomBytes(16);
      // The switch has just issued new working keys; the terminal's stored ones are stale now.
      t.state.keys = null;
      t.state.signedOn = false;
      const built = t.build(req);
      const reply = await t.exchange(t.seal(built.message, wrongMak), built.trace);
      const result = await t.complete(built, reply);
      result.note = `sign-on answered ${signOn.responseCode ?? signOn.outcome}; request MAC'd with a key unwrapped under a wrong TMK`;
      return { fault, result, switchAnswer: answerLabel(reply), keysRejected };
    }
  }
}
