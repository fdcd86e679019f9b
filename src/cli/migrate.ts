// `pointswitch migrate`: applies the SQL migrations in migrations/ (node-pg-migrate).
import type { Command } from 'commander';
import { keepExitCode, withDatabaseUrl } from '../db/connect.js';
import { migrate } from '../db/migrate.js';
import { CliError } from './errors.js';
import { commandConfig } from './settings.js';

export function register(program: Command): void {
  const cmd = program.command('migrate')
    .description('apply pending database migrations (migrations/*.sql); --down undoes the last one');
  const configOf = commandConfig(cmd, ['databaseUrl', 'dataDir']);
  cmd.option('--down', 'undo the most recent migration')
    .option('--steps <n>', 'with --down: how many migrations to undo, or "all" (default 1)')
    .action(async (o: { down?: boolean; steps?: string }) => {
      const config = configOf(o);
      const count = steps(o);
      try {
        const ran = await withDatabaseUrl(config, (url) => migrate(url, { quiet: true, direction: o.down ? 'down' : 'up', ...(count ? { count } : {}) }));
        process.stdout.write(ran.length === 0 ? 'migrate: the database is up to date\n'
          : `migrate: ${o.down ? 'undid' : 'applied'} ${ran.join(', ')}\n`);
      } catch (err) {
        keepExitCode(1);
        throw new CliError(`migrate failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
}

function steps(o: { down?: boolean; steps?: string }): number | undefined {
  if (o.steps === undefined) return undefined;
  if (!o.down) throw new CliError('--steps goes with --down', 2);
  if (o.steps === 'all') return Infinity;
  if (!/^[1-9]\d{0,5}$/.test(o.steps)) throw new CliError(`--steps takes a whole number from 1, or "all" (got "${o.steps}")`, 2);
  return Number(o.steps);
}
