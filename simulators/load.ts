// `pointswitch-sim load`: N terminals drive the switch at a fixed rate or as fast as it answers, then report
// throughput, response codes and latency percentiles, and check that every request was answered and that the
// points the switch moved match the approvals the terminals saw. Like any terminal, the load sees only the wire
// (and, when asked, the admin API's card balances): the cards' balances are asked before and after, and each
// approval's points are read from the balance it answers (field 54), see `Chain`.
import { performance } from 'node:perf_hooks';
import { verifyMac, type IsoMessage } from '../protocol/index.js';
import { loadCardNo, loadTerminalId } from './demo.js';
import { Link, type Answer } from './link.js';
import * as m from './messages.js';
import { parseBalanceField } from './messages.js';
import { stateFileFor, Terminal } from './terminal.js';

/**
 * Weights of the request kinds. `resend` sends an approved purchase of the same terminal again, byte for byte (a
 * terminal's retransmission after a lost answer): the switch must answer it with the same approval (same RRN) and
 * debit nothing more, which the reconciliation checks.
 */
export type Mix = { purchase: number; balance: number; void: number; resend?: number };
export const mixDefault: Mix = { purchase: 80, balance: 15, void: 5 };
export const inFlightPerConnectionMaxDefault = 32;
export const signOnConcurrencyMax = 16;
export const amountFenMinDefault = 100;
export const amountFenMaxDefault = 5000;

export interface LoadOptions {
  host: string;
  port: number;
  terminals: number;
  cards: number;
  /** Requests per second over all terminals, or 'max': each connection sends its next request when answered. */
  rate: number | 'max';
  durationS: number;
  mix?: Mix;
  connectionsPerTerminal?: number;
  /**
   * Local addresses to connect from, the terminals spread over them in turn (the switch caps connections and
   * requests in flight per client address: connectionsPerAddressMax 2,000 by default); default: any.
   */
  localAddresses?: string[];
  /** Rate mode: requests in flight per connection before the client counts itself saturated. */
  inFlightPerConnectionMax?: number;
  /** Index of the first load terminal / card (1 → 90000001 / 8861000000000001). */
  firstTerminal?: number;
  firstCard?: number;
  tmkHex?: string;
  merchantId?: string;
  /** The load merchant's rate: each purchase must debit its amount at this rate, to the whole point. */
  pointsPerYuan?: number;
  timeoutMs?: number;
  amountFenMin?: number;
  amountFenMax?: number;
  /** Ask every card's balance before and after and compare with the approvals seen. */
  reconcile?: boolean;
  /**
   * Ask the balances before and after of the switch's admin API (GET /cards/:cardNo, read from the ledger's
   * database) instead of by balance inquiry; e.g. http://127.0.0.1:8080.
   */
  adminUrl?: string | null;
  /** The API key for adminUrl (a role that reads cards: operator or auditor). */
  adminKey?: string | null;
  stateDir?: string | null;
  /** Called about twice a second with the running figures. */
  onProgress?: (p: Progress) => void;
}

export interface Progress { elapsedS: number; durationS: number; sent: number; answered: number; inFlight: number; ratePerS: number; p99Ms: number | null }

export interface LatencySummary { count: number; meanMs: number; p50Ms: number; p90Ms: number; p99Ms: number; p999Ms: number; maxMs: number }

export interface Reconciliation {
  checked: boolean;
  cards: number;
  balanceBefore: number | null;
  balanceAfter: number | null;
  pointsDebitedSeen: number;
  pointsCreditedSeen: number;
  /** before − debited + credited */
  expectedAfter: number | null;
  /**
   * Approvals whose points the check refused: a purchase that did not debit its amount at the rate (to the whole
   * point), a void that did not give back what its purchase took, or one whose points could not be read.
   */
  approvalsOff: number;
  /** Cards whose balance after is not the one their last approval answered: points moved that no answer showed. */
  cardsOff: number;
  ok: boolean | null;
  note?: string;
}

