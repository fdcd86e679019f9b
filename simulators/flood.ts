// `pointswitch-sim flood`: a bad client, to see what the switch's limits do with it (and `npm run bench:flood`'s
// flood). `connections` connections, each pipelining `pipeline` purchases for `seconds`, the next sent as soon
// as one is answered. The kind says whose:
//   one-card  one terminal (`terminalId`), signed on, all on one card (`cardNo`): the card gate (65) and the
//             terminal's rate budget;
//   strangers a new terminal number with each purchase, none known to the switch (97): the refusal budget;
//   bad-mac   the seeded load terminals' numbers (90000001…, `keylessTerminals` of them) without their keys:
//             A0 for those signed on (by a load run), 97 for the others; the refusal budget.
//   sign-on   sign-ons (they carry no MAC) for the same load terminals' numbers: answered 00, each issuing the
//             terminal named new working keys, which its real holder cannot read; the keys it proved are kept.
import { encode } from '../protocol/index.js';
import { loadTerminalId } from './demo.js';
import { Link } from './link.js';
import * as m from './messages.js';
import { Terminal } from './terminal.js';

export const floodKinds = ['one-card', 'strangers', 'bad-mac', 'sign-on'] as const;
export type FloodKind = typeof floodKinds[number];

export interface FloodOptions {
  host: string;
  port: number;
  kind: FloodKind;
  connections: number;
  pipeline: number;
  seconds: number;
  /** The client addresses to connect from, the connections spread over them in turn; default any. */
  localAddresses?: readonly string[];
  /** bad-mac: how many load terminal numbers to cycle through (default 64). */
  keylessTerminals?: number;
  /** one-card: the terminal and the card. */
  terminalId?: string;
  cardNo?: string;
  /** Called once a second with the running count. */
  onProgress?: (p: { elapsedS: number; answered: number; perS: number }) => void;
}

export interface FloodReport {
  kind: FloodKind;
  connections: number;
  pipeline: number;
  seconds: number;
  answered: number;
  /** Answers a second over the whole run, the drain after the last second included. */
  perS: number;
  /** Response codes (39), or how a request went unanswered (timeout, closed …). */
  codes: Record<string, number>;
  maxLatencyMs: number;
}

/** A flood, ready to go: `prepare` signs the one-card terminal on; `run` floods. */
export async function prepareFlood(o: FloodOptions): Promise<{ run: () => Promise<FloodReport> }> {
  const terminal = (terminalId: string) => new Terminal({
    host: o.host, port: o.port, terminalId, timeoutMs: 60_000, stateFile: null,
    ...(o.localAddresses?.[0] ? { localAddress: o.localAddresses[0] } : {}),
  });
  const own = terminal(o.terminalId ?? '10000001');
  if (o.kind === 'one-card') {
    const r = await own.signOn();
    if (!r.approved) throw new Error(`flood terminal ${own.terminalId} could not sign on: ${r.responseCode ?? r.outcome} ${r.meaning}`);
  }
  const keyless = Array.from({ length: o.keylessTerminals ?? 64 }, (_, i) => terminal(loadTerminalId(i + 1)));
  let turn = 0;
  /** Whose request goes next. Only the one-card terminal is signed on: the others seal under a key not theirs. */
  const sender = (): Terminal => o.kind === 'one-card' ? own
    : o.kind === 'bad-mac' || o.kind === 'sign-on' ? keyless[turn++ % keyless.length]!
    : terminal(String(70_000_000 + Math.floor(Math.random() * 10_000_000)));
  const cardNo = o.cardNo ?? '8860000000000007';

  return {
    run: async () => {
      const codes: Record<string, number> = {};
      let answered = 0;
      let maxLatencyMs = 0;
      const started = Date.now();
      const end = started + o.seconds * 1000;
      const ticker = o.onProgress ? setInterval(() => {
        const elapsedS = (Date.now() - started) / 1000;
        o.onProgress!({ elapsedS, answered, perS: Math.round(answered / elapsedS) });
      }, 1000) : null;
      try {
        const from = o.localAddresses ?? [];
        await Promise.all(Array.from({ length: o.connections }, async (_, i) => {
          const link = await Link.connect(o.host, o.port, 10_000, from.length > 0 ? from[i % from.length] : undefined);
          await Promise.all(Array.from({ length: o.pipeline }, async () => {
            while (Date.now() < end && !link.isClosed) {
              const who = sender();
              const ctx = who.context();
              const body = o.kind === 'sign-on' ? encode(m.signOn(ctx)) : who.seal(m.purchase(ctx, { cardNo, expiry: '3012' }, 100));
              const r = await link.request(body, 60_000, ctx.trace);
              const code = r.kind === 'answer' ? String(r.message.fields[39]) : r.kind;
              codes[code] = (codes[code] ?? 0) + 1;
              answered++;
              if (r.kind === 'answer') maxLatencyMs = Math.max(maxLatencyMs, r.latencyMs);
            }
          }));
          await link.close();
        }));
      } finally {
        if (ticker) clearInterval(ticker);
        await own.close();   // its sign-on's connection
      }
      const elapsedS = (Date.now() - started) / 1000;
      return {
        kind: o.kind, connections: o.connections, pipeline: o.pipeline, seconds: o.seconds, answered,
        perS: Math.round(answered / elapsedS), codes, maxLatencyMs: Math.round(maxLatencyMs),
      };
    },
  };
}

export function formatFloodReport(r: FloodReport): string {
  return [
    `flood ${r.kind}: ${r.connections} connections × ${r.pipeline} pipelined, ${r.seconds} s`,
    `  answered        ${r.answered} (${r.perS}/s, the drain after the last second included)`,
    `  codes           ${Object.entries(r.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ') || '-'}`,
    `  slowest answer  ${r.maxLatencyMs} ms`,
  ].join('\n');
}
