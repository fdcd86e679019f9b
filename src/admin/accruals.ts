// /accruals: the issuer's billing system feeds points. Up to 5,000 lines as JSON (the reply gives each line's
// outcome), or a CSV file of any size streamed (lines are parsed and credited a chunk at a time, so memory does not
// grow with the file; the reply sums it up and names the result CSV, which gives every line's outcome). Every line
// is idempotent by its key: sending a line or a file again credits nothing twice.
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { maskPan } from '../../protocol/mask.js';
import type { Pool } from '../db/pool.js';
import { earnedPoints } from '../ledger/points.js';
import type { AccrualBook, AccrualLine, BadLine, FeedSummary } from '../ledger/accruals.js';
import { recordAudit } from './audit-trail.js';
import { HttpProblem, loggable } from './problem.js';

/** Lines credited per SQL call (and per transaction). */
export const accrualChunkLines = 5_000;
export const jsonLinesMax = 5_000;

export interface EarningRule {
  /** Points earned per yuan billed (earnedPoints: a fraction of a point is not credited). */
  pointsPerYuan: number;
}

const keyPattern = /^[\x21-\x7e]{1,100}$/;
const cardPattern = /^\d{12,19}$/;
const pointsMax = 1_000_000_000;
const amountFenMax = 1_000_000_000_000;

/** A raw line (JSON object or CSV record) checked: a line for the ledger, or a bad line with its reason. */
export function checkLine(raw: Record<string, unknown>, lineNo: number, rule: EarningRule): AccrualLine | BadLine {
  const str = (v: unknown) => (v === undefined || v === null ? '' : String(v).trim());
  const key = str(raw.key);
  const cardNo = str(raw.cardNo ?? raw.card_no);
  const pointsText = str(raw.points);
  const amountText = str(raw.amountFen ?? raw.amount_fen);
  const bad = (reason: string): BadLine => ({ lineNo, key: key === '' ? null : key.slice(0, 100), cardNo: cardPattern.test(cardNo) ? cardNo : null, reason });
  const known = new Set(['key', 'cardNo', 'card_no', 'points', 'amountFen', 'amount_fen', 'qualifying']);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  if (unknown.length > 0) return bad(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  if (!keyPattern.test(key)) return bad('key: 1 to 100 printable characters, no spaces');
  if (!cardPattern.test(cardNo)) return bad('card_no: a card number is 12 to 19 digits');
  if ((pointsText === '') === (amountText === '')) return bad('give either points or amount_fen, not both and not neither');
  let points: number;
  let amountFen: number | null = null;
  if (pointsText !== '') {
    if (!/^\d{1,10}$/.test(pointsText) || Number(pointsText) < 1 || Number(pointsText) > pointsMax) return bad(`points: a whole number from 1 to ${pointsMax}`);
    points = Number(pointsText);
  } else {
    if (!/^\d{1,13}$/.test(amountText) || Number(amountText) > amountFenMax) return bad(`amount_fen: a whole number of fen from 0 to ${amountFenMax}`);
    amountFen = Number(amountText);
    points = earnedPoints(amountFen, rule.pointsPerYuan);
    if (points < 1) return bad(`amount_fen: ${amountFen} fen earns no whole point at ${rule.pointsPerYuan} a yuan`);
  }
  const q = str(raw.qualifying).toLowerCase();
  if (!['', 'true', 'false', '1', '0', 'yes', 'no'].includes(q)) return bad('qualifying: true or false');
  return { lineNo, key, cardNo, points, amountFen, qualifying: ['true', '1', 'yes'].includes(q) };
}

const isBad = (l: AccrualLine | BadLine): l is BadLine => 'reason' in l;

const Summary = z.object({
  feedId: z.number().int(), state: z.enum(['running', 'done', 'failed']), source: z.enum(['json', 'csv']), name: z.string().nullable(),
  actor: z.string(), receivedAt: z.string(), finishedAt: z.string().nullable(), lines: z.number().int(), credited: z.number().int(),
  alreadyCredited: z.number().int(), conflicts: z.number().int(), badLines: z.number().int(), unknownCards: z.number().int(),
  pointsCredited: z.number().int(), failure: z.string().nullable(),
  resultCsv: z.string().describe('where each line\'s outcome can be downloaded'),
});
const outcome = z.enum(['credited', 'already-credited', 'conflict', 'unknown-card', 'bad-line']);
const JsonFeed = z.strictObject({
  name: z.string().max(200).optional().describe('the feed\'s name in lists and the audit trail'),
  lines: z.array(z.record(z.string(), z.unknown())).min(1).max(jsonLinesMax)
    .describe('each { key, cardNo, points | amountFen, qualifying? }; a line that is not valid is answered bad-line with its reason'),
});
const JsonReply = z.object({
  feed: Summary,
  lines: z.array(z.object({ line: z.number().int(), key: z.string().nullable(), outcome, reason: z.string().optional(), balanceAfter: z.number().int().optional() })),
});
const FeedParams = z.object({ feedId: z.coerce.number().int().min(1) });
const CsvQuery = z.strictObject({ name: z.string().max(200).optional() });
const ListQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100), before: z.coerce.number().int().min(1).optional() });

