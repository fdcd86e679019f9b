// `--json FILE` for every bench: the figures it prints, as one JSON object, with when and on what machine they
// were measured and the baseline measured beside them in the same run, so that figures from two machines or two
// days can be told apart and compared by a program rather than by reading terminal output. FILE "-" is stdout.
import { writeFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryMb: number;
  node: string;
  platform: string;
  /** 1, 5 and 15 minutes: other work on a shared machine skews every figure. */
  loadAverage: number[];
}

export interface BenchJson<Figures, Baseline> {
  bench: string;
  /** ISO time the figures were written. */
  at: string;
  machine: Machine;
  figures: Figures;
  baseline: Baseline;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** The FILE of `--json FILE` in `args`, or undefined when the flag is absent; throws in words when it has no FILE. */
export function jsonFileArg(args: string[]): string | undefined {
  const i = args.indexOf('--json');
  if (i < 0) return undefined;
  const file = args[i + 1];
  if (file === undefined || file === '' || (file.startsWith('--') && file !== '-')) throw new Error('--json needs a file to write the figures to ("-" for stdout)');
  return file;
}

/**
 * `--json FILE` of this process's arguments, read before a bench starts (a long bench must not fail on its
 * flag at the end): on a flag without a file it says so and exits 2, as the benches do for a bad setting.
 */
export function jsonFileOption(bench: string): string | undefined {
  try {
    return jsonFileArg(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${bench}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
}

export function benchJson<F, B>(bench: string, figures: F, baseline: B): BenchJson<F, B> {
  return { bench, at: new Date().toISOString(), machine: machine(), figures, baseline };
}

/** Writes the figures to `file` ("-": stdout) as one JSON object. */
export function writeBenchJson<F, B>(file: string, bench: string, figures: F, baseline: B): void {
  const text = `${JSON.stringify(benchJson(bench, figures, baseline), null, 2)}\n`;
  if (file === '-') process.stdout.write(text);
  else writeFileSync(file, text);
}
