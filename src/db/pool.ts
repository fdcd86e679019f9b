// The Postgres pool. Per-pool type parsers (no global side effects on other pg users): int8 -> number
// (points and fen stay far below 2^53), date -> 'YYYY-MM-DD' string (no time-zone shifts).
import pg from 'pg';

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    if (oid === 1082) return (v: string) => v;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export function createPool(
  databaseUrl: string,
  options: { poolSize?: number; applicationName?: string; /** server settings for its sessions, e.g. `-c synchronous_commit=off` */ serverOptions?: string } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolSize ?? 16,
    application_name: options.applicationName ?? 'pointswitch',
    types: types as pg.CustomTypesConfig,
    ...(options.serverOptions ? { options: options.serverOptions } : {}),
  });
  // An idle client's error (server restart) must not crash the process; the pool drops that client.
  pool.on('error', () => {});
  return pool;
}

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * Runs `fn` in one transaction on a client of `pool`: committed when it returns, rolled back when it throws (and
 * the error passed on), the client released either way.
 */
export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
