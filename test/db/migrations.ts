// The versioned migrations in migrations/, by name, in order (what node-pg-migrate applies).
import { readdirSync } from 'node:fs';
import { migrationsDir } from '../../src/db/migrate.js';

export function migrationNames(): string[] {
  return readdirSync(migrationsDir()).filter((f) => /^\d+_.*\.sql$/.test(f)).map((f) => f.replace(/\.sql$/, '')).sort();
}
