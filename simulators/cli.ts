#!/usr/bin/env node
// `pointswitch-sim`: act as one or many UnionPay-style POS terminals against a running switch.
// Defaults are the names `pointswitch seed --demo` creates, so it works against `npm start` with no set-up.
import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command, CommanderError, Option } from 'commander';
import { cardNumber, demoCardNo, demoHost, demoPosPort, demoTerminalId, seededMerchantOf, yuanToFen } from './demo.js';
import { faultNames, runWithFault, type FaultName } from './faults.js';
import { floodKinds, formatFloodReport, prepareFlood, type FloodKind } from './flood.js';
import { formatReport, parseMix, parseRate, runLoad, type Progress } from './load.js';
import { exitCodeOf, exitCodes } from './outcome.js';
import { listProfiles, readProfile, saveProfile, type Profile } from './profile.js';
import { receipt } from './receipt.js';
import { loadScenario, runScenario } from './scenario.js';
import { runShell, shellHelp } from './shell.js';
import { defaultStateDir, Refused, stateFileFor, Terminal, type Request, type TerminalConfig } from './terminal.js';

/** A readable one-line error with a non-zero exit (the simulator imports nothing from src/). */
export class SimError extends Error {
  constructor(message: string, readonly exitCode = 1) { super(message); this.name = 'SimError'; }
}

const badArguments = exitCodes['bad-arguments'];

interface Endpoint { host?: string; port?: string }
interface Common extends Endpoint { profile?: string; terminal?: string; merchant?: string; tmk?: string; mac?: 'ecb' | 'x919'; timeoutMs: string; stateDir?: string; state: boolean }

/** The switch's address: the flag, else the profile's, else the environment's, else the demo's. */
function endpoint(o: Endpoint, profile: Profile | null = null): { host: string; port: number } {
  return {
    host: o.host ?? profile?.host ?? process.env.POINTSWITCH_HOST ?? demoHost,
    port: port(o.port ?? (profile?.port !== undefined ? String(profile.port) : undefined) ?? process.env.POS_PORT ?? process.env.PORT ?? String(demoPosPort)),
  };
}

function withEndpoint(cmd: Command): Command {
  return cmd.option('--host <host>', `switch host (default: the profile's, else env POINTSWITCH_HOST, else ${demoHost})`)
    .option('--port <port>', `switch POS port (default: the profile's, else env POS_PORT or PORT, else ${demoPosPort})`);
}