export interface LoadReport {
  terminals: number;
  connections: number;
  cards: number;
  rate: number | 'max';
  mix: Mix;
  durationS: number;
  sent: number;
  answered: number;
  timeouts: number;
  closed: number;
  undecodable: number;
  lateAnswers: number;
  /** Rate mode: requests not sent because every connection of the terminal already had the maximum in flight. */
  skipped: number;
  throughputPerS: number;
  purchasesApprovedPerS: number;
  byType: Record<string, { sent: number; answered: number; approved: number }>;
  responseCodes: Record<string, number>;
  latency: LatencySummary | null;
  /** Answers whose MAC did not verify. */
  macFailures: number;
  /** Retransmissions (mix `resend`) not answered with their original approval (same code and RRN). */
  resendMismatches: number;
  reversalsSent: number;
  /** CPU the simulator itself used while driving (100 = one core busy): shows whether the client was the limit. */
  clientCpuPercent: number;
  allAnswered: boolean;
  reconciliation: Reconciliation;
  ok: boolean;
}

export function parseMix(s: string): Mix {
  const mix: Mix = { purchase: 0, balance: 0, void: 0 };
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const match = /^(purchase|balance|void|resend)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!match) throw new Error(`--mix: ${JSON.stringify(part)} is not purchase=N, balance=N, void=N or resend=N`);
    mix[match[1] as keyof Mix] = Number(match[2]);
  }
  if (mix.purchase + mix.balance + mix.void <= 0) throw new Error('--mix: purchase, balance and void add up to 0 (resend only repeats approved purchases)');
  return mix;
}