export const accrualsPlugin: FastifyPluginAsyncZod<{ book: AccrualBook; rule: EarningRule; pool: Pool }> = async (app, { book, rule, pool }) => {
  const tags = ['accruals'];
  const billing = { access: { roles: ['billing'] as const } };
  const withUrl = (s: FeedSummary) => ({ ...s, resultCsv: `/accruals/feeds/${s.feedId}/result.csv` });

  app.post('/', {
    config: billing,
    schema: { tags, summary: `Credit up to ${jsonLinesMax} lines; the reply gives each line's outcome`, body: JsonFeed, response: { 200: JsonReply } },
  }, async (req) => {
    const p = req.principal!;
    const feedId = await book.open({ keyId: p.keyId, actor: `key:${p.name}`, source: 'json', name: req.body.name ?? null });
    const checked = req.body.lines.map((raw, i) => checkLine(raw, i + 1, rule));
    const keys = new Map(checked.map((l) => [l.lineNo, l.key]));
    const results = [];
    try {
      for (let i = 0; i < checked.length; i += accrualChunkLines) {
        const chunk = checked.slice(i, i + accrualChunkLines);
        results.push(...await book.credit(feedId, chunk.filter((l): l is AccrualLine => !isBad(l)), chunk.filter(isBad)));
      }
    } catch (err) {
      // The chunks credited so far stay credited (each line idempotent): the feed says it stopped, and why.
      await book.finish(feedId, `the feed stopped: ${loggable(err).message}`);
      throw err;
    }
    const feed = await book.finish(feedId);
    await recordAudit(pool, p, { action: 'accruals.feed', subject: String(feedId), after: feedTrail(feed) });
    return {
      feed: withUrl(feed),
      lines: results.map((r) => ({ line: r.lineNo, key: keys.get(r.lineNo) ?? null, outcome: r.outcome, ...(r.reason ? { reason: r.reason } : {}), ...(r.balanceAfter !== undefined ? { balanceAfter: r.balanceAfter } : {}) })),
    };
  });

  // A CSV body is handed over as the request's stream, not read into memory.
  app.addContentTypeParser('text/csv', (_req, payload, done) => done(null, payload));
  app.post('/csv', {
    config: billing,
    bodyLimit: Number.MAX_SAFE_INTEGER,
    schema: {
      tags, summary: 'Credit a CSV file of any size (header: key,card_no,points,amount_fen,qualifying), streamed',
      description: 'Send it as Content-Type: text/csv. The reply sums the feed up; GET its resultCsv for each line\'s outcome. A line the parser cannot read is a bad line and the feed goes on; a bad header stops it (422).',
      querystring: CsvQuery, response: { 200: Summary, 422: Summary },
    },
  }, async (req, reply) => {
    if (!(req.body instanceof Readable)) throw new HttpProblem(415, 'Unsupported Media Type', 'send the file as Content-Type: text/csv');
    const p = req.principal!;
    const feedId = await book.open({ keyId: p.keyId, actor: `key:${p.name}`, source: 'csv', name: req.query.name ?? null });
    let failure: string | null = null;
    try {
      await creditCsv(book, feedId, req.body, rule);
    } catch (err) {
      // A fault of the switch (not of the file): the feed says it stopped, and the request fails as a 500.
      if (!(err instanceof CsvLineError)) {
        await book.finish(feedId, `the feed stopped: ${loggable(err).message}`);
        throw err;
      }
      failure = err.message;
    }
    const feed = await book.finish(feedId, failure);
    await recordAudit(pool, p, { action: 'accruals.feed', subject: String(feedId), after: feedTrail(feed) });
    if (failure) reply.code(422);
    return withUrl(feed);
  });

  app.get('/feeds', { config: billing, schema: { tags, summary: 'Feeds received, newest first', querystring: ListQuery, response: { 200: z.array(Summary) } } },
    async (req) => (await book.list(req.query.limit, req.query.before ?? null)).map(withUrl));
  app.get('/feeds/:feedId', { config: billing, schema: { tags, summary: 'One feed\'s summary', params: FeedParams, response: { 200: Summary } } }, async (req) => {
    const s = await book.summary(req.params.feedId);
    if (!s) throw new HttpProblem(404, 'Not Found', `feedId: no feed ${req.params.feedId}`);
    return withUrl(s);
  });
  app.get('/feeds/:feedId/result.csv', {
    config: billing,
    schema: { tags, summary: 'Each line\'s outcome as CSV (line,key,card_no masked,points,outcome,reason), streamed', params: FeedParams },
  }, async (req, reply) => {
    if (!(await book.summary(req.params.feedId))) throw new HttpProblem(404, 'Not Found', `feedId: no feed ${req.params.feedId}`);
    const out = stringify({ header: true, columns: ['line', 'key', 'card_no', 'points', 'outcome', 'reason'] });
    const pages = book.results(req.params.feedId);
    void (async () => {
      try {
        for await (const page of pages) {
          for (const r of page) {
            if (!out.write([r.lineNo, r.key ?? '', r.cardNo ? maskPan(r.cardNo) : '', r.points ?? '', r.outcome, r.reason ?? ''])) {
              await new Promise((resolve) => out.once('drain', resolve));
            }
          }
        }
        out.end();
      } catch (err) {
        out.destroy(err as Error);
      }
    })();
    reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="accrual-feed-${req.params.feedId}-result.csv"`);
    return reply.send(out);
  });
};

class CsvLineError extends Error {}

/**
 * Parses and credits a CSV stream a chunk at a time; the parser waits while a chunk is credited. A line the parser
 * cannot read (a stray or unclosed quote) is a bad line with the parser's reason, and the feed goes on; only a bad
 * header stops it.
 */
async function creditCsv(book: AccrualBook, feedId: number, body: Readable, rule: EarningRule): Promise<void> {
  const parser = body.pipe(parse({
    columns: (h: string[]) => checkHeader(h), bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true,
    skip_records_with_error: true,
  }));
  body.on('error', (err) => parser.destroy(err));
  let good: AccrualLine[] = [];
  let bad: BadLine[] = [];
  parser.on('skip', (err: { lines?: number; message?: string }) => {
    bad.push({ lineNo: err.lines ?? 0, key: null, cardNo: null, reason: `unreadable CSV: ${err.message ?? 'malformed line'}` });
  });
  // One chunk in the ledger while the next is parsed: the parser and Postgres work side by side, and the parser
  // waits (so memory stays one chunk or two) only when the next chunk is ready before the last is credited.
  let inFlight: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    if (good.length + bad.length === 0) return;
    const [g, b] = [good, bad];
    good = [];
    bad = [];
    await inFlight;
    inFlight = book.credit(feedId, g, b);
    inFlight.catch(() => {});   // awaited below; never an unhandled rejection meanwhile
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; invalid_field_length: number } }>) {
      const lineNo = info.lines;
      const l = info.invalid_field_length > 0
        ? { lineNo, key: null, cardNo: null, reason: 'wrong number of columns' }
        : checkLine(record, lineNo, rule);
      if (isBad(l)) bad.push(l); else good.push(l);
      if (good.length + bad.length >= accrualChunkLines) await flush();
    }
  } catch (err) {
    await flush();
    await inFlight;
    const e = err as { code?: string; lines?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) throw new CsvLineError(`line ${e.lines ?? '?'}: ${e.message ?? e.code}`);
    throw err;
  }
  await flush();
  await inFlight;
}

const csvColumns = ['key', 'card_no', 'points', 'amount_fen', 'qualifying'];
function checkHeader(h: string[]): string[] {
  const names = h.map((x) => x.trim().toLowerCase());
  const unknown = names.filter((n) => !csvColumns.includes(n));
  if (unknown.length > 0 || !names.includes('key') || !names.includes('card_no')) {
    throw Object.assign(new Error(`the header must name key, card_no and points or amount_fen (and qualifying); got ${names.join(',')}`), { code: 'CSV_HEADER', lines: 1 });
  }
  return names;
}

const feedTrail = (f: FeedSummary) => ({
  feedId: f.feedId, source: f.source, name: f.name, state: f.state, lines: f.lines, credited: f.credited, alreadyCredited: f.alreadyCredited,
  conflicts: f.conflicts, badLines: f.badLines, unknownCards: f.unknownCards, pointsCredited: f.pointsCredited,
});
