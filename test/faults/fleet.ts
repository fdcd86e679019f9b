// Terminals that behave like real ones while the switch is broken under them: each is the simulator's terminal
// model (simulators/terminal.ts: trace, batch, keys, pending reversals) running a mix of purchases, balance
// inquiries, voids, refunds, retransmissions (the simulator's `resend` fault) and reversals (its `drop-answer`
// fault), one request at a time. A terminal that loses its connection or is refused signs on again, reverses
// every request that got no answer before it sends another, and dials its other switch when one does not answer
// (a POS terminal's primary and backup host). Everything the terminals saw is written down (`Seen`), so that the
// ledger can be reconciled against it (reconcile.ts).
import { performance } from 'node:perf_hooks';
import { loadCardNo, loadTerminalId } from '../../simulators/demo.js';
import { runWithFault } from '../../simulators/faults.js';
import { Refused, Terminal, type Request, type TxnResult } from '../../simulators/terminal.js';

/** A money request as the terminal saw it. */
export interface Seen {
  terminalId: string;
  batchNo: string;
  trace: string;
  kind: 'purchase' | 'void' | 'refund';
  cardNo: string;
  amountFen: number;
  answer: 'approved' | 'declined' | 'none';
  code: string | null;
  rrn: string | null;
  /** none: not reversed; pending: a reversal is owed; else how the switch answered the 0400. */
  reversal: 'none' | 'pending' | 'approved' | 'declined';
}

export const seenKey = (terminalId: string, batchNo: string, trace: string): string => `${terminalId}/${batchNo}/${trace}`;

export type Action = 'purchase' | 'balance' | 'void' | 'refund' | 'resend' | 'reversal';
export const mixDefault: Record<Action, number> = { purchase: 50, balance: 15, void: 8, refund: 7, resend: 10, reversal: 10 };

/** The demo gold card has a PIN (123456): its purchases carry a PIN block, which no log may show. */
export const pinCardNo = '8860000000000001';
const pinCardShare = 0.03;
const backoffMs = 250;
const signedPurchasesKeptMax = 200;

export interface FleetOptions {
  host: string;
  /** The switches' POS ports: terminal i dials ports[i % n] first and the others when it does not answer. */
  ports: number[];
  terminals: number;
  cards: number;
  timeoutMs: number;
  mix?: Record<Action, number>;
}

/** Per-phase counts of what the terminals did. */
export interface Counts {
  requests: number; approvals: number; reversals: number; retransmissions: number;
  /** Retransmissions of an approval answered with another RRN: a second debit. */
  resendMismatches: number;
  /** Retransmissions answered with another response code than the first copy (a decline the switch did not keep). */
  retransmissionsAnsweredOtherwise: number;
  signOns: number;
}
const zero = (): Counts => ({ requests: 0, approvals: 0, reversals: 0, retransmissions: 0, resendMismatches: 0, retransmissionsAnsweredOtherwise: 0, signOns: 0 });

interface Approved { trace: string; batchNo: string; rrn: string; cardNo: string; amountFen: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lostOutcomes = new Set(['timeout', 'closed', 'no-connection', 'undecodable']);
/** Answers after which a real terminal signs on again: not signed on / unknown keys, MAC refused, system error. */
const signOnAgainCodes = new Set(['97', 'A0', '96']);

class Seat {
  terminal: Terminal;
  endpoint: number;
  needsSignOn = true;
  readonly approved: Approved[] = [];
  /** Times (ms, performance clock) of approvals: [sentAt, answeredAt]. */
  approvals: Array<[number, number]> = [];

  constructor(readonly id: string, private readonly fleet: Fleet, first: number) {
    this.endpoint = first;
    this.terminal = this.dial(null);
  }

  /** A terminal model on the current endpoint; `from` carries the state over (trace, batch, keys, reversals). */
  private dial(from: Terminal | null): Terminal {
    const o = this.fleet.o;
    const t = new Terminal({ host: o.host, port: o.ports[this.endpoint % o.ports.length]!, terminalId: this.id, timeoutMs: o.timeoutMs, stateFile: null });
    if (from) t.state = from.state;
    // Every reversal the terminal sends, however it comes to send one, is written down.
    const flush = t.flushReversals.bind(t);
    t.flushReversals = async () => {
      const out = await flush();
      for (const r of out) this.fleet.reversed(r);
      return out;
    };
    return t;
  }

  async redial(endpoint: number): Promise<void> {
    const old = this.terminal;
    await old.hangUp();
    this.endpoint = endpoint;
    this.terminal = this.dial(old);
    this.needsSignOn = true;
  }

