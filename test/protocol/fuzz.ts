// `npm run fuzz [-- --inputs N --seed S]`: at least 1,000,000 random and mutated frame bodies through decode
// (and every 1,000th through the de-framer as a stream). Every input must end as a message that re-encodes to
// the same bytes or as a typed CodecError. Prints the seed first, a progress line, and a summary; exits 1 on
// any failure, printing the input so it can be added to test/protocol/corpus/.
import { runFuzz } from './fuzz-lib.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : process.env[`FUZZ_${name.toUpperCase()}`];
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

const seed = arg('seed', 8583);
const inputs = arg('inputs', 1_000_000);
process.stdout.write(`fuzz: seed ${seed} (replay: npm run fuzz -- --seed ${seed} --inputs ${inputs})\n`);
const started = Date.now();
let heapMaxBytes = 0;
const s = runFuzz({
  seed, inputs, progressEvery: 100_000,
  onProgress: (done, sum) => {
    heapMaxBytes = Math.max(heapMaxBytes, process.memoryUsage().heapUsed);
    const secs = (Date.now() - started) / 1000;
    process.stdout.write(`fuzz: ${done.toLocaleString('en-US')}/${inputs.toLocaleString('en-US')} inputs · ${sum.decodedOk.toLocaleString('en-US')} decoded · ${sum.failures.length} failures · ${secs.toFixed(1)}s\n`);
  },
});
heapMaxBytes = Math.max(heapMaxBytes, process.memoryUsage().heapUsed);
const secs = (Date.now() - started) / 1000;
const kinds = Object.entries(s.errors).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(', ');
process.stdout.write(
  `fuzz summary: seed ${seed} · ${s.inputs.toLocaleString('en-US')} inputs in ${secs.toFixed(1)}s (${Math.round(s.inputs / secs).toLocaleString('en-US')}/s)` +
  ` · decoded and re-encoded byte-exact ${s.decodedOk.toLocaleString('en-US')} · typed errors: ${kinds}` +
  ` · de-framer streams ${s.deframerStreams.toLocaleString('en-US')} · heap max ${(heapMaxBytes / 1048576).toFixed(0)} MiB` +
  ` · failures ${s.failures.length}\n`,
);
for (const f of s.failures) process.stdout.write(`FAIL ${f}\n`);
process.exitCode = s.failures.length === 0 && s.inputs >= inputs ? 0 : 1;
