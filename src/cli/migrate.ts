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
    .action(async (o: { down?: boolean }) => {
      const config = configOf(o);
      try {
        const ran = await withDatabaseUrl(config, (url) => migrate(url, { quiet: true, direction: o.down ? 'down' : 'up' }));
        process.stdout.write(ran.length === 0 ? 'migrate: the database is up to date\n'
          : `migrate: ${o.down ? 'undid' : 'applied'} ${ran.join(', ')}\n`);
      } catch (err) {
        keepExitCode(1);
        throw new CliError(`migrate failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
}