export function parseRate(s: string): number | 'max' {
  if (s === 'max') return 'max';
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--rate: ${JSON.stringify(s)} is not a positive number or "max"`);
  return n;
}

/** Percentiles by nearest rank over every latency recorded. */
export function summarise(latenciesMs: Float64Array | number[]): LatencySummary | null {
  const n = latenciesMs.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? 0;
  let sum = 0;
  for (const v of sorted) sum += v;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { count: n, meanMs: r(sum / n), p50Ms: r(at(0.5)), p90Ms: r(at(0.9)), p99Ms: r(at(0.99)), p999Ms: r(at(0.999)), maxMs: r(sorted[n - 1] ?? 0) };
}

class Latencies {
  private buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  values(): Float64Array { return this.buf.subarray(0, this.length); }
  recent(k: number): Float64Array { return this.buf.subarray(Math.max(0, this.length - k), this.length); }
}

/** `points`: what the purchase debited, as the load saw it (null: not seen). */
interface Voidable { trace: string; batchNo: string; rrn: string; authCode: string | null; cardNo: string; amountFen: number; points: number | null }

/** An approved purchase as sent (sealed bytes) and answered: what a `resend` sends again. */
interface Resendable { body: Buffer; trace: string; rrn: string }
/** Approved purchases kept per terminal for `resend` (the newest replace random older ones). */
const resendableMax = 256;
/** Random draws for a purchase's card before waiting for a busy one. */
const cardDrawsMax = 8;

interface Worker {
  terminal: Terminal;
  links: Link[];
  next: number;
  voidable: Voidable[];
  resendable: Resendable[];
  /** Unanswered purchases and voids: reversed after the run. */
  unanswered: Array<{ kind: 'purchase' | 'void'; body: Buffer; trace: string; batchNo: string }>;
}

type Kind = 'purchase' | 'balance' | 'void';

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const mix = o.mix ?? mixDefault;
  const conns = Math.max(1, o.connectionsPerTerminal ?? 1);
  const firstTerminal = o.firstTerminal ?? 1;
  const firstCard = o.firstCard ?? 1;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const ppy = o.pointsPerYuan ?? 50;
  const amountMin = o.amountFenMin ?? amountFenMinDefault;
  const amountMax = Math.max(amountMin, o.amountFenMax ?? amountFenMaxDefault);
  const inFlightMax = o.inFlightPerConnectionMax ?? inFlightPerConnectionMaxDefault;
  if (!(o.terminals >= 1 && o.cards >= 1 && o.durationS > 0)) throw new Error('need at least one terminal, one card and a duration');

  // Sign every terminal on (its own state file keeps traces moving on across runs: no accidental duplicates).
  const workers: Worker[] = [];
  for (let i = 0; i < o.terminals; i++) {
    const terminalId = loadTerminalId(firstTerminal + i);
    const terminal = new Terminal({
      host: o.host, port: o.port, terminalId, timeoutMs,
      ...(o.merchantId ? { merchantId: o.merchantId } : {}), ...(o.tmkHex ? { tmkHex: o.tmkHex } : {}),
      stateFile: o.stateDir ? stateFileFor(o.stateDir, o.host, o.port, terminalId) : null, saveMode: 'batched',
      ...(o.localAddresses?.length ? { localAddress: o.localAddresses[i % o.localAddresses.length]! } : {}),
    });
    workers.push({ terminal, links: [], next: 0, voidable: [], resendable: [], unanswered: [] });
  }
  const signOnWorker = async (w: Worker): Promise<void> => {
    const r = await w.terminal.signOn();
    if (!r.approved) {
      const hint = r.responseCode === null
        ? `the switch closed or refused the connection: over its connectionsPerAddressMax? spread the terminals over local addresses (--local-address)`
        : `seed it with \`pointswitch seed --demo --load-terminals ${o.terminals}\``;
      throw new Error(`terminal ${w.terminal.terminalId} could not sign on: ${r.responseCode ?? r.outcome} ${r.meaning}${r.note ? ` (${r.note})` : ''} — ${hint}`);
    }
    // The sign-on's connection carries load too: a terminal holds `conns` connections, not one more.
    w.links.push(await w.terminal.connection());
    for (let c = 1; c < conns; c++) w.links.push(await Link.connect(o.host, o.port, undefined, w.terminal.localAddress));
  };
  // A terminal that cannot sign on ends the run once the sign-ons under way have settled; every connection is
  // closed first, so the process exits.
  const signOnFailures: Error[] = [];
  await inBatches(workers, signOnConcurrencyMax, async (w) => {
    if (signOnFailures.length > 0) return;
    try {
      await signOnWorker(w);
    } catch (err) {
      signOnFailures.push(err as Error);
    }
  });
  const closeAll = () => Promise.all(workers.map(async (w) => { for (const l of w.links) await l.close(); await w.terminal.close(); }));
  if (signOnFailures.length > 0) {
    await closeAll();
    throw signOnFailures[0];
  }

  const refusal = await cardRangeRefusal(workers[0]!.terminal, firstCard + o.cards - 1, o.cards);
  if (refusal) {
    await closeAll();
    throw new Error(refusal);
  }
  const cards = Array.from({ length: o.cards }, (_, i) => loadCardNo(firstCard + i));
  const balances = () => (o.adminUrl ? balancesFromAdmin(o.adminUrl, o.adminKey ?? null, cards) : balancesByInquiry(workers, cards));
  const before = o.reconcile === false ? null : await balances().catch(async (err: unknown) => { await closeAll(); throw err; });
  const chain = before === null ? null : new Chain(before.byCard);
  const exclusive = (cardNo: string, fn: () => Promise<void>): Promise<void> => (chain ? chain.exclusive(cardNo, fn) : fn());

  const lat = new Latencies();
  const codes = new Map<string, number>();
  const resendWeight = mix.resend ?? 0;
  const byType: LoadReport['byType'] = { purchase: { sent: 0, answered: 0, approved: 0 }, balance: { sent: 0, answered: 0, approved: 0 }, void: { sent: 0, answered: 0, approved: 0 },
    ...(resendWeight > 0 ? { resend: { sent: 0, answered: 0, approved: 0 } } : {}) };
  const counts = { sent: 0, answered: 0, timeouts: 0, closed: 0, undecodable: 0, skipped: 0, macFailures: 0, resendMismatches: 0 };
  let debited = 0;
  let credited = 0;
  let approvalsOff = 0;
  const weightTotal = mix.purchase + mix.balance + mix.void + resendWeight;
  const pickKind = (w: Worker): Kind | 'resend' => {
    const x = Math.random() * weightTotal;
    const k = x < mix.purchase ? 'purchase' : x < mix.purchase + mix.balance ? 'balance' : x < mix.purchase + mix.balance + mix.void ? 'void' : 'resend';
    if (k === 'resend') return w.resendable.length === 0 ? 'purchase' : k;
    return k === 'void' && w.voidable.length === 0 ? 'purchase' : k;
  };

  /** Sends one request and counts its fate: sent, answered or how not, latency, MAC, response code, approved. */
  type Exchanged = { a: Answer; code: null } | { a: Extract<Answer, { kind: 'answer' }>; code: string };
  const exchange = async (w: Worker, link: Link, type: string, body: Buffer, trace: string): Promise<Exchanged> => {
    counts.sent++;
    byType[type]!.sent++;
    const a: Answer = await link.request(body, timeoutMs, trace);
    if (a.kind !== 'answer') {
      if (a.kind === 'timeout') counts.timeouts++; else if (a.kind === 'closed' || a.kind === 'no-connection') counts.closed++; else counts.undecodable++;
      if (a.kind === 'undecodable') codes.set('undecodable', (codes.get('undecodable') ?? 0) + 1);
      return { a, code: null };
    }
    counts.answered++;
    byType[type]!.answered++;
    lat.push(a.latencyMs);
    const mak = w.terminal.keys?.mak;
    if (a.message.fields[64] !== undefined && mak && !verifyMac(a.body, w.terminal.macAlgorithm, mak)) counts.macFailures++;
    const code = typeof a.message.fields[39] === 'string' ? a.message.fields[39] : '??';
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if (code === '00') byType[type]!.approved++;
    return { a, code };
  };

  // A retransmission: the same bytes again. It is out of the terminal's list while in flight (one trace is never
  // twice in flight on a link), and goes back after, so it can be sent again later. Unanswered, there is nothing
  // to reverse (the original stands, approved): it only counts as not answered. Its answer is the stored one, so
  // it is no part of the card's chain: a retransmission that debited again shows at the card's next approval.
  const resend = async (w: Worker, link: Link): Promise<void> => {
    const r = w.resendable.splice(Math.floor(Math.random() * w.resendable.length), 1)[0]!;
    const { a, code } = await exchange(w, link, 'resend', r.body, r.trace);
    if (code === null) return;
    if (code !== '00' || a.message.fields[37] !== r.rrn) counts.resendMismatches++;
    if (w.resendable.length < resendableMax) w.resendable.push(r);
  };

  /**
   * Sends a purchase, void or balance inquiry. A purchase or void left unanswered is reversed after the run, and
   * its card's chain is broken (whether it moved points is unknown).
   */
  const send = async (w: Worker, link: Link, kind: Kind, msg: IsoMessage, ctx: m.MessageContext, cardNo: string): Promise<{ x: Exchanged; body: Buffer }> => {
    const body = w.terminal.seal(msg);
    const x = await exchange(w, link, kind, body, ctx.trace);
    if (x.code === null && kind !== 'balance') {
      chain?.forget(cardNo);
      if (x.a.kind === 'timeout' || x.a.kind === 'closed') w.unanswered.push({ kind, body, trace: ctx.trace, batchNo: ctx.batchNo });
    }
    return { x, body };
  };

  /** The change an approval made to its card's balance, read off the chain; null (and counted off) when unknown. */
  const change = (cardNo: string, a: Extract<Answer, { kind: 'answer' }>): number | null => {
    if (!chain) return null;
    const f54 = a.message.fields[54];
    const moved = chain.moved(cardNo, parseBalanceField(typeof f54 === 'string' ? f54 : undefined));
    if (moved === null) approvalsOff++;
    return moved;
  };

  const purchase = async (w: Worker, link: Link, cardNo: string, amountFen: number): Promise<void> => {
    const ctx = w.terminal.context();
    const { x: { a, code }, body } = await send(w, link, 'purchase', m.purchase(ctx, { cardNo, expiry: '3012' }, amountFen), ctx, cardNo);
    if (code !== '00') return;
    const moved = change(cardNo, a);
    const points = moved === null ? null : -moved;
    if (points !== null) {
      debited += points;
      if (!atRate(points, amountFen, ppy)) approvalsOff++;
    }
    const rrn = typeof a.message.fields[37] === 'string' ? a.message.fields[37] : null;
    const authCode = typeof a.message.fields[38] === 'string' ? a.message.fields[38] : null;
    if (rrn && w.voidable.length < 1000) w.voidable.push({ trace: ctx.trace, batchNo: ctx.batchNo, rrn, authCode, cardNo, amountFen, points });
    if (rrn && resendWeight > 0) {
      if (w.resendable.length < resendableMax) w.resendable.push({ body, trace: ctx.trace, rrn });
      else w.resendable[Math.floor(Math.random() * resendableMax)] = { body, trace: ctx.trace, rrn };
    }
  };

  const voidOne = async (w: Worker, link: Link, orig: Voidable): Promise<void> => {
    const ctx = w.terminal.context();
    const msg = m.voidPurchase(ctx, { cardNo: orig.cardNo, expiry: '3012' }, orig.amountFen, { rrn: orig.rrn, authCode: orig.authCode, batchNo: orig.batchNo, trace: orig.trace });
    const { x: { a, code } } = await send(w, link, 'void', msg, ctx, orig.cardNo);
    if (code !== '00') return;
    const moved = change(orig.cardNo, a);
    if (moved === null) return;
    credited += moved;
    if (orig.points !== null && moved !== orig.points) approvalsOff++;
  };

  const one = async (w: Worker, link: Link): Promise<void> => {
    const picked = pickKind(w);
    if (picked === 'resend') return resend(w, link);
    if (picked === 'void') {
      const orig = w.voidable.splice(Math.floor(Math.random() * w.voidable.length), 1)[0]!;
      return exclusive(orig.cardNo, () => voidOne(w, link, orig));
    }
    // A card with a purchase or void in flight makes the next one wait (see Chain): a few more draws find most
    // runs a free card.
    let cardNo = cards[Math.floor(Math.random() * cards.length)]!;
    for (let draw = 1; picked === 'purchase' && chain?.busy(cardNo) && draw < cardDrawsMax; draw++) cardNo = cards[Math.floor(Math.random() * cards.length)]!;
    if (picked === 'balance') {
      const ctx = w.terminal.context();
      await send(w, link, 'balance', m.balance(ctx, { cardNo, expiry: '3012' }), ctx, cardNo);
      return;
    }
    const amountFen = amountMin + Math.floor(Math.random() * (amountMax - amountMin + 1));
    return exclusive(cardNo, () => purchase(w, link, cardNo, amountFen));
  };

  // Drive.
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const deadline = started + o.durationS * 1000;
  let stopped = false;
  const progressTimer = o.onProgress ? setInterval(() => {
    const elapsedS = (performance.now() - started) / 1000;
    const recent = summarise(lat.recent(5000));
    o.onProgress?.({ elapsedS, durationS: o.durationS, sent: counts.sent, answered: counts.answered, inFlight: counts.sent - counts.answered - counts.timeouts - counts.closed - counts.undecodable, ratePerS: counts.answered / Math.max(elapsedS, 1e-3), p99Ms: recent?.p99Ms ?? null });
  }, 500) : null;
  const inFlight = new Set<Promise<void>>();
  if (o.rate === 'max') {
    const loops = workers.flatMap((w) => w.links.map(async (link) => {
      while (!stopped && performance.now() < deadline && !link.isClosed) await one(w, link);
    }));
    await Promise.all(loops);
  } else {
    const rate = o.rate;
    let issued = 0;
    let rr = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const now = performance.now();
        if (now >= deadline) { clearInterval(tick); resolve(); return; }
        const due = Math.floor(((now - started) / 1000) * rate) - issued;
        for (let i = 0; i < due; i++) {
          issued++;
          const w = workers[rr++ % workers.length]!;
          const link = w.links[w.next++ % w.links.length]!;
          if (link.inFlight >= inFlightMax || link.isClosed) { counts.skipped++; continue; }
          const p = one(w, link);
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
        }
      }, 2);
    });
    await Promise.all(inFlight);
  }
  stopped = true;
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const clientCpuPercent = round(((cpu.user + cpu.system) / 1e6 / elapsedS) * 100);
  if (progressTimer) clearInterval(progressTimer);
  const lateAnswers = workers.reduce((s, w) => s + w.links.reduce((x, l) => x + l.lateAnswers, 0), 0);
  for (const w of workers) for (const l of w.links) await l.close();

  // Reverse what went unanswered, like the terminals would, so the ledger and the check stay exact.
  let reversalsSent = 0;
  for (const w of workers) {
    for (const u of w.unanswered) {
      w.terminal.state.pendingReversals.push({ trace: u.trace, batchNo: u.batchNo, kind: u.kind, requestHex: u.body.toString('hex'), reasonCode: '98', attempts: 0 });
      reversalsSent++;
    }
    if (w.unanswered.length) await w.terminal.flushReversals();
  }

  const after = before === null ? null : await balances();
  for (const w of workers) await w.terminal.close();

  const allAnswered = counts.timeouts === 0 && counts.closed === 0 && counts.undecodable === 0;
  const seen = { debited, credited, approvalsOff };
  const reconciliation: Reconciliation = before === null || after === null || chain === null
    ? { checked: false, cards: cards.length, balanceBefore: null, balanceAfter: null, pointsDebitedSeen: debited, pointsCreditedSeen: credited, expectedAfter: null, approvalsOff: 0, cardsOff: 0, ok: null, note: 'skipped (--no-reconcile)' }
    : reconcile(before, after, chain, seen, { cards: cards.length, allAnswered, reversalsSent, pointsPerYuan: ppy, via: o.adminUrl ? 'balances read from the admin API' : 'balances asked by balance inquiry' });
  const purchasesApproved = byType.purchase!.approved;
  return {
    terminals: workers.length, connections: workers.length * conns, cards: cards.length, rate: o.rate, mix,
    durationS: round(elapsedS), ...counts, lateAnswers,
    throughputPerS: round(counts.answered / elapsedS), purchasesApprovedPerS: round(purchasesApproved / elapsedS),
    byType, responseCodes: Object.fromEntries([...codes.entries()].sort()), latency: summarise(lat.values()),
    reversalsSent, allAnswered, reconciliation, clientCpuPercent,
    ok: allAnswered && reconciliation.ok !== false && counts.macFailures === 0 && counts.resendMismatches === 0,
  };
}

