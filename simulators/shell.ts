// `pointswitch-sim shell`: one terminal at the keyboard. Signs on, then reads commands line by line (a terminal
// or a pipe: each command finishes before the next is read) and prints a receipt for each.
import readline from 'node:readline';
import { cardNumber as card, demoCardNo, fenToYuan, yuanToFen } from './demo.js';
import { receipt } from './receipt.js';
import type { Terminal, TxnResult } from './terminal.js';

export const shellHelp = `commands:
  balance <card> [pin]          balance inquiry
  buy <card> <yuan> [pin]       purchase (e.g. buy 8860000000000002 5.50)
  void <trace> [--force]        void a purchase of this batch by its trace; --force sends it even when this
                                terminal has no such purchase (the diamond card, 1 yuan): the switch answers 25
  refund <rrn> <yuan> [card]    refund against a purchase's RRN (card needed if not from this terminal)
  batch-close                   close the batch (0500) with this batch's totals
  signon | signoff              sign on again / sign off
  status                        trace, batch, keys, pending reversals, this batch's transactions
  help                          this text
  quit                          save the terminal's state and leave (Ctrl-C and Ctrl-D too)`;

export interface ShellIo { input: NodeJS.ReadableStream; output: NodeJS.WritableStream }

export async function runShell(terminal: Terminal, io: ShellIo = { input: process.stdin, output: process.stdout }): Promise<number> {
  const out = (s: string) => { io.output.write(`${s}\n`); };
  const interactive = (io.input as { isTTY?: boolean }).isTTY === true;
  out(`pointswitch-sim: terminal ${terminal.terminalId}, merchant ${terminal.merchantId}, switch ${terminal.host}:${terminal.port}`);
  const first = await terminal.signOn().catch((err: Error) => { out(`sign-on failed: ${err.message}`); return null; });
  if (!first) return 1;
  out(receipt(first));
  if (first.responseCode === '97') out('hint: the switch does not know this terminal; seed the demo data (pointswitch seed --demo) or give --terminal');
  const rl = readline.createInterface({ input: io.input, output: interactive ? io.output : undefined, terminal: interactive, prompt: 'pos> ' });
  rl.on('SIGINT', () => rl.close()); // leave through the normal path, so the state is saved
  if (interactive) { out('type help for the commands'); rl.prompt(); }
  let failures = 0;
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) { if (interactive) rl.prompt(); continue; }
    if (!interactive) out(`pos> ${line}`);
    const [cmd = '', ...args] = line.split(/\s+/);
    if (cmd === 'quit' || cmd === 'exit') break;
    try {
      const r = await command(terminal, cmd.toLowerCase(), args, out);
      if (r) out(receipt(r));
    } catch (err) {
      failures++;
      out(`error: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (interactive) rl.prompt();
  }
  rl.close();
  await terminal.close();
  out('bye: terminal state saved');
  return failures === 0 ? 0 : 1;
}

async function command(t: Terminal, cmd: string, args: string[], out: (s: string) => void): Promise<TxnResult | null> {
  const need = (n: number, usage: string) => { if (args.length < n) throw new Error(`usage: ${usage}`); };
  switch (cmd) {
    case 'help': case '?':
      out(shellHelp);
      return null;
    case 'balance': case 'bal':
      need(1, 'balance <card> [pin]');
      return t.transact({ type: 'balance', cardNo: card(args[0]), ...(args[1] ? { pin: args[1] } : {}) });
    case 'buy': case 'purchase':
      need(2, 'buy <card> <yuan> [pin]');
      return t.transact({ type: 'purchase', cardNo: card(args[0]), amountFen: yuanToFen(args[1] ?? ''), ...(args[2] ? { pin: args[2] } : {}) });
    case 'void': {
      const force = args.includes('--force');
      const [trace] = args.filter((a) => a !== '--force');
      if (!trace) throw new Error('usage: void <trace> [--force]');
      return t.transact({ type: 'void', trace, ...(force ? { force: { cardNo: demoCardNo, amountFen: 100, rrn: null } } : {}) });
    }
    case 'refund':
      need(2, 'refund <rrn> <yuan> [card]');
      return t.transact({ type: 'refund', rrn: args[0] ?? '', amountFen: yuanToFen(args[1] ?? ''), cardNo: args[2] ? card(args[2]) : null });
    case 'batch-close':
      return t.closeBatch();
    case 'signoff':
      return t.signOff();
    case 'signon':
      return t.signOn();
    case 'status':
      out(status(t));
      return null;
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}; type help`);
  }
}

export function status(t: Terminal): string {
  const s = t.state;
  const lines = [
    `terminal ${s.terminalId}  merchant ${s.merchantId}  batch ${s.batchNo}  last trace ${String(s.trace).padStart(6, '0')}`,
    `signed on: ${s.signedOn ? 'yes' : 'no'}  working keys: ${s.keys ? 'loaded' : 'none'}  pending reversals: ${s.pendingReversals.length}`,
  ];
  const txns = t.batchTxns();
  if (txns.length) lines.push('this batch:');
  for (const x of txns.slice(-20)) {
    const flags = [x.voided ? 'voided' : '', x.reversed ? 'reversed' : ''].filter(Boolean).join(',');
    lines.push(`  ${x.trace} ${x.kind.padEnd(8)} ${fenToYuan(x.amountFen).padStart(10)} yuan  ${x.responseCode ?? '--'}  rrn ${x.rrn ?? '-'}${flags ? `  (${flags})` : ''}`);
  }
  const totals = t.totals();
  lines.push(`totals: debit ${totals.debitCount} / ${fenToYuan(totals.debitFen)} yuan, credit ${totals.creditCount} / ${fenToYuan(totals.creditFen)} yuan`);
  return lines.join('\n');
}
