// `npm run bench:codec`: encode+decode pairs per second on one core, for a typical purchase request in our
// codec and for the `iso_8583` npm package on the nearest ASCII equivalent, in the same run; then field 64 MACs
// per second through our table-driven DES and through OpenSSL. Prints figures (and writes them with
// `-- --json FILE`); asserts nothing about time.
import { readFileSync } from 'node:fs';
import iso8583 from 'iso_8583';
import { computeMac, decode, encode, MAC_BYTES, MTI_OFFSET } from '../../protocol/index.js';
import { opensslEcbMac } from '../protocol/openssl-des.js';
import { purchase } from '../protocol/messages.js';
import { jsonFileOption, writeBenchJson } from './json-out.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const jsonFile = jsonFileOption('bench:codec');
const targetPairsPerS = 300_000;
const iso8583Version = ((): string => {
  try {
    return (JSON.parse(readFileSync('node_modules/iso_8583/package.json', 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
})();

interface Rate { perCorePerS: number; wallPerS: number }

/**
 * Runs `pair` for `seconds` and returns pairs per CPU-second of this (single-threaded) process: "on one core",
 * and not depressed by other processes sharing the machine. The wall-clock rate is printed beside it.
 */
function measure(name: string, pair: () => unknown, unit = 'pairs'): Rate {
  for (let i = 0; i < 20_000; i++) pair(); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < until) {
    for (let i = 0; i < 1000; i++) pair();
    n += 1000;
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuRate = n / ((cpu.user + cpu.system) / 1e6);
  const wallRate = n / (Number(now - start) / 1e9);
  const fmt = (v: number) => Math.round(v).toLocaleString('en-US').padStart(10);
  process.stdout.write(`${name.padEnd(44)} ${fmt(cpuRate)} ${unit}/s per core (cpu time)  ${fmt(wallRate)} ${unit}/s wall\n`);
  return { perCorePerS: Math.round(cpuRate), wallPerS: Math.round(wallRate) };
}

// Ours: the purchase request of the POS set (2, 3, 4, 11, 14, 22, 25, 26, 35, 41, 42, 49, 52, 53, 60, 64).
const body = encode(purchase);
let sink = 0;
const ours = measure(`pointswitch protocol (${body.length}-byte body)`, () => {
  const r = decode(encode(purchase));
  if (!r.ok) throw r.error;
  sink += r.message.mti.length;
});

// iso_8583: the same fields as ASCII (its default profile), 53 as n16 and 64 as 16 hex characters.
const data: Record<number, string> = { 0: '0200' };
for (const [f, v] of Object.entries(purchase.fields)) data[Number(f)] = typeof v === 'string' ? v : v!.toString('hex').toUpperCase();
data[64] = Buffer.from(purchase.fields[64] as Buffer).toString('hex').toUpperCase().padEnd(16, '0');
const custom = {
  53: { ContentType: 'n', Label: 'Security related control information', LenType: 'fixed', MaxLen: 16 },
  64: { ContentType: 'b', Label: 'MAC', LenType: 'fixed', MaxLen: 16 },
};
const check = new iso8583(undefined, custom).getIsoJSON(new iso8583(data, custom).getBufferMessage(), custom);
if (check.error || check['2'] !== data[2]) throw new Error(`iso_8583 round trip failed: ${JSON.stringify(check)}`);
const theirs = measure(`iso_8583 ${iso8583Version} (ASCII equivalent)`.replace('  ', ' '), () => {
  const wire = new iso8583(data, custom).getBufferMessage();
  const r = new iso8583(undefined, custom).getIsoJSON(wire, custom);
  sink += (r['0'] as string).length;
});

const pairRatio = ours.perCorePerS / theirs.perCorePerS;
process.stdout.write(`encode+decode pairs; ratio ${pairRatio.toFixed(1)}x · target >= ${targetPairsPerS.toLocaleString('en-US')} pairs/s: ${ours.perCorePerS >= targetPairsPerS ? 'met' : 'NOT met'} · node ${process.version} · ${seconds}s each (sink ${sink > 0})\n`);

// The field 64 MAC (ECB algorithm, double-length MAK) of the same purchase, through our table-driven DES and
// through OpenSSL (node:crypto, one cipher per key kept and reused, as the switch did before), in this run.
const mak = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
const mab = body.subarray(MTI_OFFSET, body.length - MAC_BYTES);
if (!opensslEcbMac(mak, mab).equals(computeMac('ecb', mak, mab))) throw new Error('the two MACs differ');
const macOurs = measure(`MAC ecb, table-driven DES (${mab.length}-byte MAB)`, () => { sink += computeMac('ecb', mak, mab)[0]!; }, 'MACs');
const macOpenssl = measure('MAC ecb, OpenSSL des-ede3 (cipher kept per key)', () => { sink += opensslEcbMac(mak, mab)[0]!; }, 'MACs');
const macRatio = macOurs.perCorePerS / macOpenssl.perCorePerS;
process.stdout.write(`MACs; ratio ${macRatio.toFixed(1)}x (four a purchase: the terminal's, the switch's check, the answer's, the terminal's check)\n`);

if (jsonFile) {
  const round1 = (x: number) => Math.round(x * 10) / 10;
  writeBenchJson(jsonFile, 'bench:codec', {
    secondsEach: seconds,
    pairs: { codec: 'pointswitch protocol/', message: `purchase request, ${body.length}-byte body`, ...ours, targetPerCorePerS: targetPairsPerS, targetMet: ours.perCorePerS >= targetPairsPerS, ratioToBaseline: round1(pairRatio) },
    macs: { mac: 'ecb, table-driven DES (protocol/des.ts)', mabBytes: mab.length, ...macOurs, ratioToBaseline: round1(macRatio) },
  }, {
    pairs: { codec: `iso_8583 ${iso8583Version}`.trim(), message: 'the same fields in its ASCII profile', ...theirs },
    macs: { mac: 'ecb, OpenSSL des-ede3 through node:crypto, one cipher kept per key', ...macOpenssl },
  });
}