/** Whether before, after and every approval's points agree (see `Chain`). */
function reconcile(
  before: Balances, after: Balances, chain: Chain, seen: { debited: number; credited: number; approvalsOff: number },
  o: { cards: number; allAnswered: boolean; reversalsSent: number; pointsPerYuan: number; via: string },
): Reconciliation {
  const expectedAfter = before.sum - seen.debited + seen.credited;
  const cardsOff = chain.cardsOff(after.byCard);
  const missing = before.missing + after.missing;
  return {
    checked: true, cards: o.cards, balanceBefore: before.sum, balanceAfter: after.sum, pointsDebitedSeen: seen.debited, pointsCreditedSeen: seen.credited,
    expectedAfter, approvalsOff: seen.approvalsOff, cardsOff,
    ok: missing === 0 && o.allAnswered && seen.approvalsOff === 0 && cardsOff === 0 && after.sum === expectedAfter,
    note: missing ? `${missing} balance inquiries got no balance`
      : !o.allAnswered ? `${o.reversalsSent} unanswered requests were reversed; the check is only exact when every request is answered`
        : seen.approvalsOff ? `${seen.approvalsOff} approvals moved other points than their amount at ${o.pointsPerYuan} points a yuan (a void: than its purchase took), or none readable`
          : cardsOff ? `${cardsOff} cards' balances after are not what their last approval answered` : o.via,
  };
}

