// The accrual feed's book-keeping: a feed is opened, its lines are credited a chunk at a time (one set-based SQL
// call per chunk: src/ledger/sql/ps_accrue_set.sql), lines that credited nothing are kept with their outcome, and the
// feed's counters are summed as it goes. Every line is idempotent by its key, so a feed cut short is simply sent
// again: what was credited says "already credited" the second time.
import { inTransaction, type Pool } from '../db/pool.js';

export type AccrualOutcome = 'credited' | 'already-credited' | 'conflict' | 'unknown-card' | 'bad-line';

/** A line that passed validation: points already worked out (given, or earned on amountFen). */
export interface AccrualLine { lineNo: number; key: string; cardNo: string; points: number; amountFen: number | null; qualifying: boolean }
/** A line refused before it reached the ledger, and why. */
export interface BadLine { lineNo: number; key: string | null; cardNo: string | null; reason: string }
export interface LineResult { lineNo: number; outcome: AccrualOutcome; reason?: string; balanceAfter?: number }

export interface FeedSummary {
  feedId: number; state: 'running' | 'done' | 'failed'; source: 'json' | 'csv'; name: string | null; actor: string;
  receivedAt: string; finishedAt: string | null; lines: number; credited: number; alreadyCredited: number; conflicts: number;
  badLines: number; unknownCards: number; pointsCredited: number; failure: string | null;
}

/** A card's state after a commit, for the cache. */
export interface CardAfter { cardNo: string; version: number; balance: number }

type SqlRow = { line_no: number; outcome: string; balance_after: string | null; card_version: string | null };

/** How often a chunk that met a key stored meanwhile is run again (the key is then judged against what was stored). */
const retriesMax = 3;

export class AccrualBook {
  constructor(private readonly pool: Pool, private readonly cardsChanged: (cards: CardAfter[]) => Promise<void>) {}

  async open(o: { keyId: number | null; actor: string; source: 'json' | 'csv'; name: string | null }): Promise<number> {
    const { rows } = await this.pool.query<{ feed_id: string }>(
      'INSERT INTO accrual_feeds (key_id, actor, source, name) VALUES ($1, $2, $3, $4) RETURNING feed_id',
      [o.keyId, o.actor, o.source, o.name]);
    return Number(rows[0]!.feed_id);
  }

  async finish(feedId: number, failure: string | null = null): Promise<FeedSummary> {
    await this.pool.query(
      `UPDATE accrual_feeds SET state = $2, failure = $3, finished_at = now() WHERE feed_id = $1`,
      [feedId, failure ? 'failed' : 'done', failure]);
    return (await this.summary(feedId))!;
  }

