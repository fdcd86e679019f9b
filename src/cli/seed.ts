// `pointswitch seed --demo [--load-terminals N --load-cards M]`: the demo merchants, terminals and cards (the
// simulator's defaults), plus load-test terminals and cards. Idempotent.
import type { Command } from 'commander';
import { keepExitCode, withDatabaseUrl } from '../db/connect.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { cliActor, recordAudit } from '../admin/audit-trail.js';
import { formatTable } from '../ledger/audit.js';
import { kekFromConfig } from '../ledger/kek.js';
import { seedDemo } from '../ledger/seed.js';
import { CliError } from './errors.js';
import { commandConfig } from './settings.js';

function refuse(message: string): CliError {
  keepExitCode(1);
  return new CliError(message);
}

function count(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || n > 9_999_999) throw refuse(`not a count between 0 and 9999999: ${v}`);
  return n;
}

export function register(program: Command): void {
  const cmd = program.command('seed')
    .description('create the demo merchants, terminals and cards (and load-test ones); existing rows are kept')
    .option('--demo', 'the demo data set (required: the only one there is)')
    .option('--load-terminals <n>', 'also terminals 90000001… (merchant 898310048160001)', count, 0)
    .option('--load-cards <n>', 'also cards 8861000000000001… with 10,000,000 points each', count, 0);
  const configOf = commandConfig(cmd, ['databaseUrl', 'dataDir', 'kekHex']);
  cmd.action(async (o: { demo?: boolean; loadTerminals: number; loadCards: number }) => {
    const config = configOf(o);
    if (!o.demo) throw refuse('say --demo (the demo data set is the only one)');
    const kek = kekFromConfig(config, (warning) => process.stderr.write(`seed: ${warning}\n`));
    const rows = await withDatabaseUrl(config, async (url) => {
      await migrate(url, { quiet: true });
      const pool = createPool(url, { poolSize: 2 });
      try {
        const made = await seedDemo(pool, kek, { loadTerminals: o.loadTerminals, loadCards: o.loadCards });
        // A change through the CLI, like every change, is in the audit trail (what was made, not the keys or cards).
        if (made.some((r) => r.made > 0)) await recordAudit(pool, cliActor(), { action: 'seed.demo', after: made });
        return made;
      } finally {
        await pool.end();
      }
    });
    process.stdout.write(`${formatTable(['what', 'made', 'already there'], rows.map((r) => [r.what, String(r.made), String(r.existing)]))}\n`);
  });
}