/**
 * Whether `points` is `amountFen` at `pointsPerYuan` to the whole point, whichever way it is rounded: the load
 * checks the switch's figure, the rounding rule itself is the ledger's alone. A debit made twice, or of another
 * amount, is far outside.
 */
export function atRate(points: number, amountFen: number, pointsPerYuan: number): boolean {
  return Math.abs(points * 100 - amountFen * pointsPerYuan) < 100;
}

/**
 * The switch answers an approval with the card's balance after it (field 54), not with the points it moved.
 * While reconciling, the load keeps one purchase or void of a card in flight at a time, so the balance before an
 * approval is the last one the load saw for the card (asked before the run, or answered by the card's previous
 * approval), and the difference is the points the approval moved. Balance inquiries and retransmissions move
 * nothing and are no part of the chain; a request left unanswered breaks its card's chain (what it moved is not
 * known). A card's balance after the run must be the last one its chain saw.
 */
class Chain {
  private readonly seen: Map<string, number>;
  private readonly tails = new Map<string, Promise<void>>();

  constructor(before: Map<string, number>) {
    this.seen = new Map(before);
  }

  /** Runs `fn` once the card's earlier purchase or void, if any, is done. */
  async exclusive(cardNo: string, fn: () => Promise<void>): Promise<void> {
    const earlier = this.tails.get(cardNo);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => { done = resolve; });
    this.tails.set(cardNo, mine);
    try {
      if (earlier) await earlier;
      await fn();
    } finally {
      done();
      if (this.tails.get(cardNo) === mine) this.tails.delete(cardNo);
    }
  }

  /** An approval answered the card's balance `after` (null: none): the change from the one before, if known. */
  moved(cardNo: string, after: number | null): number | null {
    const before = this.seen.get(cardNo);
    if (after === null) this.seen.delete(cardNo); else this.seen.set(cardNo, after);
    return before === undefined || after === null ? null : after - before;
  }

  busy(cardNo: string): boolean {
    return this.tails.has(cardNo);
  }

  forget(cardNo: string): void {
    this.seen.delete(cardNo);
  }

  /** Cards whose balance now is not the last one their chain saw (a card without a balance now is `missing`). */
  cardsOff(now: Map<string, number>): number {
    let off = 0;
    for (const [cardNo, balance] of now) if (this.seen.get(cardNo) !== balance) off++;
    return off;
  }
}

