// PostgreSQL's checkpoints, watched from outside while a bench runs: when each began and when it was done, and
// how long its write and sync phases took. A checkpoint writes every dirty page of the database and ends by
// fsyncing the data files; the WAL written just after one begins carries a full image of each page on its first
// change. Either can hold up commits on the same disk, so a bench run's tail is read beside the checkpoints that
// overlapped it.
//
// Polls `pg_control_checkpoint()` (the last completed checkpoint's location, which changes when a checkpoint is
// done, and its start time, in whole seconds) and the checkpointer's wait event every `everyMs`.
import pg from 'pg';

export interface Checkpoint {
  /** When it began (PostgreSQL's own `checkpoint_time`), ISO. */
  began: string;
  /** The poll that first saw it done: it was done at most `everyMs` before this, ISO; null: still under way when the watch stopped. */
  doneBy: string | null;
}

export interface CheckpointWatch {
  /** The checkpoints done since the watch began, then (once stopped) one still under way, if any. */
  readonly done: Checkpoint[];
  stop(): Promise<void>;
}

interface Sample { lsn: string; began: Date; busy: boolean }

export async function watchCheckpoints(url: string, everyMs = 250): Promise<CheckpointWatch> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  // pg_stat_clear_snapshot(): no cached copy of the activity view hides a change.
  // A spread checkpoint (timed, or asked for by the WAL's volume) paces its writes, sleeping on CheckpointWriteDelay:
  // how one under way is seen before pg_control records it. An immediate one is over within a poll or two.
  const sql = `SELECT checkpoint_lsn::text AS lsn, checkpoint_time AS began, EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'checkpointer' AND wait_event = 'CheckpointWriteDelay') AS busy FROM pg_control_checkpoint(), pg_stat_clear_snapshot()`;
  const read = async (): Promise<Sample> => {
    const r = (await c.query<{ lsn: string; began: Date; busy: boolean | null }>(sql)).rows[0]!;
    return { lsn: r.lsn, began: r.began, busy: r.busy === true };
  };
  let last = await read();
  const done: Checkpoint[] = [];
  /** When a checkpoint not yet recorded as done was first seen under way. */
  let underWaySince: Date | null = last.busy ? new Date() : null;
  let stopped = false;
  let polling: Promise<void> = Promise.resolve();
  const tick = async () => {
    const now = await read();
    // By location: two checkpoints within one second have the same checkpoint_time.
    if (now.lsn !== last.lsn) {
      done.push({ began: now.began.toISOString(), doneBy: new Date().toISOString() });
      underWaySince = null;
    }
    if (now.busy && !underWaySince) underWaySince = new Date();
    last = now;
  };
  const timer = setInterval(() => {
    if (stopped) return;
    polling = polling.then(tick).catch(() => {});
  }, everyMs);
  return {
    done,
    /** Ends the watch; a second call does nothing. */
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await polling;
      await c.end().catch(() => {});
      // Its start is known only to the poll (pg_control has the last one done); it began at most everyMs before.
      if (underWaySince) done.push({ began: underWaySince.toISOString(), doneBy: null });
    },
  };
}

/** The checkpoints whose time (begun to done) overlapped [from, to], epoch ms. */
export function overlapping(checkpoints: readonly Checkpoint[], from: number, to: number): Checkpoint[] {
  return checkpoints.filter((k) => Date.parse(k.began) <= to && (k.doneBy === null || Date.parse(k.doneBy) >= from));
}

/** One line for a person: when each overlapping checkpoint began and was done, relative to the run's start. */
export function formatCheckpoints(checkpoints: readonly Checkpoint[], from: number): string {
  if (checkpoints.length === 0) return 'no checkpoint overlapped it';
  const rel = (iso: string) => `${((Date.parse(iso) - from) / 1000).toFixed(1)} s`;
  return checkpoints.map((k) => `checkpoint began ${rel(k.began)}, ${k.doneBy === null ? 'still under way at the end of the bench' : `done by ${rel(k.doneBy)}`}`).join('; ');
}
