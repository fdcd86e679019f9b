#!/usr/bin/env node
// `pointswitch-sim`: act as one or many UnionPay-style POS terminals against a running switch.
// Defaults are the names `pointswitch seed --demo` creates, so it works against `npm start` with no set-up.
import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command, CommanderError, Option } from 'commander';
import { demoHost, demoPosPort, demoTerminalId, demoMerchantFor, yuanToFen } from './demo.js';
import { faultNames, runWithFault, type FaultName } from './faults.js';
import { floodKinds, formatFloodReport, prepareFlood, type FloodKind } from './flood.js';
import { formatReport, parseMix, parseRate, runLoad, type Progress } from './load.js';
import { receipt } from './receipt.js';
import { loadScenario, runScenario } from './scenario.js';
import { runShell } from './shell.js';
import { defaultStateDir, stateFileFor, Terminal, type Request, type TerminalConfig } from './terminal.js';

/** A readable one-line error with a non-zero exit (the simulator imports nothing from src/). */
export class SimError extends Error {
  constructor(message: string, readonly exitCode = 1) { super(message); this.name = 'SimError'; }
}

interface Common { host: string; port: string; terminal?: string; merchant?: string; tmk?: string; mac?: 'ecb' | 'x919'; timeoutMs: string; stateDir?: string; state: boolean }

function withCommon(cmd: Command, opts: { terminal?: boolean } = { terminal: true }): Command {
  cmd.option('--host <host>', 'switch host [env POINTSWITCH_HOST]', process.env.POINTSWITCH_HOST ?? demoHost)
    .option('--port <port>', 'switch POS port [env POS_PORT or PORT]', process.env.POS_PORT ?? process.env.PORT ?? String(demoPosPort));
  if (opts.terminal !== false) {
    cmd.option('--terminal <id>', `terminal id (41); default the demo terminal ${demoTerminalId}`)
      .option('--merchant <id>', 'merchant id (42); default the demo merchant of the terminal');
  }
  return cmd
    .option('--tmk <hex>', 'terminal master key, clear hex (default: the demo TMK)')
    .addOption(new Option('--mac <algorithm>', 'MAC algorithm').choices(['ecb', 'x919']))
    .option('--timeout-ms <ms>', 'how long to wait for an answer before reversing', '10000')
    .option('--state-dir <dir>', 'where terminals keep their state (trace, batch, keys, pending reversals) [env POINTSWITCH_SIM_STATE_DIR]')
    .option('--no-state', 'keep the terminal state in memory only');
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new SimError(`--port: ${JSON.stringify(v)} is not a TCP port`, 2);
  return n;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new SimError(`${name}: ${JSON.stringify(v)} is not a positive whole number`, 2);
  return n;
}

function localAddresses(v: string): string[] {
  const list = v.split(',').map((a) => a.trim()).filter((a) => a !== '');
  const bad = list.filter((a) => isIP(a) === 0);
  if (list.length === 0 || bad.length > 0) throw new SimError(`--local-address: ${JSON.stringify(bad[0] ?? v)} is not an IP address`, 2);
  return list;
}

function httpUrl(name: string, v: string): string {
  let u: URL | null = null;
  try { u = new URL(v); } catch { /* refused below */ }
  if (u?.protocol !== 'http:' && u?.protocol !== 'https:') throw new SimError(`${name}: ${JSON.stringify(v)} is not an http(s) URL`, 2);
  return v;
}

function terminalConfig(o: Common): TerminalConfig {
  const terminalId = o.terminal ?? demoTerminalId;
  const p = port(o.port);
  return {
    host: o.host, port: p, terminalId, merchantId: o.merchant ?? demoMerchantFor(terminalId),
    ...(o.tmk ? { tmkHex: o.tmk } : {}), ...(o.mac ? { macAlgorithm: o.mac } : {}),
    timeoutMs: positiveInt('--timeout-ms', o.timeoutMs),
    stateFile: o.state ? stateFileFor(stateDir(o), o.host, p, terminalId) : null,
  };
}

function stateDir(o: Common): string {
  return o.stateDir ?? defaultStateDir();
}

function terminal(o: Common): Terminal {
  try {
    return new Terminal(terminalConfig(o));
  } catch (err) {
    throw new SimError((err as Error).message, 2);
  }
}