/**
 * Why the load cannot run on these cards, or null. A run beyond the seeded cards would be declined 14 on each card
 * the seed did not make and fail its reconciliation with nothing saying why: one balance inquiry on the last card
 * before the start says it.
 */
async function cardRangeRefusal(t: Terminal, lastIndex: number, cards: number): Promise<string | null> {
  const cardNo = loadCardNo(lastIndex);
  const r = await t.transact({ type: 'balance', cardNo });
  if (r.approved) return null;
  const said = `a balance inquiry on card ${cardNo}, the last of the ${cards} load cards, was answered ${r.responseCode ?? r.outcome} ${r.meaning}`;
  return r.responseCode === '14'
    ? `${said}: seed more cards: \`pointswitch seed --demo --load-cards ${lastIndex}\``
    : `${said}: the load needs every card active and answered`;
}

interface Balances { byCard: Map<string, number>; sum: number; missing: number }

function balancesOf(byCard: Map<string, number>, cards: number): Balances {
  let sum = 0;
  for (const b of byCard.values()) sum += b;
  return { byCard, sum, missing: cards - byCard.size };
}

/** The cards' balances from the switch's admin API (GET /cards/:cardNo), 16 requests at a time. */
async function balancesFromAdmin(adminUrl: string, adminKey: string | null, cards: string[]): Promise<Balances> {
  const base = adminUrl.replace(/\/+$/, '');
  const byCard = new Map<string, number>();
  let next = 0;
  const ask = async (): Promise<void> => {
    while (next < cards.length) {
      const cardNo = cards[next++]!;
      const res = await fetch(`${base}/cards/${cardNo}`, adminKey ? { headers: { authorization: `Bearer ${adminKey}` } } : {});
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw new Error(`the admin API refused to read cards (${res.status}): give --admin-key a key of the operator or auditor role`);
      }
      if (!res.ok) { await res.body?.cancel(); continue; }
      const body = (await res.json()) as { balancePoints?: unknown };
      if (typeof body.balancePoints === 'number') byCard.set(cardNo, body.balancePoints);
    }
  };
  await Promise.all(Array.from({ length: 16 }, ask));
  return balancesOf(byCard, cards.length);
}

