// The terminal model: what a POS terminal keeps between transactions (trace counter, batch number, master key,
// working keys from sign-on, the batch's transactions, pending reversals), persisted as a small JSON file so a
// shell resumes like a real terminal after a restart. A request whose answer does not arrive before its timeout
// is remembered as a pending reversal and a 0400 is sent for it (again before the next transaction until the
// switch answers one). The switch answers a money transaction with the card's balance after it (field 54), not
// with the points it moved: a receipt's points are the change from the balance this terminal saw before, and a
// terminal that has seen none for the card asks for it first (one balance inquiry).
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  decode, encode, encodeWithMac, encryptPinBlock, maskPan, parseField60, parseBatchTotals, parseSignOnKeys, verifyMac,
  type IsoMessage, type MacAlgorithm,
} from '../protocol/index.js';
import { meaning, setUpHint } from './codes.js';
import { demoAcquirerId, demoExpiry, demoMacAlgorithm, demoMerchantFor, demoPin, demoTmkHex } from './demo.js';
import { Link, type Answer } from './link.js';
import * as m from './messages.js';

export const timeoutMsDefault = 10_000;
export const txnsKeptMax = 500;
/** A forced void of a purchase this terminal does not know names this RRN unless told another. */
export const unknownRrn = '000000000000';

export interface TerminalConfig {
  host: string;
  port: number;
  terminalId: string;
  merchantId?: string;
  tmkHex?: string;
  macAlgorithm?: MacAlgorithm;
  acquirerId?: string;
  timeoutMs?: number;
  /** JSON state file; null keeps the state in memory only. */
  stateFile?: string | null;
  /**
   * 'every-change' (default): the state file is written before each request goes out and after its answer,
   * as a terminal must (a pending reversal survives a crash). 'batched': written at most once a second and on
   * close, for load runs, where a synchronous file write per request would slow the generator itself; after
   * a crash of the generator, its terminals may reuse up to a second's traces (answered 94).
   */
  saveMode?: 'every-change' | 'batched';
  /** The local address to connect from (a tester's many terminals spread over loopback addresses); default any. */
  localAddress?: string;
}

export interface TxnRecord {
  kind: 'purchase' | 'void' | 'refund';
  trace: string;
  batchNo: string;
  cardNo: string;
  expiry: string | null;
  amountFen: number;
  responseCode: string | null;
  rrn: string | null;
  authCode: string | null;
  /** MMDD of the switch's answer (field 13), else the terminal's local date. */
  date: string;
  voided?: boolean;
  reversed?: boolean;
  /** For a void/refund: the original's trace. */
  originalTrace?: string;
}

export interface PendingReversal {
  trace: string;
  batchNo: string;
  kind: 'purchase' | 'void' | 'refund';
  /** The original request as encoded (no MAC), hex. */
  requestHex: string;
  reasonCode: string;
  attempts: number;
}

export interface TerminalState {
  version: 1;
  terminalId: string;
  merchantId: string;
  /** Last trace used (1…999999). */
  trace: number;
  batchNo: string;
  signedOn: boolean;
  keys: { pik: string; mak: string; tdk: string | null } | null;
  txns: TxnRecord[];
  pendingReversals: PendingReversal[];
}

export type TxnKind = 'sign-on' | 'sign-off' | 'balance' | 'purchase' | 'void' | 'refund' | 'reversal' | 'batch-close' | 'upload';