export function buildProgram(): Command {
  const program = new Command('pointswitch-sim')
    .description('POS terminal simulator for pointswitch: interactive shell, one-shot swipes, scenarios, load and faults.')
    .showHelpAfterError()
    .exitOverride();

  withCommon(program.command('shell').description('one terminal at the keyboard: signs on, then balance/buy/void/refund/batch-close/signoff (type help)'))
    .action(async (o: Common) => {
      process.exitCode = await runShell(terminal(o));
    });

  const swipe = withCommon(program.command('swipe').description('one transaction; prints a receipt, or one JSON object with --json'))
    .addOption(new Option('--type <type>', 'transaction').choices(['balance', 'purchase', 'void', 'refund']).default('purchase'))
    .option('--card <number>', 'card number (default the demo diamond card)', '8860000000000007')
    .option('--amount <yuan>', 'amount in yuan (purchase, refund)', '1')
    .option('--pin <pin>', 'PIN (default: the demo card\'s PIN if it has one)')
    .option('--trace <trace>', 'void: the purchase\'s trace on this terminal')
    .option('--rrn <rrn>', 'refund: the purchase\'s RRN')
    .option('--no-sign-on', 'do not sign on first (use the keys kept from the last sign-on)')
    .option('--json', 'print one JSON object')
    .option('--hold-ms <ms>', 'with --half-open: how long to hold the connection', '3000');
  for (const f of faultNames) swipe.option(`--${f}`, faultHelp[f]);
  swipe.action(async (o: Common & { type: Request['type']; card: string; amount: string; pin?: string; trace?: string; rrn?: string; signOn: boolean; json?: boolean; holdMs: string } & Record<string, unknown>) => {
    const faults = faultNames.filter((f) => o[camel(f)] === true);
    if (faults.length > 1) throw new SimError(`give one fault at a time (got ${faults.map((f) => `--${f}`).join(', ')})`, 2);
    const fault: FaultName | undefined = faults[0];
    const t = terminal(o);
    const req = request(o);
    try {
      let signOn = null;
      if (o.signOn) {
        signOn = await t.signOn();
        if (!signOn.approved) {
          print(o.json, { ...signOn, step: 'sign-on' }, receipt(signOn));
          process.exitCode = 1;
          return;
        }
      }
      if (fault) {
        const report = await runWithFault(t, req, fault, { holdMs: positiveInt('--hold-ms', o.holdMs) });
        print(o.json, report, `${receipt(report.result)}\n  fault ${fault}: switch answered ${report.switchAnswer}${extra(report)}`);
        process.exitCode = report.result.outcome === 'answer' || fault === 'drop-answer' || fault === 'garbage' || fault === 'truncated' ? 0 : 3;
      } else {
        const r = await t.transact(req);
        print(o.json, r, receipt(r));
        process.exitCode = r.outcome === 'answer' ? 0 : 3;
      }
    } finally {
      await t.close();
    }
  });

  withCommon(program.command('scenario').description('run scenario files (YAML or JSON) of steps and expectations; exits 1 when one fails'))
    .argument('<files...>', 'scenario files')
    .option('--json', 'print the results as JSON')
    .action(async (files: string[], o: Common & { json?: boolean }) => {
      let failed = 0;
      const runs = [];
      for (const file of files) {
        let sc;
        try {
          sc = loadScenario(file);
        } catch (err) {
          throw new SimError((err as Error).message, 2);
        }
        const cfg = terminalConfig(o);
        const run = await runScenario(sc, {
          terminal: { ...cfg, terminalId: o.terminal ?? sc.terminal ?? demoTerminalId, merchantId: o.merchant },
          stateDir: o.state ? stateDir(o) : null,
          out: o.json ? undefined : (line) => process.stdout.write(`${line}\n`),
        });
        runs.push({ file, ...run });
        failed += run.failed;
      }
      if (o.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      process.exitCode = failed === 0 ? 0 : 1;
    });

  withCommon(program.command('load').description('many terminals at a fixed rate or flat out; throughput, codes, latency, reconciliation'), { terminal: false })
    .option('--terminals <n>', 'terminals (seeded load terminals from 90000001)', '8')
    .option('--cards <n>', 'cards (seeded load cards from 8861000000000001)', '100')
    .option('--rate <r>', 'requests per second over all terminals, or max', 'max')
    .option('--duration <s>', 'seconds', '10')
    .option('--mix <mix>', 'weights of purchase, balance, void and resend (an approved purchase sent again, byte for byte: a retransmission)', 'purchase=80,balance=15,void=5')
    .option('--connections <n>', 'connections per terminal', '1')
    .option('--local-address <list>', 'local addresses to connect from, comma-separated; terminals spread over them in turn (the switch caps connections per client address)')
    .option('--first-terminal <n>', 'index of the first load terminal', '1')
    .option('--first-card <n>', 'index of the first load card', '1')
    .option('--points-per-yuan <n>', 'the load merchant\'s rate, to check the points each purchase debited', '50')
    .option('--no-reconcile', 'skip the balance check before and after')
    .option('--admin-url <url>', 'ask the cards\' balances of the switch\'s admin API (e.g. http://127.0.0.1:8080) instead of by balance inquiry')
    .option('--admin-key <key>', 'with --admin-url: an API key of the operator or auditor role [env POINTSWITCH_ADMIN_KEY]', process.env.POINTSWITCH_ADMIN_KEY)
    .option('--json <file>', 'also write the report as JSON to this file ("-" for stdout)')
    .action(async (o: Common & { terminals: string; cards: string; rate: string; duration: string; mix: string; connections: string; localAddress?: string; firstTerminal: string; firstCard: string; pointsPerYuan: string; reconcile: boolean; adminUrl?: string; adminKey?: string; json?: string }) => {
      let mix, rate;
      try {
        mix = parseMix(o.mix);
        rate = parseRate(o.rate);
      } catch (err) {
        throw new SimError((err as Error).message, 2);
      }
      const tty = process.stderr.isTTY === true;
      const report = await runLoad({
        host: o.host, port: port(o.port), terminals: positiveInt('--terminals', o.terminals), cards: positiveInt('--cards', o.cards),
        rate, durationS: Number(o.duration) > 0 ? Number(o.duration) : positiveInt('--duration', o.duration), mix,
        connectionsPerTerminal: positiveInt('--connections', o.connections),
        ...(o.localAddress ? { localAddresses: localAddresses(o.localAddress) } : {}),
        firstTerminal: positiveInt('--first-terminal', o.firstTerminal), firstCard: positiveInt('--first-card', o.firstCard),
        pointsPerYuan: positiveInt('--points-per-yuan', o.pointsPerYuan), reconcile: o.reconcile,
        adminUrl: o.adminUrl === undefined ? null : httpUrl('--admin-url', o.adminUrl), adminKey: o.adminKey ?? null,
        timeoutMs: positiveInt('--timeout-ms', o.timeoutMs), ...(o.tmk ? { tmkHex: o.tmk } : {}),
        stateDir: o.state ? stateDir(o) : null,
        onProgress: (p) => progressLine(p, tty),
      }).catch((err: Error) => { throw new SimError(err.message); });
      if (tty) process.stderr.write('\n');
      if (o.json === '-') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        process.stdout.write(`${formatReport(report)}\n`);
        if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });
  program.command('flood')
    .description('a bad client, to see what the switch\'s limits do with it: many connections pipelining purchases as fast as answered')
    .option('--host <host>', 'switch host [env POINTSWITCH_HOST]', process.env.POINTSWITCH_HOST ?? demoHost)
    .option('--port <port>', 'switch POS port [env POS_PORT or PORT]', process.env.POS_PORT ?? process.env.PORT ?? String(demoPosPort))
    .addOption(new Option('--kind <kind>', 'one-card: one signed-on terminal, one card (expect 65 past the card gate); strangers: unknown terminal numbers (97); bad-mac: the load terminals\' numbers without their keys (A0); sign-on: sign-ons for the load terminals\' numbers (00)')
      .choices([...floodKinds]).default('one-card'))
    .option('--connections <n>', 'connections', '16')
    .option('--pipeline <n>', 'purchases in flight per connection', '32')
    .option('--seconds <s>', 'how long to send', '10')
    .option('--local-address <list>', 'local addresses to connect from, comma-separated; connections spread over them in turn (a flood from many addresses)')
    .option('--terminals <n>', 'bad-mac, sign-on: how many load terminal numbers (from 90000001) to use', '64')
    .option('--terminal <id>', 'one-card: the terminal', demoTerminalId)
    .option('--card <number>', 'one-card: the card', '8860000000000007')
    .option('--json', 'print one JSON object')
    .action(async (o: { host: string; port: string; kind: FloodKind; connections: string; pipeline: string; seconds: string; localAddress?: string; terminals: string; terminal: string; card: string; json?: boolean }) => {
      const flood = await prepareFlood({
        host: o.host, port: port(o.port), kind: o.kind, connections: positiveInt('--connections', o.connections),
        pipeline: positiveInt('--pipeline', o.pipeline), seconds: positiveInt('--seconds', o.seconds),
        ...(o.localAddress ? { localAddresses: localAddresses(o.localAddress) } : {}), terminalId: o.terminal, cardNo: o.card,
        keylessTerminals: positiveInt('--terminals', o.terminals),
        onProgress: (p) => { if (!o.json) process.stderr.write(`[${p.elapsedS.toFixed(0).padStart(3)}s] answered ${p.answered}  ${p.perS}/s\n`); },
      }).catch((err: Error) => { throw new SimError(err.message); });
      const report = await flood.run().catch((err: Error) => { throw new SimError(err.message); });
      process.stdout.write(`${o.json ? JSON.stringify(report) : formatFloodReport(report)}\n`);
    });
  return program;
}

const faultHelp: Record<FaultName, string> = {
  'drop-answer': 'fault: ignore the switch\'s answer and reverse the request (0400)',
  resend: 'fault: send the same request (same trace) twice',
  'corrupt-mac': 'fault: flip a bit of the MAC (expect A0)',
  garbage: 'fault: send a frame of random bytes (expect 30 or a closed connection)',
  truncated: 'fault: send the request cut short inside its fields (expect 30)',
  'half-open': 'fault: hold a second connection open after half a frame, meanwhile transact on the first',
  'wrong-key': 'fault: sign on with a wrong master key, then transact with the keys it yields (expect A0)',
};

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function request(o: { type: Request['type']; card: string; amount: string; pin?: string; trace?: string; rrn?: string }): Request {
  try {
    switch (o.type) {
      case 'balance': return { type: 'balance', cardNo: o.card, ...(o.pin ? { pin: o.pin } : {}) };
      case 'purchase': return { type: 'purchase', cardNo: o.card, amountFen: yuanToFen(o.amount), ...(o.pin ? { pin: o.pin } : {}) };
      case 'void':
        if (!o.trace) throw new Error('--type void needs --trace');
        return { type: 'void', trace: o.trace };
      case 'refund':
        if (!o.rrn) throw new Error('--type refund needs --rrn');
        return { type: 'refund', rrn: o.rrn, amountFen: yuanToFen(o.amount), cardNo: o.card };
    }
  } catch (err) {
    throw new SimError((err as Error).message, 2);
  }
}

function extra(r: { sameRrn?: boolean; switchStillServes?: boolean; balanceAfter?: number | null; closedByServer?: boolean; heldMs?: number; keysRejected?: boolean; second?: { responseCode: string | null } }): string {
  const parts: string[] = [];
  if (r.second) parts.push(`second copy answered ${r.second.responseCode ?? 'nothing'}, same RRN: ${r.sameRrn ? 'yes' : 'no'}`);
  if (r.switchStillServes !== undefined) parts.push(`switch still serves: ${r.switchStillServes ? 'yes' : 'NO'}`);
  if (r.balanceAfter !== undefined && r.balanceAfter !== null) parts.push(`balance after: ${r.balanceAfter}`);
  if (r.closedByServer !== undefined) parts.push(r.closedByServer ? `switch closed the held connection after ${r.heldMs} ms` : `held connection still open after ${r.heldMs} ms`);
  if (r.keysRejected !== undefined) parts.push(`working keys under the wrong TMK rejected: ${r.keysRejected ? 'yes' : 'no'}`);
  return parts.length ? `\n  ${parts.join('\n  ')}` : '';
}

function print(json: boolean | undefined, obj: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(obj, null, 2)}\n` : `${text}\n`);
}

function progressLine(p: Progress, tty: boolean): void {
  const line = `[${p.elapsedS.toFixed(1).padStart(5)}s/${p.durationS}s] sent ${p.sent}  answered ${p.answered}  in flight ${p.inFlight}  ${Math.round(p.ratePerS)}/s  p99 ${p.p99Ms ?? '-'} ms`;
  if (tty) process.stderr.write(`\r${line.padEnd(100)}`);
  else if (Math.round(p.elapsedS * 2) % 10 === 0) process.stderr.write(`${line}\n`);
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const code = err instanceof SimError ? err.exitCode : 1;
    process.stderr.write(`pointswitch-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    return code;
  }
}

runCli(process.argv).then((code) => { process.exitCode = code; });
