// `pointswitch audit`: recomputes balances from the entries and checks every ledger invariant; exits 1 on any problem.
import type { Command } from 'commander';
import { keepExitCode, withDatabaseUrl } from '../db/connect.js';
import { createPool } from '../db/pool.js';
import { audit, formatAudit } from '../ledger/audit.js';

export function register(program: Command): void {
  program.command('audit')
    .description('recompute every balance from the ledger entries and check the double-entry invariants (exit 1 on a mismatch)')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL, else the embedded PostgreSQL in the data directory)')
    .option('--data-dir <dir>', 'data directory of the embedded PostgreSQL')
    .option('--json', 'print the report as JSON')
    .action(async (o: { databaseUrl?: string; dataDir?: string; json?: boolean }) => {
      const report = await withDatabaseUrl(o, async (url) => {
        const pool = createPool(url, { poolSize: 1 });
        try { return await audit(pool); } finally { await pool.end(); }
      });
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatAudit(report)}\n`);
      if (!report.ok) keepExitCode(1);
    });
}
