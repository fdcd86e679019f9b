// Applies migrations/ (plain SQL files, `-- Up Migration` / `-- Down Migration`) with node-pg-migrate.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';

/** The repository's migrations folder, found from this file so it works from src/ (tsx) and dist/src/. */
export function migrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'migrations');
    if (path.basename(dir) !== 'src' && existsDir(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve('migrations');
}

import { statSync } from 'node:fs';
function existsDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

export interface MigrateOptions {
  quiet?: boolean;
  direction?: 'up' | 'down';
  /** How many migrations to apply (down: to undo). Default: all up, one down. */
  count?: number;
  log?: (line: string) => void;
}

/** Runs pending migrations; returns the names applied. Takes node-pg-migrate's advisory lock, so concurrent callers wait. */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  const log = options.quiet ? () => {} : (options.log ?? ((line: string) => process.stdout.write(`${line}\n`)));
  const direction = options.direction ?? 'up';
  // Our own client, ended and awaited here: node-pg-migrate closes one it made without waiting for the end, so
  // the connection could outlive the call (a test dropping its database WITH (FORCE) right after then got an
  // uncaught 57P01 on it).
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await runMigrations(client, options, log, direction);
  } finally {
    await client.end();
  }
}

async function runMigrations(client: pg.Client, options: MigrateOptions, log: (line: string) => void, direction: 'up' | 'down'): Promise<string[]> {
  const ran = await runner({
    dbClient: client,
    dir: migrationsDir(),
    migrationsTable: 'pgmigrations',
    direction,
    count: options.count ?? (direction === 'down' ? 1 : Infinity),
    singleTransaction: true,
    checkOrder: true,
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return ran.map((m) => m.name);
}
