// /transactions: find a transaction and read its whole story. Newest first, cursor-paged (`before` is the id of the
// last one of the previous page), filtered by card (the full number, asked; never answered), merchant, terminal, RRN,
// kind, state and business dates. Each filter has an index to go by (migration transaction-search); an RRN is
// the authorisation's id (ps_rrn), so it is a primary-key read.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { maskPan } from '../../protocol/mask.js';
import type { Pool } from '../db/pool.js';
import { HttpProblem } from './problem.js';

const kinds = ['purchase', 'void', 'refund'] as const;
const states = ['approved', 'declined', 'voided', 'reversed', 'partially_refunded', 'refunded', 'reversal_marker'] as const;
const day = z.iso.date().describe('a business date, YYYY-MM-DD (Asia/Shanghai)');

const Transaction = z.object({
  id: z.number().int().describe('the authorisation id'),
  kind: z.enum(kinds),
  state: z.enum(states),
  responseCode: z.string(),
  cardNo: z.string().describe('masked'),
  merchantId: z.string().nullable(),
  terminalId: z.string(),
  batchNo: z.string(),
  trace: z.string(),
  businessDate: z.string(),
  amountFen: z.number().int(),
  points: z.number().int(),
  pointsPerYuan: z.number().int().nullable(),
  rrn: z.string().nullable(),
  authCode: z.string().nullable(),
  originalId: z.number().int().nullable().describe('a void\'s or refund\'s purchase'),
  refundedFen: z.number().int(),
  refundedPoints: z.number().int(),
  createdAt: z.string(),
});
const Posting = z.object({
  txnId: z.number().int(),
  kind: z.string().describe('purchase, void, refund, reversal, credit, …'),
  forTransaction: z.number().int().describe('the authorisation it was booked for (a reversal: the one it reverses)'),
  memberPoints: z.number().int().describe('the member\'s side: negative a debit, positive a credit; the other side moves the opposite'),
  counterKind: z.string().describe('merchant (its per-card bucket), issuer_accrual or issuer_expiry'),
  merchantId: z.string().nullable(),
  bucket: z.number().int().nullable(),
  createdAt: z.string(),
});
const Query = z.strictObject({
  cardNo: z.string().regex(/^\d{12,19}$/, { message: 'must be 12 to 19 digits' }).optional(),
  merchantId: z.string().regex(/^\d{15}$/, { message: 'must be 15 digits' }).optional(),
  terminalId: z.string().regex(/^[0-9A-Za-z]{8}$/, { message: 'must be 8 characters' }).optional(),
  rrn: z.string().regex(/^\d{12}$/, { message: 'must be 12 digits' }).optional(),
  kind: z.enum(kinds).optional(),
  state: z.enum(states).optional(),
  from: day.optional().describe('first business date, inclusive'),
  to: day.optional().describe('last business date, inclusive'),
  before: z.coerce.number().int().min(1).optional().describe('cursor: the id of the last transaction of the previous page'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const Params = z.object({ id: z.coerce.number().int().min(1) });

type Row = {
  auth_id: string; kind: (typeof kinds)[number]; state: (typeof states)[number]; response_code: string; card_no: string; merchant_id: string | null;
  terminal_id: string; batch_no: string; trace: string; business_date: string; amount_fen: string; points: string; points_per_yuan: number | null;
  rrn: string | null; auth_code: string | null; original_auth_id: string | null; refunded_fen: string; refunded_points: string; created_at: Date;
};
const columns = `auth_id, kind, state, response_code, card_no, merchant_id, terminal_id, batch_no, trace, business_date, amount_fen,
  points, points_per_yuan, rrn, auth_code, original_auth_id, refunded_fen, refunded_points, created_at`;
const num = (v: string | null) => (v === null ? null : Number(v));
const toApi = (r: Row): z.infer<typeof Transaction> => ({
  id: Number(r.auth_id), kind: r.kind, state: r.state, responseCode: r.response_code, cardNo: maskPan(r.card_no), merchantId: r.merchant_id,
  terminalId: r.terminal_id, batchNo: r.batch_no, trace: r.trace, businessDate: r.business_date, amountFen: Number(r.amount_fen),
  points: Number(r.points), pointsPerYuan: r.points_per_yuan, rrn: r.rrn, authCode: r.auth_code, originalId: num(r.original_auth_id),
  refundedFen: Number(r.refunded_fen), refundedPoints: Number(r.refunded_points), createdAt: r.created_at.toISOString(),
});

export const transactionsPlugin: FastifyPluginAsyncZod<{ pool: Pool }> = async (app, { pool }) => {
  const tags = ['transactions'];
  const config = { access: { roles: ['operator', 'clearing'] as const } };

  app.get('/', {
    config,
    schema: { tags, summary: 'Find transactions, newest first', querystring: Query, response: { 200: z.object({ transactions: z.array(Transaction), next: z.number().int().nullable() }) } },
  }, async (req) => {
    const q = req.query;
    if (q.from && q.to && q.from > q.to) throw new HttpProblem(400, 'Invalid request', 'querystring.to: before querystring.from');
    // An RRN is its authorisation's id (ps_rrn): the search becomes a read by primary key.
    const rrnId = q.rrn === undefined ? null : Number(q.rrn);
    // By dates alone, read the days' blocks (the BRIN index) and sort them: walking the primary key down from the
    // newest row would read every later day first. `auth_id + 0` keeps the planner off that walk.
    const byDatesAlone = (q.from !== undefined || q.to !== undefined) && !q.cardNo && !q.merchantId && !q.terminalId && !q.rrn;
    const order = byDatesAlone ? 'auth_id + 0' : 'auth_id';
    const { rows } = await pool.query<Row>(
      `SELECT ${columns} FROM authorisations
       WHERE ($1::text IS NULL OR card_no = $1) AND ($2::text IS NULL OR merchant_id = $2) AND ($3::text IS NULL OR terminal_id = $3)
         AND ($4::bigint IS NULL OR (auth_id = $4 AND rrn = $5)) AND ($6::text IS NULL OR kind = $6) AND ($7::text IS NULL OR state = $7)
         AND ($8::date IS NULL OR business_date >= $8) AND ($9::date IS NULL OR business_date <= $9) AND ($10::bigint IS NULL OR auth_id < $10)
       ORDER BY ${order} DESC LIMIT $11`,
      [q.cardNo ?? null, q.merchantId ?? null, q.terminalId ?? null, rrnId, q.rrn ?? null, q.kind ?? null, q.state ?? null,
        q.from ?? null, q.to ?? null, q.before ?? null, q.limit]);
    const transactions = rows.map(toApi);
    return { transactions, next: transactions.length === q.limit ? transactions[transactions.length - 1]!.id : null };
  });

  app.get('/:id', {
    config,
    schema: {
      tags, summary: 'One transaction with its whole history: its original, its voids, refunds and reversal, and the ledger rows of each',
      params: Params,
      response: { 200: z.object({ transaction: Transaction, original: Transaction.nullable(), related: z.array(Transaction), reversed: z.boolean(), postings: z.array(Posting) }) },
    },
  }, async (req) => {
    const { rows } = await pool.query<Row>(`SELECT ${columns} FROM authorisations WHERE auth_id = $1`, [req.params.id]);
    if (!rows[0]) throw new HttpProblem(404, 'Not Found', `id: no transaction ${req.params.id}`);
    const t = rows[0];
    const original = t.original_auth_id === null ? null
      : (await pool.query<Row>(`SELECT ${columns} FROM authorisations WHERE auth_id = $1`, [t.original_auth_id])).rows[0] ?? null;
    // The purchase this story is about, and everything booked against it.
    const root = original ?? t;
    const related = (await pool.query<Row>(
      `SELECT ${columns} FROM authorisations WHERE original_auth_id = $1 ORDER BY auth_id`, [root.auth_id])).rows;
    const ids = [root.auth_id, ...related.map((r) => r.auth_id)];
    const postings = (await pool.query<{ txn_id: string; kind: string; auth_id: string; member_points: string; counter_kind: string; merchant_id: string | null; bucket: number | null; created_at: Date }>(
      'SELECT txn_id, kind, auth_id, member_points, counter_kind, merchant_id, bucket, created_at FROM ledger_txns WHERE auth_id = ANY ($1::bigint[]) ORDER BY txn_id',
      [ids])).rows;
    return {
      transaction: toApi(t),
      original: original ? toApi(original) : null,
      related: related.filter((r) => r.auth_id !== t.auth_id).map(toApi),
      reversed: t.state === 'reversed',
      postings: postings.map((p) => ({
        txnId: Number(p.txn_id), kind: p.kind, forTransaction: Number(p.auth_id), memberPoints: Number(p.member_points), counterKind: p.counter_kind,
        merchantId: p.merchant_id, bucket: p.bucket, createdAt: p.created_at.toISOString(),
      })),
    };
  });
};