  /**
   * Credits one chunk (lines in line order, any size the caller chose) and records every outcome, in one
   * transaction. A key a plain credit stored meanwhile fails the chunk whole; it is run again, and the key is then
   * judged against what was stored.
   */
  async credit(feedId: number, lines: AccrualLine[], bad: BadLine[]): Promise<LineResult[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.creditOnce(feedId, lines, bad);
      } catch (err) {
        const e = err as { code?: unknown; constraint?: unknown };
        if (attempt >= retriesMax || e.code !== '23505' || e.constraint !== 'credits_pkey') throw err;
      }
    }
  }

  private async creditOnce(feedId: number, lines: AccrualLine[], bad: BadLine[]): Promise<LineResult[]> {
    const byLine = new Map(lines.map((l) => [l.lineNo, l]));
    const changed = new Map<string, CardAfter>();
    const results: LineResult[] = bad.map((b) => ({ lineNo: b.lineNo, outcome: 'bad-line', reason: b.reason }));
    await inTransaction(this.pool, async (c) => {
      const { rows } = lines.length === 0 ? { rows: [] as SqlRow[] } : await c.query<SqlRow>(
        'SELECT * FROM ps_accrue_set($1, $2::int[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[])',
        [feedId, lines.map((l) => l.lineNo), lines.map((l) => l.key), lines.map((l) => l.cardNo), lines.map((l) => l.points),
          lines.map((l) => l.amountFen), lines.map((l) => l.qualifying)]);
      const exceptions: Array<{ line: AccrualLine | BadLine; outcome: AccrualOutcome; points: number | null; reason: string | null }> = [];
      const n = { credited: 0, already: 0, conflicts: 0, unknown: 0, points: 0 };
      for (const r of rows) {
        const line = byLine.get(r.line_no)!;
        const outcome = r.outcome as AccrualOutcome;
        const result: LineResult = { lineNo: r.line_no, outcome };
        if (outcome === 'credited') {
          n.credited++;
          n.points += line.points;
          result.balanceAfter = Number(r.balance_after);
          changed.set(line.cardNo, { cardNo: line.cardNo, version: Number(r.card_version), balance: Number(r.balance_after) });
        } else {
          if (outcome === 'already-credited') n.already++;
          else if (outcome === 'conflict') { n.conflicts++; result.reason = 'this key was credited before with a different card, amount or kind'; }
          else if (outcome === 'unknown-card') n.unknown++;
          exceptions.push({ line, outcome, points: line.points, reason: result.reason ?? null });
        }
        results.push(result);
      }
      for (const b of bad) exceptions.push({ line: b, outcome: 'bad-line', points: null, reason: b.reason });
      if (exceptions.length > 0) {
        await c.query(
          `INSERT INTO accrual_exceptions (feed_id, line_no, idempotency_key, card_no, points, outcome, reason)
           SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])`,
          [feedId, exceptions.map((e) => e.line.lineNo), exceptions.map((e) => e.line.key), exceptions.map((e) => e.line.cardNo),
            exceptions.map((e) => e.points), exceptions.map((e) => e.outcome), exceptions.map((e) => e.reason)]);
      }
      await c.query(
        `UPDATE accrual_feeds SET lines = lines + $2, credited = credited + $3, already = already + $4, conflicts = conflicts + $5,
                bad = bad + $6, unknown_cards = unknown_cards + $7, points_credited = points_credited + $8 WHERE feed_id = $1`,
        [feedId, lines.length + bad.length, n.credited, n.already, n.conflicts, bad.length, n.unknown, n.points]);
    });
    if (changed.size > 0) await this.cardsChanged([...changed.values()]);
    return results.sort((a, b) => a.lineNo - b.lineNo);
  }

  async summary(feedId: number): Promise<FeedSummary | null> {
    const { rows } = await this.pool.query('SELECT * FROM accrual_feeds WHERE feed_id = $1', [feedId]);
    return rows[0] ? toSummary(rows[0]) : null;
  }

  async list(limit: number, before: number | null): Promise<FeedSummary[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM accrual_feeds WHERE ($2::bigint IS NULL OR feed_id < $2) ORDER BY feed_id DESC LIMIT $1', [limit, before]);
    return rows.map(toSummary);
  }

  /** A feed's line results in line order, `pageLines` at a time (memory does not grow with the feed). */
  async *results(feedId: number, pageLines = 10_000): AsyncGenerator<Array<{ lineNo: number; key: string | null; cardNo: string | null; points: number | null; outcome: AccrualOutcome; reason: string | null }>> {
    let after = 0;
    for (;;) {
      const { rows } = await this.pool.query(
        `SELECT line_no, idempotency_key, card_no, points, outcome, reason FROM (
           SELECT line_no, idempotency_key, card_no, points, 'credited' AS outcome, NULL AS reason FROM credits WHERE feed_id = $1 AND line_no > $2
           UNION ALL
           SELECT line_no, idempotency_key, card_no, points, outcome, reason FROM accrual_exceptions WHERE feed_id = $1 AND line_no > $2
         ) x ORDER BY line_no LIMIT $3`, [feedId, after, pageLines]);
      if (rows.length === 0) return;
      yield rows.map((r) => ({
        lineNo: r.line_no, key: r.idempotency_key, cardNo: r.card_no, points: r.points === null ? null : Number(r.points),
        outcome: r.outcome as AccrualOutcome, reason: r.reason,
      }));
      after = rows[rows.length - 1].line_no;
    }
  }
}

function toSummary(r: Record<string, unknown>): FeedSummary {
  const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : null);
  return {
    feedId: Number(r.feed_id), state: r.state as FeedSummary['state'], source: r.source as FeedSummary['source'], name: (r.name as string | null) ?? null,
    actor: String(r.actor), receivedAt: iso(r.received_at)!, finishedAt: iso(r.finished_at), lines: Number(r.lines), credited: Number(r.credited),
    alreadyCredited: Number(r.already), conflicts: Number(r.conflicts), badLines: Number(r.bad), unknownCards: Number(r.unknown_cards),
    pointsCredited: Number(r.points_credited), failure: (r.failure as string | null) ?? null,
  };
}
