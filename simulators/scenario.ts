// Scenarios: a YAML or JSON file of steps with expected response codes and balances, so testers write regression
// suites without code. Each step prints ✓ or ✗; any ✗ makes the run exit non-zero.
//
//   name: purchase and void
//   terminal: '10000001'            # optional, default the demo terminal
//   steps:
//     - signon
//     - balance: { card: '8860000000000007' }
//       expect: { code: '00' }
//     - purchase: { card: '8860000000000007', yuan: 10 }
//       expect: { code: '00', points: 500, balanceChange: -500 }
//       as: coffee                  # name the result for later steps
//     - void: { of: coffee }
//       expect: { code: '00', balanceChange: 500 }
//
// Actions: signon, signoff, batch-close, balance, purchase, void, refund; a money step may carry `fault:` (one of the
// fault flags) and `terminal:` (run it on another terminal). Expectations: code (one or a list), approved,
// answered, balance, balanceChange (against the last balance this scenario saw for the card), points,
// reversalCode, sameRrn, macOk, keysOk, switchStillServes, batchClose ('balanced' | 'not balanced'), uploaded.
// `batch-close: { debitFenOffset: 1 }` sends totals off by a fen, so the switch says not balanced and the batch is uploaded.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { fenToYuan, yuanToFen } from './demo.js';
import { faultNames, runWithFault, type FaultReport } from './faults.js';
import { stateFileFor, Terminal, type Request, type TerminalConfig, type TxnResult } from './terminal.js';

const amount = z.union([z.number(), z.string()]);
const card = z.union([z.string().regex(/^\d{12,19}$/, { message: 'not a card number (a card number is 12–19 digits)' }), z.number().int()]).transform(String);
const common = {
  fault: z.enum(faultNames).optional(),
  terminal: z.union([z.string(), z.number()]).transform(String).optional(),
};
const money = z.object({ ...common, yuan: amount.optional(), fen: z.number().int().nonnegative().optional() });
const balanceAction = z.object({ ...common, card, pin: z.string().nullable().optional() }).strict();
const purchaseAction = money.extend({ card, pin: z.string().nullable().optional() }).strict();
const voidAction = z.object({ ...common, of: z.string().optional(), trace: z.union([z.string(), z.number()]).transform(String).optional() }).strict();
const refundAction = money.extend({ of: z.string().optional(), rrn: z.string().optional(), card: card.optional() }).strict();
const plain = z.object({ terminal: z.union([z.string(), z.number()]).transform(String).optional() }).strict().nullable().optional();
/** `debitFenOffset`: send totals off by that many fen (the switch answers not balanced, the terminal uploads). */
const batchCloseAction = z.object({
  terminal: z.union([z.string(), z.number()]).transform(String).optional(),
  debitFenOffset: z.number().int().optional(),
}).strict().nullable().optional();

const expectSchema = z.object({
  code: z.union([z.string(), z.array(z.string())]).optional(),
  approved: z.boolean().optional(),
  answered: z.boolean().optional(),
  balance: z.number().int().optional(),
  balanceChange: z.number().int().optional(),
  points: z.number().int().optional(),
  reversalCode: z.string().optional(),
  sameRrn: z.boolean().optional(),
  macOk: z.boolean().optional(),
  keysOk: z.boolean().optional(),
  switchStillServes: z.boolean().optional(),
  /** batch-close: what 48's code said. */
  batchClose: z.enum(['balanced', 'not balanced']).optional(),
  /** batch-close: how many transactions were uploaded (0320) and approved. */
  uploaded: z.number().int().optional(),
}).strict();

const stepSchema = z.union([
  z.enum(['signon', 'signoff', 'batch-close']),
  z.object({
    name: z.string().optional(),
    as: z.string().optional(),
    expect: expectSchema.optional(),
    signon: plain, signoff: plain, 'batch-close': batchCloseAction,
    balance: balanceAction.optional(),
    purchase: purchaseAction.optional(),
    void: voidAction.optional(),
    refund: refundAction.optional(),
  }).strict(),
]);

