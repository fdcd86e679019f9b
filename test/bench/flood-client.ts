// A bad client for `npm run bench:flood`, in a process of its own (as a client elsewhere would be): the
// simulator's flood (simulators/flood.ts, `pointswitch-sim flood`) from --from. Prints `ready` once set up
// (modules loaded, the one-card terminal signed on) and floods when a line comes on stdin, so the flood's start
// is not the process's start; then one JSON line: the flood's report.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { floodKinds, prepareFlood, type FloodKind } from '../../simulators/flood.js';

const { values: a } = parseArgs({ options: {
  port: { type: 'string' }, from: { type: 'string', default: '127.0.0.2' }, terminal: { type: 'string', default: '10000001' },
  card: { type: 'string', default: '8860000000000007' }, connections: { type: 'string', default: '160' },
  pipeline: { type: 'string', default: '32' }, seconds: { type: 'string', default: '6' },
  kind: { type: 'string', default: 'one-card' },
} });
if (!(floodKinds as readonly string[]).includes(a.kind!)) throw new Error(`--kind ${floodKinds.join(', ')}, not ${a.kind}`);
const flood = await prepareFlood({
  host: '127.0.0.1', port: Number(a.port), kind: a.kind as FloodKind, connections: Number(a.connections), pipeline: Number(a.pipeline),
  seconds: Number(a.seconds), localAddresses: a.from!.split(','), terminalId: a.terminal!, cardNo: a.card!,
});
process.stdout.write('ready\n');
await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
process.stdout.write(`${JSON.stringify(await flood.run())}\n`);
process.exit(0);