export interface TxnResult {
  kind: TxnKind;
  terminalId: string;
  merchantId: string;
  trace: string;
  batchNo: string;
  card?: string;               // masked
  amountFen?: number;
  /** answer: the switch answered; timeout/closed: it did not; undecodable: it answered bytes we could not read. */
  outcome: Answer['kind'] | 'not-sent';
  responseCode: string | null;
  meaning: string;
  approved: boolean;
  rrn: string | null;
  authCode: string | null;
  balancePoints: number | null;
  /** Approved: the fall of the card's balance from the one this terminal saw before (null: it saw none). */
  pointsDebited: number | null;
  /** Approved: the rise of the card's balance from the one this terminal saw before (null: it saw none). */
  pointsCredited: number | null;
  /** null when the answer carries no MAC. */
  macOk: boolean | null;
  latencyMs: number;
  /** The reversal sent because this request went unanswered. */
  reversal?: TxnResult;
  /** Sign-on: the working keys' check values verified under our TMK. */
  keysOk?: boolean;
  /** Batch close: 48's code (1 balanced, 2 not balanced, 3 error). */
  batchCloseCode?: string;
  /** Batch close: transactions uploaded (0320) and approved after an unbalanced answer. */
  uploaded?: number;
  note?: string;
  /** The answer, described with card data masked. */
  answer?: Record<string, unknown>;
}

export type Request =
  | { type: 'balance'; cardNo: string; pin?: string | null; expiry?: string | null }
  | { type: 'purchase'; cardNo: string; amountFen: number; pin?: string | null; expiry?: string | null }
  /**
   * `force`: send the void even when this terminal has no purchase with that trace (a tester's way to see the
   * switch answer 25, or to void a purchase a terminal kept in memory only has forgotten), with this card, amount
   * and RRN in place of the original's.
   */
  | { type: 'void'; trace: string; force?: { cardNo: string; amountFen: number; rrn: string | null } }
  | { type: 'refund'; rrn: string; amountFen: number; cardNo?: string | null };

export interface Built {
  kind: 'balance' | 'purchase' | 'void' | 'refund';
  message: IsoMessage;
  trace: string;
  record: TxnRecord | null;
  cardNo: string;
  amountFen: number | undefined;
}

/** A request the terminal will not build (an original it does not have): refused before anything is sent. */
export class Refused extends Error {
  constructor(message: string) { super(message); this.name = 'Refused'; }
}

export function defaultStateDir(): string {
  return process.env.POINTSWITCH_SIM_STATE_DIR ?? path.join(os.homedir(), '.pointswitch-sim');
}

export function stateFileFor(dir: string, host: string, port: number, terminalId: string): string {
  return path.join(dir, `${host.replace(/[^A-Za-z0-9.-]/g, '_')}_${port}_${terminalId}.json`);
}

function freshState(terminalId: string, merchantId: string): TerminalState {
  return { version: 1, terminalId, merchantId, trace: 0, batchNo: '000001', signedOn: false, keys: null, txns: [], pendingReversals: [] };
}