export const scenarioSchema = z.object({
  name: z.string().optional(),
  description: z.string().optional(),
  terminal: z.union([z.string(), z.number()]).transform(String).optional(),
  merchant: z.union([z.string(), z.number()]).transform(String).optional(),
  steps: z.array(stepSchema).min(1),
}).strict();

export type Scenario = z.infer<typeof scenarioSchema>;
type Step = z.infer<typeof stepSchema>;
type Expect = z.infer<typeof expectSchema>;
const actions = ['signon', 'signoff', 'batch-close', 'balance', 'purchase', 'void', 'refund'] as const;
type Action = (typeof actions)[number];

export function parseScenario(text: string, fileName = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = fileName.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${fileName}: not valid ${fileName.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`${fileName}: ${first ? `${first.path.join('.') || '(top)'}: ${first.message}` : 'invalid scenario'}`);
  }
  for (const [i, s] of r.data.steps.entries()) {
    if (typeof s === 'string') continue;
    const present = actions.filter((a) => a in s);
    if (present.length !== 1) throw new Error(`${fileName}: step ${i + 1} must have exactly one action (${actions.join(', ')}), has ${present.length}`);
  }
  return r.data;
}

export function loadScenario(file: string): Scenario {
  return parseScenario(readFileSync(file, 'utf8'), file);
}

export interface StepOutcome {
  step: number;
  label: string;
  ok: boolean;
  failures: string[];
  result: TxnResult | null;
  fault?: FaultReport;
}

export interface ScenarioRun { name: string; passed: number; failed: number; steps: StepOutcome[] }

export interface ScenarioOptions {
  terminal: Omit<TerminalConfig, 'terminalId' | 'stateFile'> & { terminalId?: string };
  /** Where each terminal keeps its state (traces continue across runs); null: in memory. */
  stateDir: string | null;
  out?: (line: string) => void;
}

export async function runScenario(sc: Scenario, opts: ScenarioOptions): Promise<ScenarioRun> {
  const out = opts.out ?? (() => {});
  const terminals = new Map<string, Terminal>();
  // The command line's terminal (a flag or a profile) wins over the file's, as its other flags do.
  const defaultId = opts.terminal.terminalId ?? sc.terminal ?? '10000001';
  const terminalFor = (id: string | undefined): Terminal => {
    const tid = id ?? defaultId;
    let t = terminals.get(tid);
    if (!t) {
      const stateFile = opts.stateDir ? stateFileFor(opts.stateDir, opts.terminal.host, opts.terminal.port, tid) : null;
      t = new Terminal({ ...opts.terminal, terminalId: tid, merchantId: tid === defaultId ? opts.terminal.merchantId ?? sc.merchant : undefined, stateFile });
      terminals.set(tid, t);
    }
    return t;
  };
  const named = new Map<string, TxnResult & { cardNo?: string }>();
  const balances = new Map<string, number>();
  const run: ScenarioRun = { name: sc.name ?? 'scenario', passed: 0, failed: 0, steps: [] };
  out(`scenario: ${run.name}`);
  try {
    for (const [i, step] of sc.steps.entries()) {
      const o = await runStep(i + 1, step, terminalFor, named, balances);
      run.steps.push(o);
      if (o.ok) run.passed++; else run.failed++;
      out(`${o.ok ? '✓' : '✗'} ${String(i + 1).padStart(2)} ${o.label}${o.failures.length ? `\n     ${o.failures.join('\n     ')}` : ''}`);
    }
  } finally {
    for (const t of terminals.values()) await t.close();
  }
  out(`${run.failed === 0 ? '✓' : '✗'} ${run.passed} passed, ${run.failed} failed`);
  return run;
}

function amountFen(a: { yuan?: string | number | undefined; fen?: number | undefined }): number {
  if (a.fen !== undefined) return a.fen;
  if (a.yuan !== undefined) return yuanToFen(a.yuan);
  throw new Error('give the amount as yuan: or fen:');
}

