// `pointswitch audit`: recomputes balances from the entries and checks every ledger invariant; exits 1 on any problem.
import type { Command } from 'commander';
import { keepExitCode, withDatabaseUrl } from '../db/connect.js';
import { createPool } from '../db/pool.js';
import { audit, formatAudit } from '../ledger/audit.js';
import { commandConfig } from './settings.js';

export function register(program: Command): void {
  const cmd = program.command('audit')
    .description('recompute every balance from the ledger entries and check the double-entry invariants (exit 1 on a mismatch)');
  const configOf = commandConfig(cmd, ['databaseUrl', 'dataDir']);
  cmd.option('--json', 'print the report as JSON')
    .action(async (o: { json?: boolean }) => {
      const config = configOf(o);
      const report = await withDatabaseUrl(config, async (url) => {
        const pool = createPool(url, { poolSize: 1 });
        try { return await audit(pool); } finally { await pool.end(); }
      });
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatAudit(report)}\n`);
      if (!report.ok) keepExitCode(1);
    });
}
