// One frame in, one answer out: decode -> session checks -> route -> handler -> respond, with one log line and
// the metrics per transaction. Never throws for bad input: an unparseable frame is answered 30 when its TPDU,
// header and MTI were readable, otherwise the connection is closed; both are logged (masked) and counted.
import { setTimeout as sleep } from 'node:timers/promises';
import { decode, type IsoMessage } from '../../protocol/index.js';
import { writeTxnLine } from '../log.js';
import { businessDate } from './clock.js';
import { text } from './handlers/fields.js';
import type { SwitchMetrics } from './metrics.js';
import { buildFormatError, buildResponse, declined, formatErrorCode, reasonOf, type MacKey } from './respond.js';
import { route } from './router.js';
import { checkSession, TerminalCache } from './session.js';
import type { ConnectionInfo, FrameAnswer, FrameHandler } from './server.js';
import type { RefusalGuard } from './refusal-guard.js';
import type { SignOnBudget } from './sign-on-budget.js';
import type { TerminalThrottle } from './throttle.js';
import type { HandlerContext, Reply } from './types.js';

export interface PipelineDeps extends HandlerContext {
  metrics: SwitchMetrics;
  /** Each terminal's request-rate budget, per client address; absent: none. */
  throttle?: TerminalThrottle;
  /** Each client address's refusal budget; absent: none. */
  refusals?: RefusalGuard;
  /** The sign-on budget, per client address and for the whole switch; absent: none. */
  signOns?: SignOnBudget;
  /** The in-process terminal cache (made here when not given). */
  terminals?: TerminalCache;
}

export function createFrameHandler(deps: PipelineDeps): FrameHandler {
  const { log, metrics, refusals } = deps;
  const terminals = deps.terminals ?? new TerminalCache(deps.ledger);
  const sessionOptions = { signOffMac: deps.settings.signOffMac ?? 'optional' } as const;
  return async (body: Buffer, conn: ConnectionInfo): Promise<FrameAnswer> => {
    const started = performance.now();
    // A connection that is refusing waits for its address's (and the switch's) refusal budget before any work,
    // the decode included.
    const admission = refusals?.admit(conn);
    if (refusals && admission && admission.waitMs > 0) {
      if (admission.warn) {
        const owed = Math.max(0, Math.ceil(-refusals.left(conn.remote)));
        const switchOwed = Math.max(0, Math.ceil(-(refusals.switchLeft() ?? 0)));
        log.warn({ remote: conn.remote, owed, budgetPerS: refusals.ratePerS, switchOwed, switchBudgetPerS: refusals.switchRatePerS },
          owed > 0 ? 'client address over its refusal budget: requests on its refusing connections wait their turn'
            : 'the switch is over its refusal budget (refusalsPerSecondMax): requests on refusing connections wait their turn');
      }
      await conn.aside(sleep(admission.waitMs));
    }
    const decoded = decode(body);
    if (!decoded.ok) {
      refusals?.refuse(conn, admission);
      const { error } = decoded;
      metrics.framesRejected.inc({ reason: error.kind });
      const p = error.partial;
      const fields = { conn: conn.id, remote: conn.remote, kind: error.kind, field: error.field, offset: error.offset, mti: p?.mti };
      if (p?.tpdu && p.header !== undefined && p.mti && /^\d{4}$/.test(p.mti)) {
        log.warn({ ...fields, responseCode: formatErrorCode }, 'unparseable request answered with format error');
        metrics.transactions.inc({ type: `mti-${p.mti}`, response_code: formatErrorCode });
        return { body: buildFormatError({ tpdu: p.tpdu, header: p.header, mti: p.mti }) };
      }
      log.warn(fields, 'unparseable request without a readable MTI; closing connection');
      return { close: true };
    }
    const msg = decoded.message;
    // Over its terminal's rate from this client address: wait for its turn before the MAC check and everything
    // after. (By address too: the terminal id is not yet authenticated here, and a forger elsewhere must not
    // spend the real terminal's budget.)
    const terminalId = text(msg, 41);
    const waitMs = deps.throttle && terminalId ? deps.throttle.delayFor(`${conn.remote} ${terminalId}`) : 0;
    if (waitMs > 0) await sleep(waitMs);
    const session = await checkSession(terminals, msg, body, sessionOptions).catch((err: unknown) => {
      log.error({ err, conn: conn.id }, 'terminal lookup failed');
      return null;
    });
    if (!session) return finish(deps, conn, msg, `mti-${msg.mti}`, declined({ kind: 'system-error', detail: 'terminal lookup failed' }), null, started);
    if (!session.ok) {
      refusals?.refuse(conn, admission);
      return finish(deps, conn, msg, route(msg)?.type ?? `mti-${msg.mti}`, declined(session.refusal), session.mac, started, reasonOf(session.refusal));
    }
    // A MAC that verified proves the terminal's keys: its connection may pipeline (a sign-on proves nothing).
    if (session.mac && msg.fields[64] !== undefined) conn.trust();
    const r = route(msg);
    if (!r) {
      const refusal = { kind: 'function-not-supported' } as const;
      return finish(deps, conn, msg, `mti-${msg.mti}`, declined(refusal), session.mac, started, reasonOf(refusal));
    }
    // A write to the terminal without a MAC (a sign-on, a sign-off without one): anyone may ask, so in its turn.
    if (deps.signOns && r.changesTerminal && msg.fields[64] === undefined) {
      const waitMs = deps.signOns.take(conn.remote);
      if (waitMs > 0) await conn.aside(sleep(waitMs));
    }
    let reply: Reply;
    try {
      reply = await r.handler(deps, { msg, terminal: session.terminal, businessDate: businessDate() });
      if (r.changesTerminal) terminals.forget(session.terminal.terminalId);
    } catch (err) {
      log.error({ err, conn: conn.id, terminal: session.terminal.terminalId, mti: msg.mti, trace: text(msg, 11) }, `${r.type} failed in the ledger`);
      // Money in doubt: say nothing, so the terminal reverses; otherwise a plain system malfunction.
      reply = declined({ kind: 'system-error', detail: `${r.type} failed in the ledger` });
    }
    // A system error on a money request leaves its outcome in doubt (the commit may have happened): answer
    // nothing and close, so the terminal sends a reversal, which is safe whether or not the debit happened.
    if (r.movesMoney && reply.refusal?.kind === 'system-error') reply = { ...reply, close: true };
    return finish(deps, conn, msg, r.type, reply, session.mac, started);
  };
}

function finish(
  deps: PipelineDeps, conn: ConnectionInfo, msg: IsoMessage, type: string, reply: Reply,
  mac: MacKey | null, started: number, reason?: string,
): FrameAnswer {
  const answer: FrameAnswer = reply.close ? { close: true } : { body: buildResponse(msg, reply, mac) };
  const latencyMs = performance.now() - started;
  const responseCode = reply.close ? 'none' : reply.responseCode;
  deps.metrics.countTransaction(type, responseCode, latencyMs / 1000);
  if (!deps.log.isLevelEnabled('info')) return answer;   // the line below is built only when it is written
  writeTxnLine(deps.log, {
    conn: conn.id,
    terminal: text(msg, 41),
    merchant: text(msg, 42)?.trim(),
    mti: msg.mti,
    type,
    processingCode: text(msg, 3),
    trace: text(msg, 11),
    responseCode,
    latencyMs: Math.round(latencyMs * 100) / 100,
    cardNo: reply.cardNo ?? text(msg, 2),
    reason,
  });
  return answer;
}