  async failOver(): Promise<void> {
    if (this.fleet.o.ports.length > 1) await this.redial(this.endpoint + 1);
  }

  private async afterLoss(r: TxnResult): Promise<void> {
    if (r.outcome === 'no-connection') await this.failOver();
    this.needsSignOn = true;
  }

  /** Signs on (which sends the pending reversals); false when the switch did not approve it. */
  async signOn(): Promise<boolean> {
    this.fleet.counts.signOns++;
    const r = await this.terminal.signOn();
    const keys = this.terminal.state.keys;
    if (keys) for (const k of [keys.pik, keys.mak]) this.fleet.keysSeen.add(k.toUpperCase());
    if (r.approved && this.terminal.state.pendingReversals.length === 0) { this.needsSignOn = false; return true; }
    if (lostOutcomes.has(r.outcome)) await this.afterLoss(r);
    return false;
  }

  /** One request of the mix; returns when it and any reversal it caused are done. */
  async step(): Promise<void> {
    if (this.needsSignOn || this.terminal.state.pendingReversals.length > 0) {
      if (!(await this.signOn())) await sleep(backoffMs);
      return;
    }
    const f = this.fleet;
    const action = f.pick(this);
    const cardNo = Math.random() < pinCardShare ? pinCardNo : loadCardNo(1 + Math.floor(Math.random() * f.o.cards));
    const amountFen = 100 + Math.floor(Math.random() * 4900);
    const sentAt = performance.now();
    let r: TxnResult;
    let seenCard = cardNo;
    let seenAmount = amountFen;
    try {
      switch (action) {
        case 'balance':
          r = await this.terminal.transact({ type: 'balance', cardNo });
          break;
        case 'purchase':
          r = await this.terminal.transact({ type: 'purchase', cardNo, amountFen });
          break;
        case 'resend': {
          await this.terminal.flushReversals();
          // The same request twice, as a terminal whose first answer was lost sends it again: what the terminal
          // goes by is the answer to the copy it sent last (the first one "lost"), when that copy was answered.
          const x = await runWithFault(this.terminal, { type: 'purchase', cardNo, amountFen }, 'resend');
          const answeredBoth = x.result.outcome === 'answer' && x.second?.outcome === 'answer';
          r = answeredBoth ? x.second! : x.result;
          f.counts.retransmissions++;
          if (x.result.approved && answeredBoth && !x.sameRrn) f.counts.resendMismatches++;
          if (answeredBoth && x.result.responseCode !== x.second!.responseCode) f.counts.retransmissionsAnsweredOtherwise++;
          break;
        }
        case 'reversal': {
          const x = await runWithFault(this.terminal, { type: 'purchase', cardNo, amountFen }, 'drop-answer');
          r = x.result;
          break;
        }
        case 'void':
        case 'refund': {
          const orig = this.approved.splice(Math.floor(Math.random() * this.approved.length), 1)[0]!;
          seenCard = orig.cardNo;
          seenAmount = action === 'void' ? orig.amountFen : Math.max(1, Math.floor(orig.amountFen / 2));
          const req: Request = action === 'void'
            ? { type: 'void', trace: orig.trace }
            : { type: 'refund', rrn: orig.rrn, amountFen: seenAmount, cardNo: orig.cardNo };
          r = await this.terminal.transact(req);
          break;
        }
      }
    } catch (err) {
      if (err instanceof Refused) return;   // an original the terminal no longer keeps: nothing sent
      throw err;
    }
    if (r.outcome === 'no-connection') { await this.afterLoss(r); await sleep(backoffMs); return; }   // nothing went out
    f.counts.requests++;
    if (r.approved) {
      f.counts.approvals++;
      this.approvals.push([sentAt, performance.now()]);
    }
    if (r.kind === 'purchase' || r.kind === 'void' || r.kind === 'refund') {
      f.record(this.id, r, seenCard, seenAmount, action === 'reversal');
      if (r.kind === 'purchase' && r.approved && r.rrn && action !== 'reversal' && this.approved.length < signedPurchasesKeptMax) {
        this.approved.push({ trace: r.trace, batchNo: r.batchNo, rrn: r.rrn, cardNo, amountFen });
      }
    }
    // A dropped answer is the terminal's own doing: only its reversal going unanswered says the link is lost.
    const lost = action === 'reversal' ? r.reversal?.outcome !== 'answer' : lostOutcomes.has(r.outcome);
    if (lost) { await this.afterLoss(r.reversal ?? r); await sleep(backoffMs); } else if (r.responseCode && signOnAgainCodes.has(r.responseCode)) this.needsSignOn = true;
  }

