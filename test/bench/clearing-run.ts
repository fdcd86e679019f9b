// The clearing run of bench:clearing, in a process of its own so that its peak memory is the run's alone:
// `clearing-run.ts --database-url URL --period YYYY-MM --out-dir DIR` calls runClearing once and prints one JSON
// line: how long it took, the process's peak RSS, when each step began, and the result.
import { createPool } from '../../src/db/pool.js';

/** The engine's API (src/clearing/index.ts), as the contract states it. */
interface RunClearing {
  (pool: ReturnType<typeof createPool>, o: {
    period: string; outDir?: string; actor: string; options: { timeZone: string; graceDays: number; terminalFeeFen: number };
    onProgress?: (step: string, done: number, total: number) => void; now?: Date;
  }): Promise<{ runId: number; period: string; provisional: boolean; outDir: string | null; summary: unknown;
    files: { name: string; sha256: string; rows: number; bytes: number }[]; sameAsClosed?: boolean }>;
}

export interface ClearingRunOutput {
  ms: number;
  peakRssMb: number;
  /** Each step the engine reported, with the milliseconds from the start when it was first reported. */
  steps: Array<{ step: string; atMs: number }>;
  result: Awaited<ReturnType<RunClearing>>;
}

export const clearingOptions = { timeZone: 'Asia/Shanghai', graceDays: 1, terminalFeeFen: 2000 };

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const engine = '../../src/clearing/index.js';
  const { runClearing } = (await import(engine)) as { runClearing: RunClearing };
  const pool = createPool(arg('--database-url'), { poolSize: 4, applicationName: 'bench:clearing run' });
  const steps: ClearingRunOutput['steps'] = [];
  const started = performance.now();
  try {
    const result = await runClearing(pool, {
      period: arg('--period'), outDir: arg('--out-dir'), actor: 'bench', options: clearingOptions,
      onProgress: (step) => { if (steps.at(-1)?.step !== step) steps.push({ step, atMs: Math.round(performance.now() - started) }); },
    });
    const ms = performance.now() - started;
    const out: ClearingRunOutput = { ms, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), steps, result };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await pool.end();
  }
}

main().then(() => process.exit(0), (err) => { process.stderr.write(`clearing-run: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1); });