function round(v: number): number { return Math.round(v * 100) / 100; }

async function inBatches<T>(items: T[], size: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** The cards' balances by balance inquiry, spread over the terminals (each on its own connection). */
async function balancesByInquiry(workers: Worker[], cards: string[]): Promise<Balances> {
  const byCard = new Map<string, number>();
  let next = 0;
  await Promise.all(workers.map(async (w) => {
    const link = await Link.connect(w.terminal.host, w.terminal.port);
    try {
      const window: Array<Promise<void>> = [];
      const ask = async (cardNo: string) => {
        const ctx = w.terminal.context();
        const a = await link.request(w.terminal.seal(m.balance(ctx, { cardNo, expiry: '3012' })), w.terminal.timeoutMs, ctx.trace);
        const b = a.kind === 'answer' && a.message.fields[39] === '00' ? parseBalanceField(typeof a.message.fields[54] === 'string' ? a.message.fields[54] : undefined) : null;
        if (b !== null) byCard.set(cardNo, b);
      };
      while (next < cards.length) {
        window.push(ask(cards[next++]!));
        if (window.length >= 16) await Promise.all(window.splice(0));
      }
      await Promise.all(window);
    } finally {
      await link.close();
    }
  }));
  return balancesOf(byCard, cards.length);
}

export function formatReport(r: LoadReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string | number) => lines.push(`  ${k.padEnd(26)}${v}`);
  lines.push(`load: ${r.terminals} terminals, ${r.connections} connections, ${r.cards} cards, rate ${r.rate}, ${r.durationS} s, mix purchase=${r.mix.purchase},balance=${r.mix.balance},void=${r.mix.void}${r.mix.resend ? `,resend=${r.mix.resend}` : ''}`);
  row('requests sent', r.sent);
  row('answered', `${r.answered}${r.allAnswered ? ' (every request)' : `  — NOT ALL: ${r.timeouts} timed out, ${r.closed} connection closed, ${r.undecodable} undecodable`}`);
  if (r.skipped) row('not sent (client saturated)', r.skipped);
  if (r.lateAnswers) row('late answers', r.lateAnswers);
  row('throughput', `${r.throughputPerS} answers/s`);
  row('purchases approved', `${r.byType.purchase?.approved ?? 0} (${r.purchasesApprovedPerS}/s)`);
  for (const [k, v] of Object.entries(r.byType)) row(`  ${k}`, `sent ${v.sent}, answered ${v.answered}, approved ${v.approved}`);
  row('response codes', Object.entries(r.responseCodes).map(([c, n]) => `${c}: ${n}`).join(', ') || '-');
  if (r.latency) {
    const l = r.latency;
    row('latency ms', `p50 ${l.p50Ms}  p90 ${l.p90Ms}  p99 ${l.p99Ms}  p99.9 ${l.p999Ms}  max ${l.maxMs}  (mean ${l.meanMs})`);
  }
  if (r.reversalsSent) row('reversals sent', r.reversalsSent);
  row('simulator CPU', `${r.clientCpuPercent}% of one core`);
  row('answer MACs', r.macFailures === 0 ? 'all verified' : `${r.macFailures} DID NOT VERIFY`);
  if (r.byType.resend) row('retransmissions', r.resendMismatches === 0 ? 'each answered with its original approval' : `${r.resendMismatches} NOT answered with their original approval`);
  const c = r.reconciliation;
  if (c.checked) {
    row('points debited (seen)', c.pointsDebitedSeen);
    row('points credited (seen)', c.pointsCreditedSeen);
    row('balances before/after', `${c.balanceBefore} → ${c.balanceAfter} (expected ${c.expectedAfter})`);
    row('reconciliation', `${c.ok ? 'OK' : 'FAILED'}${c.note ? ` — ${c.note}` : ''}`);
  } else row('reconciliation', c.note ?? 'not checked');
  lines.push(r.ok ? 'result: OK' : 'result: FAILED');
  return lines.join('\n');
}