function withCommon(cmd: Command, opts: { terminal?: boolean } = { terminal: true }): Command {
  withEndpoint(cmd);
  if (opts.terminal !== false) {
    cmd.option('--profile <name>', 'a terminal described once with `profile add` (its terminal, merchant, TMK, MAC algorithm, host, port); flags given beside it win')
      .option('--terminal <id>', `terminal id (41); default the demo terminal ${demoTerminalId}`)
      .option('--merchant <id>', 'merchant id (42); default the demo merchant of a demo terminal (another terminal needs it, or a profile)');
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
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new SimError(`--port: ${JSON.stringify(v)} is not a TCP port`, badArguments);
  return n;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new SimError(`${name}: ${JSON.stringify(v)} is not a positive whole number`, badArguments);
  return n;
}

function localAddresses(v: string): string[] {
  const list = v.split(',').map((a) => a.trim()).filter((a) => a !== '');
  const bad = list.filter((a) => isIP(a) === 0);
  if (list.length === 0 || bad.length > 0) throw new SimError(`--local-address: ${JSON.stringify(bad[0] ?? v)} is not an IP address`, badArguments);
  return list;
}

function httpUrl(name: string, v: string): string {
  let u: URL | null = null;
  try { u = new URL(v); } catch { /* refused below */ }
  if (u?.protocol !== 'http:' && u?.protocol !== 'https:') throw new SimError(`${name}: ${JSON.stringify(v)} is not an http(s) URL`, badArguments);
  return v;
}

/** The terminal as the flags and its profile describe it; `merchantId` undefined: neither says, nor is it a demo terminal. */
function described(o: Common): Omit<TerminalConfig, 'merchantId'> & { merchantId: string | undefined } {
  let profile: Profile | null = null;
  if (o.profile !== undefined) {
    try { profile = readProfile(stateDir(o), o.profile); } catch (err) { throw new SimError((err as Error).message, badArguments); }
  }
  const terminalId = o.terminal ?? profile?.terminal ?? demoTerminalId;
  const { host, port: p } = endpoint(o, profile);
  const tmkHex = o.tmk ?? profile?.tmk;
  const mac = o.mac ?? profile?.mac;
  return {
    host, port: p, terminalId,
    merchantId: o.merchant ?? (profile && profile.terminal === terminalId ? profile.merchant : seededMerchantOf(terminalId)),
    ...(tmkHex ? { tmkHex } : {}), ...(mac ? { macAlgorithm: mac } : {}),
    timeoutMs: positiveInt('--timeout-ms', o.timeoutMs),
    stateFile: o.state ? stateFileFor(stateDir(o), host, p, terminalId) : null,
  };
}

function terminalConfig(o: Common): TerminalConfig {
  const d = described(o);
  // Sending the demo merchant's number for a terminal of another merchant only earns a 03 from the switch.
  if (d.merchantId === undefined) {
    throw new SimError(`terminal ${d.terminalId} is not a demo terminal, so the simulator does not know its merchant: give --merchant <id>, `
      + `or describe the terminal once with \`pointswitch-sim profile add <name> --terminal ${d.terminalId} --merchant <id> --tmk <hex>\` and use --profile <name>`, badArguments);
  }
  return { ...d, merchantId: d.merchantId };
}

function stateDir(o: { stateDir?: string }): string {
  return o.stateDir ?? defaultStateDir();
}

function terminal(o: Common): Terminal {
  try {
    return new Terminal(terminalConfig(o));
  } catch (err) {
    throw new SimError((err as Error).message, badArguments);
  }
}

export function buildProgram(): Command {
  const program = new Command('pointswitch-sim')
    .description('POS terminal simulator for pointswitch: interactive shell, one-shot swipes, scenarios, load and faults.')
    .showHelpAfterError()
    .exitOverride();

  withCommon(program.command('shell').description('one terminal at the keyboard: signs on, then balance/buy/void/refund/batch-close/signoff (type help)')
    .addHelpText('after', `\nAt the pos> prompt, ${shellHelp}`))
    .action(async (o: Common) => {
      process.exitCode = await runShell(terminal(o));
    });

  const swipe = withCommon(program.command('swipe').description('one transaction; prints a receipt, or one JSON object with --json (exit 0 approved, 1 declined, 2 bad arguments, 3 no answer, 4 not sent, 5 keys rejected)'))
    .addOption(new Option('--type <type>', 'transaction (default balance: money moves only when --type says so)').choices(['balance', 'purchase', 'void', 'refund']))
    .option('--card <number>', `card number (12–19 digits); a purchase needs it, a balance inquiry defaults to the demo diamond card ${demoCardNo}`)
    .option('--amount <yuan>', 'amount in yuan (purchase and refund need it)')
    .option('--pin <pin>', 'PIN (default: the demo card\'s PIN if it has one)')
    .option('--trace <trace>', 'void: the purchase\'s trace on this terminal')
    .option('--rrn <rrn>', 'refund: the purchase\'s RRN; void --force: the RRN to name')
    .option('--force', 'void: send it even when this terminal has no purchase with --trace (see the switch answer 25, or void a purchase a --no-state terminal forgot; --card, --amount and --rrn stand in for the original\'s)')
    .option('--no-sign-on', 'do not sign on first (use the keys kept from the last sign-on)')
    .option('--json', 'print one JSON object')
    .option('--hold-ms <ms>', 'with --half-open: how long to hold the connection', '3000');
  for (const f of faultNames) swipe.option(`--${f}`, faultHelp[f]);
  swipe.action(async (o: Common & SwipeArgs & { signOn: boolean; json?: boolean; holdMs: string } & Record<string, unknown>) => {
    const faults = faultNames.filter((f) => o[camel(f)] === true);
    if (faults.length > 1) throw new SimError(`give one fault at a time (got ${faults.map((f) => `--${f}`).join(', ')})`, badArguments);
    const fault: FaultName | undefined = faults[0];
    const req = request(o);
    const t = terminal(o);
    try {
      let signOn = null;
      if (o.signOn) {
        signOn = await t.signOn();
        if (!signOn.approved) {
          print(o.json, { ...signOn, step: 'sign-on' }, receipt(signOn));
          process.exitCode = exitCodeOf(signOn);
          return;
        }
      }
      if (fault) {
        const report = await runWithFault(t, req, fault, { holdMs: positiveInt('--hold-ms', o.holdMs) });
        print(o.json, report, `${receipt(report.result)}\n  fault ${fault}: switch answered ${report.switchAnswer}${extra(report)}`);
        // A fault run reports what the switch did with the faulty request; its refusal is the point, not a failure.
        process.exitCode = report.result.outcome === 'answer' || fault === 'drop-answer' || fault === 'garbage' || fault === 'truncated' ? 0 : exitCodes['no-answer'];
      } else {
        const r = await t.transact(req).catch((err: unknown) => { throw err instanceof Refused ? new SimError(err.message, badArguments) : err; });
        print(o.json, r, receipt(r));
        process.exitCode = exitCodeOf(r);
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
      let passed = 0;
      const runs = [];
      for (const file of files) {
        let sc;
        try {
          sc = loadScenario(file);
        } catch (err) {
          throw new SimError((err as Error).message, badArguments);
        }
        const d = described(o);
        const run = await runScenario(sc, {
          terminal: { ...d, terminalId: o.terminal ?? (o.profile ? d.terminalId : undefined) ?? sc.terminal ?? demoTerminalId, merchantId: o.merchant ?? (o.profile ? d.merchantId : undefined) },
          stateDir: o.state ? stateDir(o) : null,
          out: o.json ? undefined : (line) => process.stdout.write(`${line}\n`),
        });
        runs.push({ file, ...run });
        failed += run.failed;
        passed += run.passed;
      }
      if (o.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      // Each file ends with its own count; a run of several ends with one line for all, so no ✗ scrolls away unseen.
      else if (files.length > 1) process.stdout.write(`${failed === 0 ? '✓' : '✗'} total: ${passed} passed, ${failed} failed, ${files.length} files\n`);
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
        throw new SimError((err as Error).message, badArguments);
      }
      const tty = process.stderr.isTTY === true;
      const report = await runLoad({
        ...endpoint(o), terminals: positiveInt('--terminals', o.terminals), cards: positiveInt('--cards', o.cards),
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
  withEndpoint(program.command('flood')
    .description('a bad client, to see what the switch\'s limits do with it: many connections pipelining purchases as fast as answered'))
    .addOption(new Option('--kind <kind>', 'one-card: one signed-on terminal, one card (expect 65 past the card gate); strangers: unknown terminal numbers (97); bad-mac: the load terminals\' numbers without their keys (A0); sign-on: sign-ons for the load terminals\' numbers (00)')
      .choices([...floodKinds]).default('one-card'))
    .option('--connections <n>', 'connections', '16')
    .option('--pipeline <n>', 'purchases in flight per connection', '32')
    .option('--seconds <s>', 'how long to send', '10')
    .option('--local-address <list>', 'local addresses to connect from, comma-separated; connections spread over them in turn (a flood from many addresses)')
    .option('--terminals <n>', 'bad-mac, sign-on: how many load terminal numbers (from 90000001) to use', '64')
    .option('--terminal <id>', 'one-card: the terminal', demoTerminalId)
    .option('--card <number>', 'one-card: the card', demoCardNo)
    .option('--json', 'print one JSON object')
    .action(async (o: Endpoint & { kind: FloodKind; connections: string; pipeline: string; seconds: string; localAddress?: string; terminals: string; terminal: string; card: string; json?: boolean }) => {
      const flood = await prepareFlood({
        ...endpoint(o), kind: o.kind, connections: positiveInt('--connections', o.connections),
        pipeline: positiveInt('--pipeline', o.pipeline), seconds: positiveInt('--seconds', o.seconds),
        ...(o.localAddress ? { localAddresses: localAddresses(o.localAddress) } : {}), terminalId: o.terminal, cardNo: o.card,
        keylessTerminals: positiveInt('--terminals', o.terminals),
        onProgress: (p) => { if (!o.json) process.stderr.write(`[${p.elapsedS.toFixed(0).padStart(3)}s] answered ${p.answered}  ${p.perS}/s\n`); },
      }).catch((err: Error) => { throw new SimError(err.message); });
      const report = await flood.run().catch((err: Error) => { throw new SimError(err.message); });
      process.stdout.write(`${o.json ? JSON.stringify(report) : formatFloodReport(report)}\n`);
    });
  profileCommand(program);
  return program;
}

/** `profile add|list`: describe a terminal once, use it by name (`swipe --profile <name>`). */
function profileCommand(program: Command): void {
  const profile = program.command('profile').description('terminal profiles: describe your own terminal once (terminal, merchant, TMK, MAC algorithm, host, port), then use --profile <name>');
  const dirOption = (cmd: Command) => cmd.option('--state-dir <dir>', 'where profiles are kept (under profiles/) [env POINTSWITCH_SIM_STATE_DIR]');
  dirOption(profile.command('add').description('save a profile (replaces one of the same name)'))
    .argument('<name>', 'the profile\'s name (letters, digits, . _ -)')
    .requiredOption('--terminal <id>', 'terminal id (41), as the switch knows it')
    .requiredOption('--merchant <id>', 'the terminal\'s merchant id (42)')
    .requiredOption('--tmk <hex>', 'the terminal\'s master key, clear hex (16 or 32 digits)')
    .addOption(new Option('--mac <algorithm>', 'MAC algorithm (default ecb)').choices(['ecb', 'x919']))
    .option('--host <host>', 'switch host (default: as for swipe)')
    .option('--port <port>', 'switch POS port (default: as for swipe)')
    .action((name: string, o: { terminal: string; merchant: string; tmk: string; mac?: 'ecb' | 'x919'; host?: string; port?: string; stateDir?: string }) => {
      const p: Profile = { terminal: o.terminal, merchant: o.merchant, tmk: o.tmk, ...(o.mac ? { mac: o.mac } : {}), ...(o.host ? { host: o.host } : {}), ...(o.port ? { port: port(o.port) } : {}) };
      let file: string;
      try { file = saveProfile(stateDir(o), name, p); } catch (err) { throw new SimError(profileError(err), badArguments); }
      process.stdout.write(`profile ${name}: terminal ${p.terminal}, merchant ${p.merchant}, MAC ${p.mac ?? 'ecb'}${p.host || p.port ? `, switch ${p.host ?? '(default)'}:${p.port ?? '(default)'}` : ''} (${file})\n`);
    });
  dirOption(profile.command('list').description('the saved profiles (master keys not shown)'))
    .action((o: { stateDir?: string }) => {
      for (const { name, profile: p } of listProfiles(stateDir(o))) {
        process.stdout.write(p ? `${name}  terminal ${p.terminal}  merchant ${p.merchant}  MAC ${p.mac ?? 'ecb'}  ${p.host ?? ''}${p.port ? `:${p.port}` : ''}\n` : `${name}  (not a valid profile)\n`);
      }
    });
}

/** zod's first complaint as one line (`tmk: a master key is 16 or 32 hex digits`). */
function profileError(err: unknown): string {
  const issues = (err as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
  const first = issues?.[0];
  return first ? `${first.path.map(String).join('.')}: ${first.message}` : (err as Error).message;
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

interface SwipeArgs { type?: Request['type']; card?: string; amount?: string; pin?: string; trace?: string; rrn?: string; force?: boolean }

/**
 * The request the flags ask for. Money moves only when --type says so: with no --type it is a balance inquiry,
 * and a purchase or refund names its card and amount (a swipe with no arguments once bought on the diamond card).
 */
function request(o: SwipeArgs): Request {
  const need = (flags: Array<keyof SwipeArgs>) => {
    const missing = flags.filter((f) => o[f] === undefined);
    if (missing.length) throw new Error(`--type ${o.type} needs ${missing.map((f) => `--${f}`).join(' and ')}`);
  };
  const amountFen = () => yuanToFen(o.amount ?? '');
  try {
    switch (o.type) {
      case undefined: {
        const money = (['amount', 'trace', 'rrn', 'force'] as const).filter((f) => o[f] !== undefined);
        if (money.length) throw new Error(`--${money[0]} needs --type purchase, refund or void (with no --type, swipe asks a balance)`);
        return { type: 'balance', cardNo: cardNumber(o.card ?? demoCardNo), ...(o.pin ? { pin: o.pin } : {}) };
      }
      case 'balance': return { type: 'balance', cardNo: cardNumber(o.card ?? demoCardNo), ...(o.pin ? { pin: o.pin } : {}) };
      case 'purchase':
        need(['card', 'amount']);
        return { type: 'purchase', cardNo: cardNumber(o.card), amountFen: amountFen(), ...(o.pin ? { pin: o.pin } : {}) };
      case 'void':
        need(['trace']);
        return {
          type: 'void', trace: o.trace!,
          ...(o.force ? { force: { cardNo: cardNumber(o.card ?? demoCardNo), amountFen: o.amount === undefined ? 100 : amountFen(), rrn: o.rrn ?? null } } : {}),
        };
      case 'refund':
        need(['rrn', 'amount']);
        return { type: 'refund', rrn: o.rrn!, amountFen: amountFen(), cardNo: o.card === undefined ? null : cardNumber(o.card) };
    }
  } catch (err) {
    throw new SimError((err as Error).message, badArguments);
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
