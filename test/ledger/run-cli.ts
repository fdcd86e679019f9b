// Runs the pointswitch CLI in a child process and captures its output and exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface RunningCli {
  child: ChildProcess;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** How it ended: an exit code, or the signal that killed it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `pointswitch <args>` from source; `env` is added to this process's (DATABASE_URL unset unless given). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/ledger/cli-entry.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: '', ...env },
  });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, output: () => ({ stdout, stderr }), exited };
}

export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = spawnCli(args);
  const { code } = await run.exited;
  return { code: code ?? 1, ...run.output() };
}
