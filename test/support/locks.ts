// How many sessions of a test's database wait for a lock: the event a test waits for when it holds a row and
// needs a request of the switch to be in flight behind it (a fixed sleep is outlasted on a busy machine).
import pg from 'pg';

export async function lockWaits(databaseUrl: string): Promise<number> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    return Number(rows[0].n);
  } finally {
    await c.end();
  }
}