  /** The first approval of a request sent at or after `t0`: when it was answered (null: none yet). */
  servedAfter(t0: number): number | null {
    const a = this.approvals.find(([sent]) => sent >= t0);
    return a ? a[1] : null;
  }
}

export class Fleet {
  readonly seats: Seat[];
  readonly seen = new Map<string, Seen>();
  /** Every working key (PIK, MAK) the switch issued to these terminals, hex. */
  readonly keysSeen = new Set<string>();
  counts: Counts = zero();
  private running: Promise<void>[] = [];
  private stopping = false;
  private readonly mix: Array<[Action, number]>;
  private readonly weight: number;

  constructor(readonly o: FleetOptions) {
    this.seats = Array.from({ length: o.terminals }, (_, i) => new Seat(loadTerminalId(i + 1), this, i));
    this.mix = Object.entries(o.mix ?? mixDefault) as Array<[Action, number]>;
    this.weight = this.mix.reduce((s, [, w]) => s + w, 0);
  }

  pick(seat: Seat): Action {
    let x = Math.random() * this.weight;
    for (const [a, w] of this.mix) {
      x -= w;
      if (x < 0) return (a === 'void' || a === 'refund') && seat.approved.length === 0 ? 'purchase' : a;
    }
    return 'purchase';
  }

  record(terminalId: string, r: TxnResult, cardNo: string, amountFen: number, dropped: boolean): void {
    const key = seenKey(terminalId, r.batchNo, r.trace);
    const prior = this.seen.get(key);
    const answer = r.outcome === 'answer' ? (r.approved ? 'approved' : 'declined') : 'none';
    // The terminal reverses what it sent and got no answer to (an unreadable answer is no answer it can act on).
    const owed = r.outcome === 'timeout' || r.outcome === 'closed' || dropped;
    this.seen.set(key, {
      terminalId, batchNo: r.batchNo, trace: r.trace, kind: r.kind as Seen['kind'], cardNo, amountFen, answer, code: r.responseCode, rrn: r.rrn,
      // A reversal may already be written down: complete() sends it before the receipt comes back.
      reversal: prior?.reversal && prior.reversal !== 'pending' ? prior.reversal : owed ? 'pending' : 'none',
    });
  }

  reversed(r: TxnResult): void {
    if (r.outcome !== 'answer') return;
    this.counts.reversals++;
    const key = seenKey(r.terminalId, r.batchNo, r.trace);
    const s = this.seen.get(key);
    const how = r.approved ? 'approved' : 'declined';
    if (s) s.reversal = how;
    else this.seen.set(key, { terminalId: r.terminalId, batchNo: r.batchNo, trace: r.trace, kind: 'purchase', cardNo: '', amountFen: r.amountFen ?? 0, answer: 'none', code: null, rrn: null, reversal: how });
  }

  /** Starts every terminal's loop. */
  start(): void {
    this.stopping = false;
    this.running = this.seats.map(async (s) => {
      while (!this.stopping) {
        try {
          await s.step();
        } catch (err) {
          process.stderr.write(`faults: terminal ${s.id}: ${(err as Error).stack ?? err}\n`);
          await sleep(backoffMs);
        }
      }
    });
  }

  /** Lets each terminal finish the request it is on, then stops them. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  /**
   * What a terminal does when the switch is back: signs on and sends every reversal it owes. Within `timeoutMs`;
   * the reversals still owed after it are counted.
   */
  async settle(timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    await Promise.all(this.seats.map(async (s) => {
      while ((s.needsSignOn || s.terminal.state.pendingReversals.length > 0) && Date.now() < until) {
        if (!(await s.signOn())) await sleep(backoffMs);
      }
    }));
    return this.seats.reduce((n, s) => n + s.terminal.state.pendingReversals.length, 0);
  }

  /** A new phase: counts and the record start again (the approvals kept for voids and refunds stay). */
  newPhase(): void {
    this.counts = zero();
    this.seen.clear();
    for (const s of this.seats) s.approvals = [];
  }

  /** Every terminal served again: ms from `t0` until the last terminal's first approval of a request sent after it. */
  recoveredMs(t0: number): number | null {
    let last = t0;
    for (const s of this.seats) {
      const at = s.servedAfter(t0);
      if (at === null) return null;
      last = Math.max(last, at);
    }
    return last - t0;
  }

  /** Spreads the terminals over `ports` (terminal i on ports[i % n]); each signs on again where it lands. */
  async useSwitches(ports: number[]): Promise<void> {
    this.o.ports = ports;
    await Promise.all(this.seats.map((s, i) => s.redial(i)));
  }

  async close(): Promise<void> {
    await Promise.all(this.seats.map((s) => s.terminal.close()));
  }
}
