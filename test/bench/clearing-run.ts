// The clearing run of bench:clearing, in a process of its own so that its peak memory is the run's alone:
// `clearing-run.ts --database-url URL --period YYYY-MM --out-dir DIR` calls runClearing once and prints one JSON
// line: how long it took, the process's peak RSS, when each step began, and the result. With `--idle` it loads the
// same modules and connects, and prints its peak RSS only: the process's own floor, the run's memory is above it.
import { runClearing, type RunResult } from '../../src/clearing/index.js';
import { createPool } from '../../src/db/pool.js';

export interface ClearingRunOutput {
  ms: number;
  peakRssMb: number;
  /** Each step the engine reported: when it was first reported (ms from the start), and the process's RSS and peak RSS then. */
  steps: Array<{ step: string; atMs: number; rssMb: number; peakRssMb: number }>;
  result: RunResult;
}

export const clearingOptions = { timeZone: 'Asia/Shanghai', graceDays: 1, terminalFeeFen: 2000 };

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const pool = createPool(arg('--database-url'), { poolSize: 4, applicationName: 'bench:clearing run' });
  const steps: ClearingRunOutput['steps'] = [];
  const started = performance.now();
  try {
    if (process.argv.includes('--idle')) {
      await pool.query('SELECT 1');
      process.stdout.write(`${JSON.stringify({ peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
      return;
    }
    const result = await runClearing(pool, {
      period: arg('--period'), outDir: arg('--out-dir'), actor: 'bench', options: clearingOptions,
      onProgress: (step) => {
        if (steps.at(-1)?.step === step) return;
        steps.push({ step, atMs: Math.round(performance.now() - started), rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
          peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
      },
    });
    const ms = performance.now() - started;
    const out: ClearingRunOutput = { ms, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), steps, result };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await pool.end();
  }
}

main().then(() => process.exit(0), (err) => { process.stderr.write(`clearing-run: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1); });