async function runStep(
  n: number, step: Step, terminalFor: (id: string | undefined) => Terminal,
  named: Map<string, TxnResult & { cardNo?: string }>, balances: Map<string, number>,
): Promise<StepOutcome> {
  const s = typeof step === 'string' ? { [step]: null } as Exclude<Step, string> : step;
  const action = actions.find((a) => a in s) as Action;
  const expect: Expect = s.expect ?? {};
  let label = s.name ?? action;
  const fail = (msg: string): StepOutcome => ({ step: n, label, ok: false, failures: [msg], result: null });
  try {
    let result: TxnResult;
    let fault: FaultReport | undefined;
    let cardNo: string | undefined;
    const doRequest = async (t: Terminal, req: Request, f: (typeof faultNames)[number] | undefined) => {
      if (!f) return t.transact(req);
      fault = await runWithFault(t, req, f);
      return fault.result;
    };
    switch (action) {
      case 'signon': case 'signoff': case 'batch-close': {
        const t = terminalFor(s[action]?.terminal);
        const offset = action === 'batch-close' ? s['batch-close']?.debitFenOffset : undefined;
        result = action === 'signon' ? await t.signOn() : action === 'signoff' ? await t.signOff() : await t.closeBatch(offset !== undefined ? { debitFenOffset: offset } : {});
        label = `${s.name ?? action} (terminal ${t.terminalId})`;
        break;
      }
      case 'balance': {
        const a = s.balance!;
        cardNo = a.card;
        label = s.name ?? `balance ${cardNo}`;
        result = await doRequest(terminalFor(a.terminal), { type: 'balance', cardNo, ...(a.pin !== undefined ? { pin: a.pin } : {}) }, a.fault);
        break;
      }
      case 'purchase': {
        const a = s.purchase!;
        cardNo = a.card;
        const fen = amountFen(a);
        label = s.name ?? `purchase ${cardNo} ${fenToYuan(fen)} yuan${a.fault ? ` [${a.fault}]` : ''}`;
        result = await doRequest(terminalFor(a.terminal), { type: 'purchase', cardNo, amountFen: fen, ...(a.pin !== undefined ? { pin: a.pin } : {}) }, a.fault);
        break;
      }
      case 'void': {
        const a = s.void!;
        const orig = a.of ? named.get(a.of) : undefined;
        if (a.of && !orig) return fail(`no earlier step named ${a.of}`);
        const trace = a.trace ?? orig?.trace;
        if (!trace) return fail('void needs of: <name> or trace:');
        cardNo = orig?.cardNo;
        label = s.name ?? `void trace ${trace}${a.of ? ` (${a.of})` : ''}${a.fault ? ` [${a.fault}]` : ''}`;
        result = await doRequest(terminalFor(a.terminal), { type: 'void', trace }, a.fault);
        break;
      }
      case 'refund': {
        const a = s.refund!;
        const orig = a.of ? named.get(a.of) : undefined;
        if (a.of && !orig) return fail(`no earlier step named ${a.of}`);
        const rrn = a.rrn ?? orig?.rrn;
        if (!rrn) return fail(`refund needs of: <name of an approved purchase> or rrn:${a.of ? ` (${a.of} has no RRN)` : ''}`);
        cardNo = a.card ?? orig?.cardNo;
        const fen = amountFen(a);
        label = s.name ?? `refund ${fenToYuan(fen)} yuan of rrn ${rrn}${a.of ? ` (${a.of})` : ''}${a.fault ? ` [${a.fault}]` : ''}`;
        result = await doRequest(terminalFor(a.terminal), { type: 'refund', rrn, amountFen: fen, cardNo: cardNo ?? null }, a.fault);
        break;
      }
    }
    const failures = await check(expect, result, fault, cardNo, balances, terminalFor((s[action] as { terminal?: string } | null | undefined)?.terminal));
    if (s.as) named.set(s.as, { ...result, ...(cardNo ? { cardNo } : {}) });
    const shown = `${label} → ${result.responseCode ?? result.outcome} ${result.meaning}${result.balancePoints !== null ? `, balance ${result.balancePoints}` : ''}`;
    return { step: n, label: shown, ok: failures.length === 0, failures, result, ...(fault ? { fault } : {}) };
  } catch (err) {
    return fail(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function check(
  e: Expect, r: TxnResult, fault: FaultReport | undefined, cardNo: string | undefined, balances: Map<string, number>, t: Terminal,
): Promise<string[]> {
  const f: string[] = [];
  if (e.code !== undefined) {
    const codes = Array.isArray(e.code) ? e.code : [e.code];
    if (!codes.includes(r.responseCode ?? '')) f.push(`expected response code ${codes.join(' or ')}, got ${r.responseCode ?? r.outcome}`);
  }
  if (e.approved !== undefined && r.approved !== e.approved) f.push(`expected approved ${e.approved}, got ${r.approved}`);
  if (e.answered !== undefined && (r.outcome === 'answer') !== e.answered) f.push(`expected answered ${e.answered}, got ${r.outcome}`);
  if (e.points !== undefined) {
    const moved = r.pointsDebited ?? r.pointsCredited;
    if (moved !== e.points) f.push(`expected ${e.points} points moved, got ${moved ?? 'none'}`);
  }
  if (e.reversalCode !== undefined) {
    const got = r.reversal?.responseCode ?? null;
    if (got !== e.reversalCode) f.push(`expected reversal answered ${e.reversalCode}, got ${got ?? 'no reversal answer'}`);
  }
  if (e.sameRrn !== undefined && fault?.sameRrn !== e.sameRrn) f.push(`expected sameRrn ${e.sameRrn}, got ${fault?.sameRrn}`);
  if (e.macOk !== undefined && r.macOk !== e.macOk) f.push(`expected answer MAC ok ${e.macOk}, got ${r.macOk}`);
  if (e.keysOk !== undefined && (r.keysOk ?? fault?.keysRejected === false) !== e.keysOk) f.push(`expected keysOk ${e.keysOk}, got ${r.keysOk ?? !fault?.keysRejected}`);
  if (e.switchStillServes !== undefined && fault?.switchStillServes !== e.switchStillServes) f.push(`expected switchStillServes ${e.switchStillServes}, got ${fault?.switchStillServes}`);
  if (e.batchClose !== undefined) {
    const got = r.batchCloseCode === '1' ? 'balanced' : r.batchCloseCode === '2' ? 'not balanced' : `code ${r.batchCloseCode ?? 'none'}`;
    if (got !== e.batchClose) f.push(`expected batch close ${e.batchClose}, got ${got}`);
  }
  if (e.uploaded !== undefined && (r.uploaded ?? 0) !== e.uploaded) f.push(`expected ${e.uploaded} transactions uploaded, got ${r.uploaded ?? 0}`);
  // The balance now: from the answer (54) or from the fault's probe, else ask the switch.
  let now: number | null = fault?.balanceAfter ?? r.balancePoints;
  if ((e.balance !== undefined || e.balanceChange !== undefined) && now === null && cardNo) {
    const b = await t.transact({ type: 'balance', cardNo });
    now = b.balancePoints;
  }
  if (e.balance !== undefined && now !== e.balance) f.push(`expected balance ${e.balance}, got ${now ?? 'none'}`);
  if (e.balanceChange !== undefined && cardNo) {
    const before = balances.get(cardNo);
    if (before === undefined) f.push(`balanceChange needs an earlier balance of card ${cardNo} in this scenario`);
    else if (now === null) f.push('expected a balance, the switch gave none');
    else if (now - before !== e.balanceChange) f.push(`expected balance change ${e.balanceChange}, got ${now - before} (${before} → ${now})`);
  }
  if (cardNo && now !== null) balances.set(cardNo, now);
  return f;
}