export function localDateMmdd(now = new Date()): string {
  // The switch's business date is Asia/Shanghai; the terminal's clock is too.
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('month')}${get('day')}`;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export class Terminal {
  readonly host: string;
  readonly port: number;
  readonly terminalId: string;
  readonly merchantId: string;
  readonly macAlgorithm: MacAlgorithm;
  readonly acquirerId: string;
  timeoutMs: number;
  tmk: Buffer;
  state: TerminalState;
  private link: Link | null = null;
  private readonly stateFile: string | null;
  private readonly saveMode: 'every-change' | 'batched';
  private saveTimer: NodeJS.Timeout | null = null;
  /** The last balance the switch answered per card: a receipt's points are the change from it. */
  private readonly seenBalance = new Map<string, number>();
  readonly localAddress: string | undefined;

  constructor(cfg: TerminalConfig) {
    this.host = cfg.host;
    this.port = cfg.port;
    this.terminalId = cfg.terminalId;
    this.merchantId = cfg.merchantId ?? demoMerchantFor(cfg.terminalId);
    this.macAlgorithm = cfg.macAlgorithm ?? demoMacAlgorithm;
    this.acquirerId = cfg.acquirerId ?? demoAcquirerId;
    this.timeoutMs = cfg.timeoutMs ?? timeoutMsDefault;
    this.tmk = Buffer.from(cfg.tmkHex ?? demoTmkHex, 'hex');
    if (this.tmk.length !== 8 && this.tmk.length !== 16) throw new Error('the TMK must be 8 or 16 bytes (16 or 32 hex characters)');
    this.stateFile = cfg.stateFile ?? null;
    this.saveMode = cfg.saveMode ?? 'every-change';
    this.localAddress = cfg.localAddress;
    this.state = this.load() ?? freshState(this.terminalId, this.merchantId);
    // A terminal kept in memory only would restart its trace at 1 on every run and collide with an earlier run's
    // traces in the same batch and business date (the switch answers those 94): start it somewhere random.
    if (!this.stateFile) this.state.trace = randomInt(900_000);
  }

  // ---- state ----------------------------------------------------------------------------------------------

  private load(): TerminalState | null {
    if (!this.stateFile) return null;
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as TerminalState;
      if (s.version !== 1 || s.terminalId !== this.terminalId) return null;
      return { ...freshState(this.terminalId, this.merchantId), ...s, merchantId: this.merchantId };
    } catch {
      return null;
    }
  }

  save(): void {
    if (!this.stateFile) return;
    if (this.saveMode === 'batched') {
      this.saveTimer ??= setTimeout(() => { this.saveTimer = null; this.saveNow(); }, 1000).unref();
      return;
    }
    this.saveNow();
  }

  private saveNow(): void {
    if (!this.stateFile) return;
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }

  private keysMemo: { from: TerminalState['keys']; pik: Buffer; mak: Buffer } | null = null;

  /** The working keys as bytes (decoded once per set of keys, not per message). */
  get keys(): { pik: Buffer; mak: Buffer } | null {
    const k = this.state.keys;
    if (!k) return null;
    if (this.keysMemo?.from !== k) this.keysMemo = { from: k, pik: Buffer.from(k.pik, 'hex'), mak: Buffer.from(k.mak, 'hex') };
    return { pik: this.keysMemo.pik, mak: this.keysMemo.mak };
  }

  nextTrace(): string {
    this.state.trace = (this.state.trace % 999_999) + 1;
    return String(this.state.trace).padStart(6, '0');
  }

  context(trace = this.nextTrace()): m.MessageContext {
    return { terminalId: this.terminalId, merchantId: this.merchantId, trace, batchNo: this.state.batchNo, acquirerId: this.acquirerId };
  }

  /** The transactions of the current batch, newest last. */
  batchTxns(): TxnRecord[] {
    return this.state.txns.filter((t) => t.batchNo === this.state.batchNo);
  }

  private remember(r: TxnRecord): void {
    this.state.txns.push(r);
    if (this.state.txns.length > txnsKeptMax) this.state.txns.splice(0, this.state.txns.length - txnsKeptMax);
  }

  // ---- connection -----------------------------------------------------------------------------------------

  async connection(): Promise<Link> {
    if (!this.link || this.link.isClosed) this.link = await Link.connect(this.host, this.port, undefined, this.localAddress);
    return this.link;
  }

  /** Drops the connection (a terminal dials again after a timeout). */
  async hangUp(): Promise<void> {
    const l = this.link;
    this.link = null;
    if (l) await l.close();
  }

  async close(): Promise<void> {
    await this.hangUp();
    if (this.saveTimer) { clearTimeout(this.saveTimer); this.saveTimer = null; }
    this.saveNow();
  }

  /** The request as it goes on the wire: MAC under the working MAK (a random one when not signed on). */
  seal(message: IsoMessage, mak = this.keys?.mak): Buffer {
    return encodeWithMac(message, this.macAlgorithm, mak ?? Buffer.alloc(16, 0x11));
  }

  async exchange(body: Buffer, trace: string | null): Promise<Answer> {
    let link: Link;
    try {
      link = await this.connection();
    } catch (err) {
      return { kind: 'no-connection', latencyMs: 0, error: (err as Error).message };
    }
    return link.request(body, this.timeoutMs, trace);
  }

  // ---- sign-on / sign-off ---------------------------------------------------------------------------------

  async signOn(): Promise<TxnResult> {
    const ctx = this.context();
    const answer = await this.exchange(encode(m.signOn(ctx)), ctx.trace);
    const r = this.result('sign-on', ctx, answer, {});
    if (answer.kind === 'answer' && r.responseCode === '00') {
      const f62 = answer.message.fields[62];
      const keys = Buffer.isBuffer(f62) ? parseSignOnKeys(f62, this.tmk) : null;
      r.keysOk = keys !== null;
      if (keys) {
        this.state.keys = { pik: keys.pik.toString('hex'), mak: keys.mak.toString('hex'), tdk: keys.tdk ? keys.tdk.toString('hex') : null };
        this.state.signedOn = true;
        const f60 = str(answer.message.fields[60]);
        if (f60) {
          const batch = parseField60(f60).batchNo;
          if (/^\d{6}$/.test(batch) && batch !== '000000') this.state.batchNo = batch;
        }
        r.batchNo = this.state.batchNo;
      } else {
        this.state.signedOn = false;
        this.state.keys = null;
        r.approved = false;
        r.note = 'the working keys failed their check values under this terminal\'s master key (wrong TMK?)';
      }
    }
    this.save();
    if (this.state.signedOn) await this.flushReversals();
    return r;
  }

  async signOff(): Promise<TxnResult> {
    const ctx = this.context();
    const answer = await this.exchange(encode(m.signOff(ctx)), ctx.trace);
    const r = this.result('sign-off', ctx, answer, {});
    if (r.approved) {
      this.state.signedOn = false;
      this.state.keys = null;
    }
    this.save();
    return r;
  }

  // ---- money ----------------------------------------------------------------------------------------------

  /** Builds a request with the next trace (PIN block under the PIK when a PIN is given or the demo card has one). */
  build(req: Request): Built {
    // Look the original up before taking a trace, so a refused command does not use one.
    const ctx = (): m.MessageContext => this.context();
    const pinFor = (cardNo: string, pin: string | null | undefined) => {
      const p = pin === undefined ? demoPin(cardNo) : pin;
      const pik = this.keys?.pik;
      return p && pik ? encryptPinBlock(p, cardNo, pik) : null;
    };
    switch (req.type) {
      case 'balance': {
        const expiry = req.expiry ?? demoExpiry(req.cardNo);
        const c = ctx();
        const message = m.balance(c, { cardNo: req.cardNo, expiry, pinBlock: pinFor(req.cardNo, req.pin) });
        return { kind: 'balance', message, trace: c.trace, record: null, cardNo: req.cardNo, amountFen: undefined };
      }
      case 'purchase': {
        const expiry = req.expiry ?? demoExpiry(req.cardNo);
        const c = ctx();
        const message = m.purchase(c, { cardNo: req.cardNo, expiry, pinBlock: pinFor(req.cardNo, req.pin) }, req.amountFen);
        return { kind: 'purchase', message, trace: c.trace, cardNo: req.cardNo, amountFen: req.amountFen, record: this.record('purchase', c, req.cardNo, expiry, req.amountFen) };
      }
      case 'void': {
        const trace = req.trace.padStart(6, '0');
        const known = [...this.state.txns].reverse().find((t) => t.kind === 'purchase' && t.trace === trace && t.batchNo === this.state.batchNo);
        const f = req.force;
        const orig = known ?? (f ? { cardNo: f.cardNo, expiry: demoExpiry(f.cardNo), amountFen: f.amountFen, rrn: f.rrn ?? unknownRrn, authCode: null, batchNo: this.state.batchNo, trace } : null);
        if (!orig) throw new Refused(`no purchase with trace ${trace} in batch ${this.state.batchNo} on this terminal (--force sends the void anyway)`);
        if (!orig.rrn) throw new Refused(`purchase ${trace} has no RRN (it was not approved)`);
        const c = ctx();
        const message = m.voidPurchase(c, { cardNo: orig.cardNo, expiry: orig.expiry }, orig.amountFen,
          { rrn: orig.rrn, authCode: orig.authCode, batchNo: orig.batchNo, trace: orig.trace });
        const record = { ...this.record('void', c, orig.cardNo, orig.expiry, orig.amountFen), originalTrace: orig.trace };
        return { kind: 'void', message, trace: c.trace, cardNo: orig.cardNo, amountFen: orig.amountFen, record };
      }
      case 'refund': {
        const orig = [...this.state.txns].reverse().find((t) => t.kind === 'purchase' && t.rrn === req.rrn);
        const cardNo = req.cardNo ?? orig?.cardNo;
        if (!cardNo) throw new Refused(`RRN ${req.rrn} is not one of this terminal's purchases: give the card number too`);
        const expiry = orig?.expiry ?? demoExpiry(cardNo);
        const c = ctx();
        const message = m.refund(c, { cardNo, expiry }, req.amountFen,
          { rrn: req.rrn, batchNo: orig?.batchNo ?? null, trace: orig?.trace ?? null, date: orig?.date ?? null });
        const record = { ...this.record('refund', c, cardNo, expiry, req.amountFen), ...(orig ? { originalTrace: orig.trace } : {}) };
        return { kind: 'refund', message, trace: c.trace, cardNo, amountFen: req.amountFen, record };
      }
    }
  }

  private record(kind: TxnRecord['kind'], ctx: m.MessageContext, cardNo: string, expiry: string | null, amountFen: number): TxnRecord {
    return { kind, trace: ctx.trace, batchNo: ctx.batchNo, cardNo, expiry, amountFen, responseCode: null, rrn: null, authCode: null, date: localDateMmdd() };
  }

  /**
   * One transaction, like the terminal's keypad does it: pending reversals first, then the request (after a
   * balance inquiry when this terminal has seen no balance of the card, for the receipt's points).
   */
  async transact(req: Request): Promise<TxnResult> {
    await this.flushReversals();
    await this.learnBalance(req);
    return this.send(this.build(req));
  }

  /** Asks the balance of a money request's card when this terminal has seen none (a receipt's points need it). */
  async learnBalance(req: Request): Promise<void> {
    if (req.type === 'balance') return;
    const cardNo = this.cardOf(req);
    if (cardNo === null || this.seenBalance.has(cardNo)) return;
    await this.send(this.build({ type: 'balance', cardNo, ...(req.type === 'purchase' ? { pin: req.pin, expiry: req.expiry } : {}) }));
  }

  /** The card a request is for, when this terminal can tell (a void's or refund's from its original purchase). */
  cardOf(req: Request): string | null {
    if (req.type === 'balance' || req.type === 'purchase') return req.cardNo;
    if (req.type === 'refund') return req.cardNo ?? this.state.txns.find((x) => x.rrn === req.rrn)?.cardNo ?? null;
    return this.state.txns.find((x) => x.kind === 'purchase' && x.trace === req.trace.padStart(6, '0'))?.cardNo ?? req.force?.cardNo ?? null;
  }

  private async send(built: Built): Promise<TxnResult> {
    return this.complete(built, await this.exchange(this.seal(built.message), built.trace));
  }

  /** Applies an answer (or its absence) to the terminal's state and gives the receipt. */
  async complete(built: Built, answer: Answer, opts: { reverse?: boolean } = {}): Promise<TxnResult> {
    const r = this.result(built.kind, { trace: built.trace, batchNo: built.record?.batchNo ?? this.state.batchNo }, answer, { cardNo: built.cardNo, amountFen: built.amountFen });
    const rec = built.record;
    if (rec) {
      rec.responseCode = r.responseCode;
      rec.rrn = r.rrn;
      rec.authCode = r.authCode;
      if (answer.kind === 'answer') rec.date = str(answer.message.fields[13]) ?? rec.date;
      this.remember(rec);
      if (r.approved && rec.kind === 'void' && rec.originalTrace) {
        const orig = this.state.txns.find((t) => t.kind === 'purchase' && t.trace === rec.originalTrace && t.batchNo === rec.batchNo);
        if (orig) orig.voided = true;
      }
    }
    const unanswered = answer.kind === 'timeout' || answer.kind === 'closed';
    if (rec && (unanswered || opts.reverse)) {
      this.state.pendingReversals.push({
        trace: built.trace, batchNo: rec.batchNo, kind: rec.kind, requestHex: encode(built.message).toString('hex'), reasonCode: '98', attempts: 0,
      });
      this.save();
      // A terminal that got no answer dials again before reversing, so a late answer cannot be taken for the 0410.
      await this.hangUp();
      const reversals = await this.flushReversals();
      r.reversal = reversals.find((x) => x.trace === built.trace);
    }
    this.save();
    return r;
  }

  /** Sends a 0400 for each pending reversal; one that gets any answer is done, the others stay pending. */
  async flushReversals(): Promise<TxnResult[]> {
    const out: TxnResult[] = [];
    for (const p of [...this.state.pendingReversals]) {
      const d = decode(Buffer.from(p.requestHex, 'hex'));
      const drop = () => { this.state.pendingReversals = this.state.pendingReversals.filter((x) => x !== p); };
      if (!d.ok) { drop(); continue; }
      const message = m.reversal(d.message, p.reasonCode);
      p.attempts++;
      const answer = await this.exchange(this.seal(message), p.trace);
      const r = this.result('reversal', { trace: p.trace, batchNo: p.batchNo }, answer, { cardNo: str(d.message.fields[2]) ?? undefined, amountFen: Number(str(d.message.fields[4]) ?? 0) });
      if (p.kind !== 'purchase') { r.pointsDebited = r.pointsCredited === null ? null : -r.pointsCredited; r.pointsCredited = null; } // undoing a credit takes points
      out.push(r);
      if (answer.kind === 'answer') {
        drop();
        const rec = this.state.txns.find((t) => t.trace === p.trace && t.batchNo === p.batchNo && t.kind === p.kind);
        if (rec && answer.kind === 'answer' && r.approved) rec.reversed = true;
      }
      if (answer.kind !== 'answer') await this.hangUp();
      this.save();
    }
    return out;
  }

  // ---- batch close -----------------------------------------------------------------------------------------

  totals(): m.BatchTotals {
    const t = { debitFen: 0, debitCount: 0, creditFen: 0, creditCount: 0 };
    for (const x of this.batchTxns()) {
      if (x.responseCode !== '00' || x.reversed) continue;
      if (x.kind === 'purchase' && !x.voided) { t.debitFen += x.amountFen; t.debitCount++; }
      if (x.kind === 'refund') { t.creditFen += x.amountFen; t.creditCount++; }
    }
    return t;
  }

  /**
   * 0500 with the batch's totals. When the switch says the totals do not balance (48 code 2), the
   * terminal uploads each transaction (0320) and ends the batch with 0500 60.3 `202`. The batch number moves on.
   */
  async closeBatch(opts: { debitFenOffset?: number } = {}): Promise<TxnResult> {
    await this.flushReversals();
    const totals = this.totals();
    // A tester may send totals off by some fen, to see the switch answer "not balanced" and the batch uploaded.
    totals.debitFen = Math.max(0, totals.debitFen + (opts.debitFenOffset ?? 0));
    const ctx = this.context();
    const answer = await this.exchange(this.seal(m.batchClose(ctx, totals)), ctx.trace);
    const r = this.result('batch-close', ctx, answer, {});
    if (answer.kind === 'answer' && r.responseCode === '00') {
      const f48 = str(answer.message.fields[48]);
      try {
        r.batchCloseCode = f48 ? parseBatchTotals(f48).batchCloseCode : undefined;
      } catch {
        r.note = 'the 0510 carries totals (48) the terminal cannot read';
      }
      if (r.batchCloseCode === '2') {
        let uploaded = 0;
        for (const x of this.batchTxns()) {
          if (x.responseCode !== '00' || x.reversed || x.kind === 'void' || (x.kind === 'purchase' && x.voided)) continue;
          // 0320 carries the uploaded transaction's own trace (11) and batch.
          const uctx = this.context(x.trace);
          const a = await this.exchange(this.seal(m.upload(uctx, x.cardNo, x.amountFen, { trace: x.trace, rrn: x.rrn, kind: x.kind })), uctx.trace);
          if (a.kind === 'answer' && a.message.fields[39] === '00') uploaded++;
        }
        const ectx = this.context();
        const end = m.batchClose(ectx, totals);
        end.fields[60] = String(end.fields[60]).replace(/201$/, '202');
        await this.exchange(this.seal(end), ectx.trace);
        r.note = `totals did not balance: ${uploaded} transaction(s) uploaded (0320), batch closed with 0500/202`;
        r.uploaded = uploaded;
      }
      this.state.batchNo = String((Number(this.state.batchNo) % 999_999) + 1).padStart(6, '0');
    }
    this.save();
    return r;
  }

  // ---- answers --------------------------------------------------------------------------------------------

  result(kind: TxnKind, ctx: { trace: string; batchNo: string }, answer: Answer, x: { cardNo?: string; amountFen?: number | undefined }): TxnResult {
    const r: TxnResult = {
      kind, terminalId: this.terminalId, merchantId: this.merchantId, trace: ctx.trace, batchNo: ctx.batchNo,
      ...(x.cardNo ? { card: maskPan(x.cardNo) } : {}), ...(x.amountFen !== undefined ? { amountFen: x.amountFen } : {}),
      outcome: answer.kind, responseCode: null, meaning: meaning(null), approved: false, rrn: null, authCode: null,
      balancePoints: null, pointsDebited: null, pointsCredited: null, macOk: null, latencyMs: Math.round(answer.latencyMs * 1000) / 1000,
    };
    if (answer.kind === 'undecodable') { r.meaning = `undecodable answer (${answer.error.kind})`; return r; }
    if (answer.kind === 'no-connection') { r.meaning = `not sent: ${answer.error}`; return r; }
    if (answer.kind !== 'answer') { r.meaning = answer.kind === 'timeout' ? `no answer within ${this.timeoutMs} ms` : 'connection closed without an answer'; return r; }
    const f = answer.message.fields;
    r.responseCode = str(f[39]);
    r.meaning = meaning(r.responseCode);
    r.approved = r.responseCode === '00';
    const hint = setUpHint(r.responseCode, this.terminalId, this.merchantId);
    if (hint) r.note = hint;
    r.rrn = str(f[37])?.trim() || null;
    r.authCode = str(f[38])?.trim() || null;
    r.balancePoints = m.parseBalanceField(str(f[54]) ?? undefined);
    const mak = this.keys?.mak;
    if (f[64] !== undefined && mak) r.macOk = verifyMac(answer.body, this.macAlgorithm, mak);
    if (!x.cardNo || r.balancePoints === null) return r;
    const before = this.seenBalance.get(x.cardNo);
    this.seenBalance.set(x.cardNo, r.balancePoints);
    if (r.approved && before !== undefined) {
      const change = r.balancePoints - before;
      if (kind === 'purchase') r.pointsDebited = -change;
      if (kind === 'void' || kind === 'refund' || kind === 'reversal') r.pointsCredited = change;
    }
    return r;
  }
}
