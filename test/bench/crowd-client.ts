// A crowd of terminals for `npm run bench:connections`, in a process of its own: --count load terminals from
// index --first, each on a connection of its own (spread over the --addresses, a client's many terminals), all
// signed on, then purchasing in turn so that the whole crowd sends --rate purchases a second for --seconds:
// like a city's terminals, each idle most of the time and all connected. Cards from index --first-card
// (--cards of them), none of the good terminals' cards. Prints `ready <json>` on stdout once every terminal
// is signed on and waits for a line on stdin to start; after --seconds it prints one JSON line with what it got,
// keeps its connections until the next line on stdin, then closes them all at once and exits.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadCardNo, loadTerminalId } from '../../simulators/demo.js';
import { summarise } from '../../simulators/load.js';
import * as m from '../../simulators/messages.js';
import { Terminal } from '../../simulators/terminal.js';

const { values: a } = parseArgs({ options: {
  port: { type: 'string' }, first: { type: 'string', default: '65' }, count: { type: 'string', default: '8000' },
  rate: { type: 'string', default: '250' }, seconds: { type: 'string', default: '24' },
  addresses: { type: 'string', default: '127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7' },
  'first-card': { type: 'string', default: '10001' }, cards: { type: 'string', default: '10000' },
} });
const port = Number(a.port);
const count = Number(a.count);
const rate = Number(a.rate);
const addresses = a.addresses!.split(',');
const cards = Array.from({ length: Number(a.cards) }, (_, i) => loadCardNo(Number(a['first-card']) + i));

const terminals = Array.from({ length: count }, (_, i) => new Terminal({
  host: '127.0.0.1', port, terminalId: loadTerminalId(Number(a.first) + i), timeoutMs: 30_000, stateFile: null,
  localAddress: addresses[i % addresses.length]!,
}));

// Sign on, 64 at a time; each terminal keeps its connection.
const signOnStarted = performance.now();
let next = 0;
const refused: string[] = [];
await Promise.all(Array.from({ length: 64 }, async () => {
  while (next < terminals.length) {
    const t = terminals[next++]!;
    const r = await t.signOn();
    if (!r.approved) refused.push(`${t.terminalId}: ${r.responseCode ?? r.outcome}`);
  }
}));
const signOnS = (performance.now() - signOnStarted) / 1000;
if (refused.length > 0) {
  process.stderr.write(`crowd: ${refused.length} terminals could not sign on (${refused.slice(0, 3).join(', ')}…): seed --load-terminals\n`);
  process.exit(1);
}
process.stdout.write(`ready ${JSON.stringify({ terminals: count, signOnS: Math.round(signOnS * 10) / 10 })}\n`);
// Lines are queued until asked for; the end of stdin counts as every line after it.
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => { await lines.next(); };
await nextLine();

// Purchases in turn at `rate`, each terminal one at a time (a busy one is passed over).
const latencies: number[] = [];
const codes: Record<string, number> = {};
const busy = new Set<number>();
let sent = 0;
let turn = 0;
const started = performance.now();
const end = started + Number(a.seconds) * 1000;
const pending: Array<Promise<void>> = [];
while (performance.now() < end) {
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  for (; sent < due; sent++) {
    let i = turn++ % count;
    for (let tries = 0; busy.has(i) && tries < count; tries++) i = turn++ % count;
    const t = terminals[i]!;
    busy.add(i);
    const ctx = t.context();
    const card = { cardNo: cards[sent % cards.length]!, expiry: '3012' };
    pending.push(t.exchange(t.seal(m.purchase(ctx, card, 100)), ctx.trace).then((r) => {
      const code = r.kind === 'answer' ? String(r.message.fields[39]) : r.kind;
      codes[code] = (codes[code] ?? 0) + 1;
      if (r.kind === 'answer') latencies.push(r.latencyMs);
      busy.delete(i);
    }));
  }
  await new Promise((r) => setTimeout(r, 5));
}
await Promise.all(pending);
const elapsedS = (performance.now() - started) / 1000;
const l = summarise(latencies);
process.stdout.write(`${JSON.stringify({ terminals: count, signOnS: Math.round(signOnS * 10) / 10, sent, perS: Math.round(latencies.length / elapsedS), p50Ms: l?.p50Ms ?? null, p99Ms: l?.p99Ms ?? null, maxMs: l?.maxMs ?? null, codes })}\n`);
await nextLine();
await Promise.all(terminals.map((t) => t.close()));
process.exit(0);
