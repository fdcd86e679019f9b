// The good terminals of bench:flood and bench:connections: 64 load terminals (90000001…) driven at a fixed rate
// on their own connections, with answers and recent p99 each second and a reconciled report.
import { runLoad, type LoadReport } from '../../simulators/load.js';

export interface Second { at: number; answered: number; p99: number | null }

export interface GoodRunOptions {
  port: number;
  stateDir: string;
  rate: number;
  seconds: number;
  terminals: number;
  cards: number;
  /** Names the run in the progress lines. */
  label: string;
  log: (s: string) => void;
  /** Called once, at second `atSecond` (e.g. to start a flood). */
  during?: { atSecond: number; run: () => void };
}

/** One good run, with its answers and recent p99 each second. */
export async function goodRun(o: GoodRunOptions): Promise<{ report: LoadReport; seconds: Second[] }> {
  const perSecond: Second[] = [];
  let last = 0;
  let next = 1;
  const report = await runLoad({
    host: '127.0.0.1', port: o.port, terminals: o.terminals, cards: o.cards, durationS: o.seconds, rate: o.rate,
    mix: { purchase: 100, balance: 0, void: 0 }, connectionsPerTerminal: 1, stateDir: o.stateDir, reconcile: true, timeoutMs: 30_000,
    onProgress: (p) => {
      if (p.elapsedS < next) return;
      perSecond.push({ at: next, answered: p.answered - last, p99: p.p99Ms });
      last = p.answered;
      if (next === o.during?.atSecond) o.during.run();
      if (next % 4 === 0) o.log(`${o.label} ${next} s: ${p.answered} answered, recent p99 ${p.p99Ms ?? '-'} ms`);
      next++;
    },
  });
  return { report, seconds: perSecond };
}

/** The seconds in (from, to]: mean answers a second and the worst recent p99. */
export function phaseFigures(s: Second[], from: number, to: number): { answeredPerS: number; worstRecentP99Ms: number } {
  const xs = s.filter((p) => p.at > from && p.at <= to);
  const answered = xs.reduce((n, p) => n + p.answered, 0) / Math.max(1, xs.length);
  return { answeredPerS: Math.round(answered), worstRecentP99Ms: Math.max(0, ...xs.map((p) => p.p99 ?? 0)) };
}

export function phase(s: Second[], from: number, to: number): string {
  const f = phaseFigures(s, from, to);
  return `${f.answeredPerS}/s, worst recent p99 ${f.worstRecentP99Ms} ms`;
}

/** A good run as the benches' JSON gives it: the figures `phase` and `summary` print, and each second. */
export function runFigures(run: { report: LoadReport; seconds: Second[] }, from: number, to: number): Record<string, unknown> {
  const l = run.report.latency;
  return {
    ...phaseFigures(run.seconds, from, to), purchasesPerS: Math.round(run.report.purchasesApprovedPerS),
    p50Ms: l?.p50Ms ?? null, p99Ms: l?.p99Ms ?? null, maxMs: l?.maxMs ?? null, ok: run.report.ok, seconds: run.seconds,
  };
}

/** A run's latency and whether every request was answered and the balances reconciled. */
export function summary(r: LoadReport): string {
  return `p50 ${r.latency?.p50Ms} ms, p99 ${r.latency?.p99Ms}, max ${r.latency?.maxMs}; ${r.ok ? 'every request answered, reconciled' : 'NOT ALL ANSWERED OR NOT RECONCILED'}`;
}
