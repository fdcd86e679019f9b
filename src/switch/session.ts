// Is this request allowed to reach a handler? The terminal must be known and active, signed on (except to
// sign on), its MAC must verify with the terminal's MAK and algorithm, and field 42 must be its merchant.
// Terminal data comes from the ledger, which reads it through its cache (no per-message database query).
import { verifyMac, type IsoMessage } from '../../protocol/index.js';
import type { SwitchRefusal } from '../ledger/decline.js';
import type { TerminalInfo } from '../ledger/index.js';
import type { Logger } from '../log.js';
import type { MacKey } from './respond.js';
import type { LedgerPort } from './types.js';
import { text } from './handlers/fields.js';

/** MTIs whose requests must carry a MAC (money and batch close); others are verified when they carry one. */
const macRequired = new Set(['0200', '0220', '0400', '0500', '0320']);
/** Network management that needs no prior sign-on. */
const beforeSignOn = new Set(['0800']);

export type SessionResult =
  | { ok: true; terminal: TerminalInfo; mac: MacKey | null }
  /** refused: answer with this refusal's code; `mac` when the terminal's MAK can sign the answer */
  | { ok: false; refusal: SwitchRefusal; terminal: TerminalInfo | null; mac: MacKey | null };

/**
 * A short-lived in-process copy of terminal records in front of the ledger's (Redis) read-through cache, so the
 * hot path does not pay a Redis round trip per message. Only what a check passes on is trusted: a refusal
 * (unknown, not signed on, MAC fails) is re-checked against the ledger before it is answered, so a sign-on
 * served by another switch process is seen at once. A suspension is seen within `ttlMs`.
 */
export class TerminalCache {
  private readonly entries = new Map<string, { info: TerminalInfo; expiresAt: number }>();

  hits = 0;
  misses = 0;

  constructor(
    private readonly ledger: LedgerPort,
    private readonly ttlMs = 1000,
    private readonly entriesMax = 100_000,
    /** Where a failed background write (keys proven) is reported. */
    private readonly log?: Logger,
  ) {}

  async get(terminalId: string, fresh: boolean): Promise<TerminalInfo | null> {
    const now = Date.now();
    if (!fresh) {
      const e = this.entries.get(terminalId);
      if (e && e.expiresAt > now) {
        this.hits++;
        return e.info;
      }
    }
    this.misses++;
    const info = await this.ledger.terminal(terminalId);
    this.entries.delete(terminalId);
    if (info) {
      if (this.entries.size >= this.entriesMax) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(terminalId, { info, expiresAt: now + this.ttlMs });
    }
    return info;
  }

  forget(terminalId: string): void {
    this.entries.delete(terminalId);
  }

  /** When each terminal's current keys were last reported proven (keysId -> ms), so it is asked once a second at most. */
  private readonly provenAt = new Map<string, number>();

  /**
   * A MAC verified under `terminal`'s current keys before they were proven: tell the ledger (which then drops the
   * keys kept from before the sign-on) and read the terminal afresh next time. In the background: the request
   * goes on at once, and if the write fails (logged) a MAC'd request a second later asks again.
   */
  proven(terminal: TerminalInfo): void {
    const id = terminal.keysId;
    if (!id) return;
    const now = Date.now();
    const at = this.provenAt.get(id);
    if (at !== undefined && now - at < 1000) return;
    if (this.provenAt.size >= 10_000) this.provenAt.clear();
    this.provenAt.set(id, now);
    this.ledger.keysProven(terminal.terminalId, id).then(
      () => this.forget(terminal.terminalId),
      (err: unknown) => this.log?.warn({ err: String((err as Error)?.message ?? err), terminal: terminal.terminalId }, 'could not mark a terminal\'s new keys proven; its old keys stay usable'),
    );
  }
}

export interface SessionOptions {
  /** A sign-off (0820) must carry a MAC that verifies (`required`), or may come without one (`optional`, the profile's). */
  signOffMac?: 'optional' | 'required';
}

export async function checkSession(terminals: TerminalCache, msg: IsoMessage, body: Buffer, o: SessionOptions = {}): Promise<SessionResult> {
  const first = await check(terminals, msg, body, false, o);
  if (first.ok || first.terminal === null) return first;
  return check(terminals, msg, body, true, o);
}

async function check(terminals: TerminalCache, msg: IsoMessage, body: Buffer, fresh: boolean, o: SessionOptions): Promise<SessionResult> {
  const terminalId = text(msg, 41);
  if (!terminalId) return { ok: false, refusal: { kind: 'format-error', detail: 'no terminal id (41)' }, terminal: null, mac: null };
  const terminal = await terminals.get(terminalId, fresh);
  if (!terminal) return { ok: false, refusal: { kind: 'unknown-terminal' }, terminal: null, mac: null };
  if (terminal.status !== 'active') return { ok: false, refusal: { kind: 'terminal-inactive', status: terminal.status }, terminal, mac: null };
  let mac: MacKey | null = terminal.signedOn && terminal.keys ? { algorithm: terminal.macAlgorithm, mak: terminal.keys.mak } : null;
  let as = terminal;
  if (!beforeSignOn.has(msg.mti)) {
    if (!mac) return { ok: false, refusal: { kind: 'not-signed-on' }, terminal, mac: null };
    if (msg.fields[64] !== undefined) {
      if (verifyMac(body, mac.algorithm, mac.mak)) {
        if (!terminal.keysProven) terminals.proven(terminal);
      } else if (terminal.provenKeys && verifyMac(body, mac.algorithm, terminal.provenKeys.mak)) {
        // The keys it used before the last sign-on (one it did not finish, or someone else's): served under them.
        as = { ...terminal, keys: terminal.provenKeys };
        mac = { algorithm: terminal.macAlgorithm, mak: terminal.provenKeys.mak };
      } else {
        return { ok: false, refusal: { kind: 'mac-invalid' }, terminal, mac };
      }
    } else if (macRequired.has(msg.mti) || (msg.mti === '0820' && o.signOffMac === 'required')) {
      return { ok: false, refusal: { kind: 'mac-missing' }, terminal, mac };
    }
  }
  const merchantId = text(msg, 42);
  if (merchantId !== undefined && merchantId.trim() !== terminal.merchantId) {
    return { ok: false, refusal: { kind: 'merchant-not-terminals' }, terminal: as, mac };
  }
  return { ok: true, terminal: as, mac: beforeSignOn.has(msg.mti) ? null : mac };
}
