// A bad client for `npm run bench:flood`, in a process of its own (as a client elsewhere would be):
// --connections connections from --from, each pipelining --pipeline purchases for --seconds, sending the next
// as soon as one is answered. --kind says whose:
//   one-card  one signed-on terminal (--terminal), all on one card (--card);
//   strangers a different terminal number each time, none of them known to the switch (refused 97);
//   bad-mac   the good load terminals' numbers (90000001…), without their keys (refused A0).
// Prints `ready` once set up (modules loaded, the one-card terminal signed on) and floods when a line comes on
// stdin, so the flood's start is not the process's start; then one JSON line: requests answered a second and
// the response codes.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Link } from '../../simulators/link.js';
import * as m from '../../simulators/messages.js';
import { Terminal } from '../../simulators/terminal.js';

const { values: a } = parseArgs({ options: {
  port: { type: 'string' }, from: { type: 'string', default: '127.0.0.2' }, terminal: { type: 'string', default: '10000001' },
  card: { type: 'string', default: '8860000000000007' }, connections: { type: 'string', default: '160' },
  pipeline: { type: 'string', default: '32' }, seconds: { type: 'string', default: '6' },
  kind: { type: 'string', default: 'one-card' },
} });
if (!['one-card', 'strangers', 'bad-mac'].includes(a.kind!)) throw new Error(`--kind one-card, strangers or bad-mac, not ${a.kind}`);
const port = Number(a.port);
const seconds = Number(a.seconds);
const terminal = (terminalId: string) => new Terminal({ host: '127.0.0.1', port, terminalId, timeoutMs: 60_000, stateFile: null, pointsPerYuan: 50 });
const t = terminal(a.terminal!);
if (a.kind === 'one-card') {
  const signOn = await t.signOn();
  if (!signOn.approved) throw new Error(`flood terminal ${a.terminal} could not sign on: ${signOn.responseCode}`);
}
const badMac = Array.from({ length: 64 }, (_, i) => terminal(String(90_000_001 + i)));
let sent = 0;
/** Whose request goes next. Only the one-card terminal signs on: the others seal under a key that is not theirs. */
const sender = (): Terminal => a.kind === 'one-card' ? t
  : a.kind === 'bad-mac' ? badMac[sent++ % badMac.length]!
  : terminal(String(70_000_000 + Math.floor(Math.random() * 10_000_000)));
const connect = () => Link.connect('127.0.0.1', port, 10_000, a.from!);
process.stdout.write('ready\n');
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
const codes: Record<string, number> = {};
let answered = 0;
const started = Date.now();
const end = started + seconds * 1000;
await Promise.all(Array.from({ length: Number(a.connections) }, async () => {
  const link = await connect();
  await Promise.all(Array.from({ length: Number(a.pipeline) }, async () => {
    while (Date.now() < end) {
      const who = sender();
      const ctx = who.context();
      const r = await link.request(who.seal(m.purchase(ctx, { cardNo: a.card!, expiry: '3012' }, 100)), 60_000, ctx.trace);
      const code = r.kind === 'answer' ? String(r.message.fields[39]) : r.kind;
      codes[code] = (codes[code] ?? 0) + 1;
      answered++;
      if (r.kind !== 'answer') await new Promise((res) => setTimeout(res, 100));
    }
  }));
  await link.close();
}));
process.stdout.write(`${JSON.stringify({ perS: Math.round(answered / ((Date.now() - started) / 1000)), answered, codes })}\n`);
process.exit(0);
