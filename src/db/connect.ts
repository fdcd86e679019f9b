// For one-shot commands (migrate, audit, seed): the database of DATABASE_URL / --database-url, else the embedded
// PostgreSQL in the data directory that `pointswitch start` uses (started for the command and stopped after).
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startEmbeddedPostgres } from './embedded.js';

export async function withDatabaseUrl<T>(o: { databaseUrl?: string | undefined; dataDir?: string | undefined }, fn: (url: string) => Promise<T>): Promise<T> {
  const url = o.databaseUrl ?? process.env.DATABASE_URL;
  if (url) return fn(url);
  const dataDir = path.resolve(o.dataDir ?? process.env.POINTSWITCH_DATA_DIR ?? './.data', 'pg');
  await mkdir(path.dirname(dataDir), { recursive: true });
  await chmod(path.dirname(dataDir), 0o755).catch(() => {});
  const pg = await startEmbeddedPostgres({ dataDir });
  try {
    return await fn(pg.url);
  } finally {
    await pg.stop();
  }
}
